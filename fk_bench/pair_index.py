"""Pairs and facts: which questions are compared with which, grouped once.

A *pair* is a true question and its corrupted twin (the same fact with the object swapped, so false):
both share a ``pair_id``. ``paired_accuracy`` compares the two, interp studies the true one against
the twin, the zoo slice keeps pairs whole. A *fact* is one pair asked in several wordings (the
dataset's ``paraphrase`` config): its questions share a ``fact_id``, and ``consistency`` asks whether
the verdicts agree across the wordings.

:class:`PairIndex` is built once, when the questions are loaded (:func:`fk_bench.data.load_questions`),
and carried with them; every reader of pairs uses it instead of grouping pair ids again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


def is_id(value: Any) -> bool:
    """Whether ``value`` names a group: None, NaN and "" mean "no pair" (or "no fact")."""
    return value is not None and value == value and value != ""


@dataclass(frozen=True)
class PairIndex:
    """The complete pairs of a table of questions: the true question's row, the false one's, and the pair id.

    A pair id on one row only (its twin is not in this slice of the data) is no pair here.
    """

    true_rows: np.ndarray
    false_rows: np.ndarray
    ids: tuple[str, ...]

    @classmethod
    def from_ids(cls, pair_ids: Sequence[Any], labels: Sequence[bool] | np.ndarray) -> PairIndex:
        """Group rows by pair id. Raises ValueError for a pair id on more than two rows or on two rows of one
        label (the loader reports such data with the rows' locations before it gets here)."""
        labels = np.asarray(labels, dtype=bool)
        members: dict[Any, list[int]] = {}
        for row, pair_id in enumerate(pair_ids):
            if is_id(pair_id):
                members.setdefault(pair_id, []).append(row)
        true_rows, false_rows, ids = [], [], []
        for pair_id, rows in members.items():
            if len(rows) == 1:
                continue
            if len(rows) != 2 or labels[rows[0]] == labels[rows[1]]:
                raise ValueError(f"pair {pair_id!r}: needs exactly one true and one false question, has labels {labels[rows].tolist()}")
            true_row, false_row = (rows[0], rows[1]) if labels[rows[0]] else (rows[1], rows[0])
            true_rows.append(true_row)
            false_rows.append(false_row)
            ids.append(str(pair_id))
        order = np.argsort(np.minimum(true_rows, false_rows), kind="stable") if ids else np.zeros(0, dtype=int)
        return cls(np.asarray(true_rows, dtype=np.int64)[order], np.asarray(false_rows, dtype=np.int64)[order], tuple(ids[i] for i in order))

    def __len__(self) -> int:
        return len(self.ids)

    def select(self, rows: Sequence[int] | np.ndarray) -> PairIndex:
        """The pairs whose two questions are both among ``rows``, renumbered as positions in ``rows``."""
        position = {int(row): index for index, row in enumerate(rows)}
        keep = [i for i in range(len(self)) if int(self.true_rows[i]) in position and int(self.false_rows[i]) in position]
        return PairIndex(
            np.asarray([position[int(self.true_rows[i])] for i in keep], dtype=np.int64),
            np.asarray([position[int(self.false_rows[i])] for i in keep], dtype=np.int64),
            tuple(self.ids[i] for i in keep),
        )

    def verdicts(self, true_log_odds: np.ndarray) -> np.ndarray:
        """Per pair: 1 when the true question gets the higher log(p_True/p_False), 0.5 for a tie, 0 otherwise.

        Log-odds, not p_true: p_true rounds to exactly 1.0 for both questions of a pair once the model is
        sure enough (or an answer word unlikely enough), which would read as a tie.
        """
        values = np.asarray(true_log_odds, dtype=np.float64)
        diff = values[self.true_rows] - values[self.false_rows]
        return np.where(diff > 0, 1.0, np.where(diff == 0, 0.5, 0.0))


def groups_of(keys: Sequence[Any], min_size: int = 2) -> dict[Any, np.ndarray]:
    """Rows sharing a key (keys that are no id left out), key -> rows, for the groups of at least ``min_size``
    rows, in first-row order."""
    members: dict[Any, list[int]] = {}
    for row, key in enumerate(keys):
        if is_id(key) if not isinstance(key, tuple) else all(is_id(part) for part in key):
            members.setdefault(key, []).append(row)
    return {key: np.asarray(rows, dtype=np.int64) for key, rows in members.items() if len(rows) >= min_size}
