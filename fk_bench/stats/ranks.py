"""Rank intervals: where each row of a board could rank if the facts had been drawn again.

Each bootstrap resample (the same fact draws for every row, :class:`~fk_bench.stats.intervals.FactResampler`)
ranks the rows by their resampled score; a row's rank interval is the 2.5th to 97.5th percentile of its
ranks. Rows whose intervals overlap cannot be told apart on these questions: they are *tied*.
"""

from __future__ import annotations

import numpy as np

from fk_bench.stats.intervals import CONFIDENCE


def ranks_of(scores: np.ndarray, higher_is_better: bool = True) -> np.ndarray:
    """Competition ranks along the last axis: 1 + how many rows score strictly better (NaN ranks last)."""
    values = np.asarray(scores, dtype=np.float64)
    values = np.where(np.isnan(values), -np.inf if higher_is_better else np.inf, values)
    if not higher_is_better:
        values = -values
    ranks: np.ndarray = 1 + (values[..., None, :] > values[..., :, None]).sum(axis=-1)  # numpy types indexing with None as Any
    return ranks


def rank_intervals(replicates: np.ndarray, higher_is_better: bool = True, confidence: float = CONFIDENCE) -> tuple[np.ndarray, np.ndarray]:
    """From ``replicates[b, row]`` (each row's score in resample ``b``), each row's rank interval (low, high)."""
    ranks = ranks_of(replicates, higher_is_better)
    tail = (1.0 - confidence) / 2.0 * 100.0
    low = np.floor(np.percentile(ranks, tail, axis=0)).astype(np.int64)
    high = np.ceil(np.percentile(ranks, 100.0 - tail, axis=0)).astype(np.int64)
    return low, high


def tied_with(low: np.ndarray, high: np.ndarray) -> list[list[int]]:
    """For each row, the other rows whose rank interval overlaps its own (empty: its rank is settled)."""
    n = len(low)
    return [[j for j in range(n) if j != i and low[j] <= high[i] and low[i] <= high[j]] for i in range(n)]
