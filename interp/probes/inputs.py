"""What a probe reads from an evaluated run: its complete pairs, their prompts, token ids and object positions.

The questions are the run's own (``--from-results``: no second scoring pass), in pairs: row ``2k`` is
pair ``k``'s true question and ``2k + 1`` its false twin. ``groups`` is the *fact* of every row: the
dataset's ``fact_id`` where it has one (the ``paraphrase`` config asks one fact in several wordings, one
pair each), else the pair; folds split by it, so no wording of a fact is tested while another one was
trained on, and intervals resample facts. Prompts are built as the evaluator built them
(:func:`fk_bench.prompts.build_prompt`, the run's format and few-shot examples) and tokenized as interp
tokenizes them (:func:`fk_bench.prompts.encode_batch`, BOS as lm-eval's HFLM adds it): the last
position is where the answer word is read. The object's last token comes from the tokenizer's
character offsets and the object's span in the question (:func:`interp.core.corruption.question_spans`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from fk_bench.errors import FkBenchError
from fk_bench.prompt_formats import build_prompt
from fk_bench.prompts import encode_batch
from interp.core.corruption import question_spans
from interp.core.studied_pairs import pair_rows

MIN_PAIRS = 2
"""Fewest pairs a probe is fitted on: grouped cross-validation needs two groups."""


@dataclass
class ProbeInputs:
    """The questions a probe reads, in pair order (true, false, true, false, ...)."""

    rows: np.ndarray  # the run's row of each question
    labels: np.ndarray  # bool: the question's answer
    groups: np.ndarray  # the fact index of each question (fact_id, else the pair)
    pair_ids: list[str]
    relations: list[str]
    domains: list[str]
    questions: list[str]
    prompts: list[str]
    tokens: list[list[int]]
    object_positions: np.ndarray  # the object's last token in the prompt (the last position where it is not found)
    output_log_odds: np.ndarray  # log(p_True / p_False) of the run, per question
    n_object_missing: int
    n_unpaired: int

    @property
    def n_pairs(self) -> int:
        return len(self.pair_ids)

    @property
    def pair_facts(self) -> np.ndarray:
        """The fact index of every pair."""
        return self.groups[0::2]

    def __len__(self) -> int:
        return len(self.rows)


def _column(table: pd.DataFrame, name: str) -> list[Any]:
    return table[name].tolist() if name in table.columns else [None] * len(table)


def _text(value: Any, default: str = "") -> str:
    return value if isinstance(value, str) and value else default


def fact_index(fact_ids: Sequence[Any], pair_ids: Sequence[str]) -> np.ndarray:
    """0..n_facts-1 per pair: pairs of one ``fact_id`` share an index; a pair without one is a fact of its own."""
    from fk_bench.pair_index import is_id

    keys = [("fact", f) if is_id(f) else ("pair", p) for f, p in zip(fact_ids, pair_ids)]
    return np.unique(np.array([repr(k) for k in keys]), return_inverse=True)[1].astype(np.int64)


def select_questions(table: pd.DataFrame, relation: str | None, where: str) -> pd.DataFrame:
    """The run's questions of ``relation`` (every one for None or ``all``); an unknown relation is refused by name."""
    if relation in (None, "all"):
        return table
    known = sorted({r for r in _column(table, "relation") if isinstance(r, str) and r})
    if relation not in known:
        raise FkBenchError(f"{where}: --relation {relation!r} is not in the run (its relations: {', '.join(known) or 'none'})")
    return table[table["relation"] == relation]


def object_last_tokens(
    prompts: Sequence[str],
    spans: Sequence[Sequence[tuple[int, int]]],
    questions: Sequence[str],
    subjects: Sequence[object],
    objects: Sequence[object],
    twins: Sequence[object],
) -> np.ndarray:
    """The last token overlapping the object in each prompt (-1 where the object is not found)."""
    positions = np.full(len(prompts), -1, dtype=np.int64)
    for i, (prompt, question) in enumerate(zip(prompts, questions)):
        at = prompt.rfind(question)
        _, span = question_spans(question, _text(subjects[i]) or None, _text(objects[i]) or None, _text(twins[i]) or None)
        if at < 0 or span is None:
            continue
        begin, end = span[0] + at, span[1] + at
        inside = [t for t, (a, b) in enumerate(spans[i]) if b > a and a < end and begin < b]
        if inside:
            positions[i] = inside[-1]
    return positions


def checked_pairs(table: pd.DataFrame, where: str) -> list[tuple[int, int, str]]:
    """The complete pairs of ``table`` (:func:`interp.core.studied_pairs.pair_rows`), refused by name when a
    probe cannot be fitted on them (no questions, one class only, fewer than :data:`MIN_PAIRS` pairs)."""
    if table.empty:
        raise FkBenchError(f"{where}: no questions to probe")
    labels_all = table["answer"].to_numpy(dtype=bool)
    if labels_all.all() or not labels_all.any():
        only = "true" if labels_all.all() else "false"
        raise FkBenchError(f"{where}: every question is {only}; a truth probe needs true and false questions (in pairs)")
    pairs = pair_rows(table.reset_index(drop=True))
    if len(pairs) < MIN_PAIRS:
        raise FkBenchError(f"{where}: {len(pairs)} complete pair(s) (a true question and its false twin); a probe needs at least {MIN_PAIRS}")
    return pairs


def probe_inputs(table: pd.DataFrame, tokenizer: Any, prompt_format: str, examples: Sequence[dict[str, Any]], where: str) -> ProbeInputs:
    """The complete pairs of ``table`` (a run's per-question table, or a relation's slice of it) as :class:`ProbeInputs`."""
    pairs = checked_pairs(table, where)
    table = table.reset_index(drop=True)
    rows = np.array([row for true_row, false_row, _ in pairs for row in (true_row, false_row)], dtype=np.int64)
    sub = table.iloc[rows].reset_index(drop=True)
    questions = sub["question"].astype(str).tolist()
    prompts = [build_prompt(q, prompt_format, tokenizer, examples) for q in questions]
    tokens, spans = encode_batch(tokenizer, prompts, offsets=True)
    twins = [questions[i + 1 if i % 2 == 0 else i - 1] for i in range(len(questions))]
    if spans is None:
        objects = np.full(len(prompts), -1, dtype=np.int64)
    else:
        objects = object_last_tokens(prompts, spans, questions, _column(sub, "subject"), _column(sub, "object"), twins)
    lengths = np.array([len(t) for t in tokens], dtype=np.int64)
    missing = int((objects < 0).sum())
    objects = np.where(objects < 0, lengths - 1, objects)
    return ProbeInputs(
        rows=rows,
        labels=sub["answer"].to_numpy(dtype=bool),
        groups=np.repeat(fact_index(_column(sub, "fact_id")[0::2], [pair_id for _, _, pair_id in pairs]), 2),
        pair_ids=[pair_id for _, _, pair_id in pairs],
        relations=[_text(r, "(none)") for r in _column(sub, "relation")],
        domains=[_text(d, "(none)") for d in _column(sub, "domain")],
        questions=questions,
        prompts=prompts,
        tokens=[list(t) for t in tokens],
        object_positions=objects,
        output_log_odds=sub["true_log_odds"].to_numpy(dtype=np.float64),
        n_object_missing=missing,
        n_unpaired=len(table) - len(rows),
    )
