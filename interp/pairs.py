"""The pairs a report studies: a true question the model gets right against its corrupted twin.

A pair is a true question and the false question made from it by swapping the object (the
dataset's ``pair_id``; for data without one, a true row whose ``corrupted_question`` is another
row's question). A row whose ``corrupted_question`` is no row of the data (the notebook's Paris
questions) is paired with that question, its twin of the opposite label, scored for the report
with the evaluator's own scorer. The model gets the pair right by ``margin`` nats when the true
question's log(p_True / p_False) exceeds the false one's by at least that much. Clean run = the true
question, corrupted run = the false one, both in the prompt format the evaluator used
(:func:`fk_bench.prompts.build_prompt`, the same few-shot examples), tokenized once here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

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

    @property
    def n_tokens(self) -> int:
        return len(self.clean_tokens)

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
            "shared_prefix": self.shared_prefix,
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
    length_mismatch: list[dict] = field(default_factory=list)  # right pairs whose prompts differ in token length
    no_difference: list[str] = field(default_factory=list)  # pairs whose prompts tokenize identically

    def to_json(self) -> dict:
        return {
            "pair_margin": self.margin,
            "max_pairs": self.max_pairs,
            "n_pairs_in_data": self.n_pairs,
            "n_twins_scored_for_the_report": self.n_twins_scored,
            "n_right_by_margin": self.n_right,
            "n_studied": len(self.pairs),
            "skipped_length_mismatch": self.length_mismatch,
            "skipped_identical_tokens": self.no_difference,
            "pairs": [pair.to_json() for pair in self.pairs],
        }


def _has_text(value: Any) -> bool:
    return isinstance(value, str) and bool(value)


def pair_rows(table: pd.DataFrame) -> list[tuple[int, int, str]]:
    """(true row, false row, pair id) of every complete pair in an evaluated table, in data order.

    Uses the ``pair_id`` column where the table has one; otherwise a true row whose
    ``corrupted_question`` is another (false) row's question.
    """
    labels = table["answer"].to_numpy(dtype=bool)
    found: list[tuple[int, int, str]] = []
    if "pair_id" in table.columns and table["pair_id"].map(_has_text).any():
        members: dict[str, list[int]] = {}
        for index, pair_id in enumerate(table["pair_id"]):
            if _has_text(pair_id):
                members.setdefault(pair_id, []).append(index)
        for pair_id, rows in members.items():
            if len(rows) == 2 and labels[rows[0]] != labels[rows[1]]:
                true_row, false_row = rows if labels[rows[0]] else rows[::-1]
                found.append((true_row, false_row, pair_id))
        return sorted(found)
    false_rows = {question: index for index, (question, label) in enumerate(zip(table["question"], labels)) if not label}
    for index, (corrupted, label) in enumerate(zip(table["corrupted_question"], labels)):
        if label and _has_text(corrupted) and corrupted in false_rows:
            found.append((index, false_rows[corrupted], str(table["id"].iloc[index])))
    return found


def true_log_odds(table: pd.DataFrame) -> np.ndarray:
    """log(p_True / p_False) per row from the evaluator's signed log_odds (positive = the correct answer)."""
    log_odds = table["log_odds"].to_numpy(dtype=np.float64)
    return np.where(table["answer"].to_numpy(dtype=bool), log_odds, -log_odds)


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


def select_pairs(
    table: pd.DataFrame,
    tokenizer: Any,
    prompt_format: str,
    examples: Sequence[dict],
    margin: float,
    max_pairs: int | None = None,
    score: Scorer | None = None,
) -> PairSelection:
    """The first ``max_pairs`` pairs, in data order, that the model gets right by ``margin`` and whose
    clean and corrupted prompts have the same token length (the others are counted, with their lengths).

    ``score`` scores the corrupted questions that are no row of the data; without it only complete pairs count.
    """
    prompt = lambda question: build_prompt(question, prompt_format, tokenizer, examples)
    t_vs_f = true_log_odds(table)
    ids, questions, labels = table["id"].astype(str).tolist(), table["question"].astype(str).tolist(), table["answer"].to_numpy(dtype=bool)
    # Each candidate: (data row, pair id, (id, question, log-odds) of the true side, of the false side).
    candidates = []
    complete = pair_rows(table)
    for true_row, false_row, pair_id in complete:
        candidates.append(
            (true_row, pair_id, (ids[true_row], questions[true_row], t_vs_f[true_row]), (ids[false_row], questions[false_row], t_vs_f[false_row]))
        )
    twins = unpaired_twins(table, {row for pair in complete for row in pair[:2]}) if score is not None else []
    if twins:
        twin_t_vs_f = np.asarray(score([prompt(question) for _, question in twins]), dtype=np.float64)
        for (row, question), value in zip(twins, twin_t_vs_f):
            own, twin = (ids[row], questions[row], t_vs_f[row]), (f"{ids[row]}:corrupted", question, float(value))
            candidates.append((row, ids[row], *((own, twin) if labels[row] else (twin, own))))
    candidates.sort(key=lambda candidate: candidate[0])
    selection = PairSelection(margin=margin, max_pairs=max_pairs, n_pairs=len(candidates), n_right=0, n_twins_scored=len(twins))
    for _, pair_id, (clean_id, clean_q, clean_value), (corrupted_id, corrupted_q, corrupted_value) in candidates:
        gap = float(clean_value - corrupted_value)
        if gap < margin:
            continue
        selection.n_right += 1
        if max_pairs is not None and len(selection.pairs) >= max_pairs:
            continue
        clean_prompt, corrupted_prompt = prompt(clean_q), prompt(corrupted_q)
        clean_tokens, corrupted_tokens = tuple(encode(tokenizer, clean_prompt)), tuple(encode(tokenizer, corrupted_prompt))
        if len(clean_tokens) != len(corrupted_tokens):
            selection.length_mismatch.append({"pair_id": pair_id, "clean_tokens": len(clean_tokens), "corrupted_tokens": len(corrupted_tokens)})
            continue
        if clean_tokens == corrupted_tokens:
            selection.no_difference.append(pair_id)
            continue
        selection.pairs.append(
            Pair(pair_id, clean_id, corrupted_id, clean_q, corrupted_q, gap, clean_prompt, corrupted_prompt, clean_tokens, corrupted_tokens)
        )
    return selection
