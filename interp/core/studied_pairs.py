"""The pairs a report studies: a true question the model gets right against its corrupted twin.

A pair is a true question and the false question made from it by swapping the object (the
dataset's ``pair_id``; for data without one, a true row whose ``corrupted_question`` is another
row's question). A row whose ``corrupted_question`` is no row of the data (the notebook's Paris
questions) is paired with that question, its twin of the opposite label, scored for the report
with the evaluator's own scorer. The model gets the pair right by ``margin`` nats when the true
question's log(p_True / p_False) exceeds the false one's by at least that much. Clean run = the true
question, corrupted run = the false one, both in the prompt format the evaluator used
(:func:`fk_bench.prompts.build_prompt`, the same few-shot examples), tokenized once here.

Under ``twin`` corruption a pair whose two prompts tokenize to different lengths is kept when
``keep_length_mismatch`` says so (its positions are aligned by role, :mod:`interp.core.corruption`) and
skipped otherwise; under ``noise`` corruption the corrupted run is the clean prompt with noise on its
embeddings, so no pair is skipped for its twin's tokens. Every skipped pair is counted.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from fk_bench.pairs import PairIndex
from fk_bench.prompts import build_prompt, encode


def shared_prefix_length(clean: Sequence[int], corrupted: Sequence[int]) -> int:
    """Positions before the first token where two token sequences differ (the shorter length if none does)."""
    for position, (a, b) in enumerate(zip(clean, corrupted)):
        if a != b:
            return position
    return min(len(clean), len(corrupted))


@dataclass(frozen=True)
class Pair:
    """One clean (true) / corrupted (twin) pair, its prompts and tokens."""

    pair_id: str
    clean_id: str
    corrupted_id: str
    clean_question: str
    corrupted_question: str
    margin: float  # the true question's log(p_T/p_F) minus the twin's, from the evaluator (nats)
    clean_prompt: str
    corrupted_prompt: str
    clean_tokens: tuple[int, ...]
    corrupted_tokens: tuple[int, ...]
    relation: str | None = None
    subject: str | None = None  # the clean question's subject and object (the dataset's columns), for token roles
    object: str | None = None
    corrupted_object: str | None = None  # the twin's object (what the twin swapped in)

    @property
    def n_tokens(self) -> int:
        return len(self.clean_tokens)

    @property
    def same_length(self) -> bool:
        """Whether the twin's prompt has as many tokens as the clean one (position-by-position patching applies)."""
        return len(self.clean_tokens) == len(self.corrupted_tokens)

    @property
    def shared_prefix(self) -> int:
        """Positions before the first token where the prompts differ: identical in both runs, never patched."""
        return shared_prefix_length(self.clean_tokens, self.corrupted_tokens)

    def to_json(self) -> dict:
        return {
            "pair_id": self.pair_id,
            "clean_id": self.clean_id,
            "corrupted_id": self.corrupted_id,
            "clean_question": self.clean_question,
            "corrupted_question": self.corrupted_question,
            "eval_margin": self.margin,
            "n_tokens": self.n_tokens,
            "n_corrupted_tokens": len(self.corrupted_tokens),
            "shared_prefix": self.shared_prefix,
            "relation": self.relation,
            "subject": self.subject,
            "object": self.object,
            "corrupted_object": self.corrupted_object,
        }


@dataclass
class PairSelection:
    """Which pairs a report studies and why the others are not studied (every count is shown)."""

    margin: float
    max_pairs: int | None
    n_pairs: int  # pairs: complete ones in the data, and rows paired with a corrupted question that is no row
    n_right: int  # of those, the model gets right by at least ``margin``
    n_twins_scored: int = 0  # corrupted questions that are no row of the data, scored for the report
    pairs: list[Pair] = field(default_factory=list)
    length_mismatch: list[dict] = field(default_factory=list)  # right pairs skipped: their prompts differ in token length
    no_difference: list[str] = field(default_factory=list)  # pairs skipped: their prompts tokenize identically
    aligned_by_role: list[str] = field(default_factory=list)  # pairs of different token lengths kept, their positions aligned by role

    @property
    def n_skipped(self) -> int:
        """Pairs the model gets right (within ``max_pairs``) that are not studied."""
        return len(self.length_mismatch) + len(self.no_difference)

    def to_json(self) -> dict:
        return {
            "pair_margin": self.margin,
            "max_pairs": self.max_pairs,
            "n_pairs_in_data": self.n_pairs,
            "n_twins_scored_for_the_report": self.n_twins_scored,
            "n_right_by_margin": self.n_right,
            "n_studied": len(self.pairs),
            "n_skipped": self.n_skipped,
            "skipped_length_mismatch": self.length_mismatch,
            "skipped_identical_tokens": self.no_difference,
            "aligned_by_role": self.aligned_by_role,
            "pairs": [pair.to_json() for pair in self.pairs],
        }


def _has_text(value: Any) -> bool:
    return isinstance(value, str) and bool(value)


def pair_rows(table: pd.DataFrame) -> list[tuple[int, int, str]]:
    """(true row, false row, pair id) of every complete pair of an evaluated table, in data order: the
    loader's pairs (:class:`fk_bench.pairs.PairIndex` over the ``pair_id`` column, which the loader fills
    from ``corrupted_question`` for data without pair ids)."""
    index = PairIndex.from_ids(table["pair_id"].tolist(), table["answer"].to_numpy(dtype=bool))
    return sorted(zip(index.true_rows.tolist(), index.false_rows.tolist(), index.ids))


def true_log_odds(table: pd.DataFrame) -> np.ndarray:
    """log(p_True / p_False) per row, as the evaluator recorded it (``true_log_odds``)."""
    return table["true_log_odds"].to_numpy(dtype=np.float64)


def unpaired_twins(table: pd.DataFrame, paired: set[int]) -> list[tuple[int, str]]:
    """(row, corrupted question) of the rows outside ``paired`` whose corrupted question is no row's question."""
    questions = set(table["question"])
    return [
        (index, corrupted)
        for index, corrupted in enumerate(table["corrupted_question"])
        if index not in paired and _has_text(corrupted) and corrupted not in questions
    ]


Scorer = Callable[[Sequence[str]], np.ndarray]
"""Prompts -> log(p_True / p_False) of each, as the evaluator scores them."""


def _candidates(table: pd.DataFrame, prompt: Callable[[str], str], score: Scorer | None) -> tuple[list[tuple[Any, ...]], int]:
    """Every pair of ``table`` in data order, as (data row, pair id, (id, question, log-odds) of the true side, of the
    false side): the complete pairs, and the questions with a corrupted twin (scored by ``score``, when given)."""
    t_vs_f = true_log_odds(table)
    ids, questions, labels = table["id"].astype(str).tolist(), table["question"].astype(str).tolist(), table["answer"].to_numpy(dtype=bool)
    candidates: list[tuple[Any, ...]] = []
    complete = pair_rows(table)
    for true_row, false_row, pair_id in complete:
        candidates.append(
            (true_row, pair_id, (ids[true_row], questions[true_row], t_vs_f[true_row]), (ids[false_row], questions[false_row], t_vs_f[false_row]))
        )
    twins = unpaired_twins(table, {row for pair in complete for row in pair[:2]}) if score is not None else []
    if twins and score is not None:
        twin_t_vs_f = np.asarray(score([prompt(question) for _, question in twins]), dtype=np.float64)
        for (row, question), value in zip(twins, twin_t_vs_f):
            own, other = (ids[row], questions[row], t_vs_f[row]), (f"{ids[row]}:corrupted", question, float(value))
            candidates.append((row, ids[row], *((own, other) if labels[row] else (other, own))))
    candidates.sort(key=lambda candidate: candidate[0])
    return candidates, len(twins)


def select_pairs(
    table: pd.DataFrame,
    tokenizer: Any,
    prompt_format: str,
    examples: Sequence[dict],
    margin: float,
    max_pairs: int | None = None,
    score: Scorer | None = None,
    corruption: str = "twin",
    keep_length_mismatch: bool = False,
) -> PairSelection:
    """The first ``max_pairs`` pairs, in data order, that the model gets right by ``margin``.

    Under ``corruption="twin"`` a pair whose clean and corrupted prompts differ in token length is kept
    (listed in ``aligned_by_role``) when ``keep_length_mismatch``, else skipped and counted with its
    lengths; a pair whose prompts tokenize identically is skipped. Under ``"noise"`` no pair is skipped.
    ``score`` scores the corrupted questions that are no row of the data; without it only complete pairs count.
    """
    if corruption not in ("twin", "noise"):
        raise ValueError(f"corruption {corruption!r}: 'twin' or 'noise'")
    prompt = lambda question: build_prompt(question, prompt_format, tokenizer, examples)
    column = lambda name: table[name].tolist() if name in table.columns else [None] * len(table)
    relations, subjects, objects = column("relation"), column("subject"), column("object")
    ids = table["id"].astype(str).tolist()
    candidates, n_twins = _candidates(table, prompt, score)
    selection = PairSelection(margin=margin, max_pairs=max_pairs, n_pairs=len(candidates), n_right=0, n_twins_scored=n_twins)
    row_of = {identifier: row for row, identifier in enumerate(ids)}
    at = lambda values, row: None if row is None or not _has_text(values[row]) else values[row]
    for _, pair_id, (clean_id, clean_q, clean_value), (corrupted_id, corrupted_q, corrupted_value) in candidates:
        gap = float(clean_value - corrupted_value)
        if gap < margin:
            continue
        selection.n_right += 1
        if max_pairs is not None and len(selection.pairs) >= max_pairs:
            continue
        clean_prompt, corrupted_prompt = prompt(clean_q), prompt(corrupted_q)
        clean_tokens, corrupted_tokens = tuple(encode(tokenizer, clean_prompt)), tuple(encode(tokenizer, corrupted_prompt))
        if corruption == "twin" and len(clean_tokens) != len(corrupted_tokens):
            if not keep_length_mismatch:
                selection.length_mismatch.append({"pair_id": pair_id, "clean_tokens": len(clean_tokens), "corrupted_tokens": len(corrupted_tokens)})
                continue
            selection.aligned_by_role.append(pair_id)
        if corruption == "twin" and clean_tokens == corrupted_tokens:
            selection.no_difference.append(pair_id)
            continue
        clean_row, twin = row_of.get(clean_id), row_of.get(corrupted_id)
        texts = (clean_q, corrupted_q, gap, clean_prompt, corrupted_prompt, clean_tokens, corrupted_tokens)
        meta = (at(relations, clean_row), at(subjects, clean_row), at(objects, clean_row), at(objects, twin))
        selection.pairs.append(Pair(pair_id, clean_id, corrupted_id, *texts, *meta))
    return selection
