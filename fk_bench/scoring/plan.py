"""What each question's forward row holds: its tokens, the layout of its answer words after them, the
prefix every row shares, and the groups of rows of one shape (see :mod:`fk_bench.scoring`)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fk_bench.errors import FkBenchError
from fk_bench.prompts import encode_continuations, split_context


@dataclass
class Layout:
    """What follows a question's context, shared by every question whose continuations encode alike.

    ``shared`` ends the question's base (tokens every continuation starts with); each continuation's
    ``remainder`` follows it. A row appends ``lead`` (every split word's tokens but its last), each
    lead token in the ``segment`` of its word at position base length + ``offset`` (each word's tokens
    continue the question: a tree); ``targets`` are (column, kept index, token) for every scored token,
    kept index 0 being the base's last position and 1.. the lead tokens.
    """

    shared: list[int]
    remainders: list[list[int]]
    lead: list[int] = field(default_factory=list)
    segment: list[int] = field(default_factory=list)
    offset: list[int] = field(default_factory=list)
    targets: list[tuple[int, int, int]] = field(default_factory=list)

    @classmethod
    def of(cls, continuations: Sequence[Sequence[int]]) -> Layout:
        shared = _common_prefix_length(continuations)
        layout = cls(list(continuations[0][:shared]), [list(c[shared:]) for c in continuations])
        for column, remainder in enumerate(layout.remainders):
            if not remainder:
                continue
            layout.targets.append((column, 0, remainder[0]))  # first token: read at the base's last position
            for t, token in enumerate(remainder[1:]):
                layout.targets.append((column, 1 + len(layout.lead) + t, token))
            layout.segment += [len(layout.lead)] * (len(remainder) - 1)  # any id unique to this word, >= 0
            layout.offset += range(len(remainder) - 1)
            layout.lead += remainder[:-1]
        return layout


@dataclass
class Plan:
    """One question's tokens: the base every continuation starts with (context + layout.shared), and its layout."""

    base: list[int]
    layout: int  # index into the layouts of this run


def _common_prefix_length(sequences: Sequence[Sequence[int]]) -> int:
    shortest = min(len(s) for s in sequences)
    for i in range(shortest):
        if len({s[i] for s in sequences}) > 1:
            return i
    return shortest


def question_namer(names: Sequence[Any] | None, n: int) -> Callable[[int], str]:
    if names is None:
        return str
    if len(names) != n:
        raise ValueError(f"{len(names)} names for {n} prompts")
    return lambda i: str(names[i])


def plan_prompts(
    tokenizer: Any, prompts: Sequence[str], words: Sequence[str], names: Sequence[Any] | None = None
) -> tuple[list[Plan], list[Layout], list[list[int]]]:
    """Each prompt's plan, the distinct layouts, and each prompt's context ids, as HFLM encodes them:
    the context, then ``context + delimiter + word`` for the bare delimiter (column 0, see
    metrics.relative_to_delimiter) and each word, minus the context's tokens."""
    name = question_namer(names, len(prompts))
    for i, prompt in enumerate(prompts):
        if not split_context(prompt)[0]:
            raise FkBenchError(f"question {name(i)}: the prompt is empty")
    contexts, continuations = encode_continuations(tokenizer, prompts, ("", *words))
    layouts: list[Layout] = []
    index: dict[tuple[tuple[int, ...], ...], int] = {}
    plans = []
    for i, (context, continuation) in enumerate(zip(contexts, continuations)):
        if continuation not in index:
            for word, tokens in zip(words, continuation[1:]):
                if not tokens:
                    raise FkBenchError(f"answer word {word!r} encodes to no tokens after question {name(i)}")
            index[continuation] = len(layouts)
            layouts.append(Layout.of(continuation))
        layout = index[continuation]
        plans.append(Plan(context + layouts[layout].shared, layout))
    return plans, layouts, contexts


def shared_prefix(bases: Sequence[Sequence[int]]) -> tuple[list[int], list[bool]]:
    """The token prefix that saves the most tokens when run once, and which sequences start with it.

    Walks down the token trie along the most common next token, scoring each depth by the tokens it
    saves, ``length x (sequences sharing it - 1)``; a sequence that leaves the path runs without the
    prefix. Every sequence keeps at least one token after the prefix (its last position is scored).
    Even plain prompts gain: most share "<bos>Is" (BENCHMARKS.md, evaluator section).
    """
    alive = list(range(len(bases)))
    prefix: list[int] = []
    best_saved, best_length = 0, 0
    while alive:
        depth = len(prefix)
        counts = Counter(bases[i][depth] for i in alive if len(bases[i]) > depth + 1)
        if not counts:
            break
        token, count = counts.most_common(1)[0]
        alive = [i for i in alive if len(bases[i]) > depth + 1 and bases[i][depth] == token]
        prefix.append(token)
        if len(prefix) * (count - 1) > best_saved:
            best_saved, best_length = len(prefix) * (count - 1), len(prefix)
    prefix = prefix[:best_length]
    return prefix, [bool(prefix) and list(base[:best_length]) == prefix for base in bases]


@dataclass
class Group:
    """Questions whose rows have one shape: the same start (after the prefix or not), base length and
    layout, hence the same positions, mask and targets. ``tokens`` holds their rows, one per question."""

    with_prefix: bool
    layout: Layout
    positions: list[int]
    questions: np.ndarray
    tokens: np.ndarray

    @property
    def keep(self) -> int:
        """Positions scored at the end of each row: the base's last token and the lead tokens."""
        return len(self.layout.lead) + 1


def group_rows(plans: Sequence[Plan], layouts: Sequence[Layout], prefix_length: int, starts_with: Sequence[bool]) -> list[Group]:
    members: dict[tuple[bool, int, int], list[int]] = {}
    for i, plan in enumerate(plans):
        members.setdefault((starts_with[i], len(plan.base), plan.layout), []).append(i)
    groups = []
    for (with_prefix, base_length, layout), questions in sorted(members.items()):
        start = prefix_length if with_prefix else 0
        lead = layouts[layout].lead
        tokens = np.array([plans[i].base[start:] + lead for i in questions], dtype=np.int64)
        positions = list(range(start, base_length)) + [base_length + offset for offset in layouts[layout].offset]
        groups.append(Group(with_prefix, layouts[layout], positions, np.array(questions), tokens))
    return groups
