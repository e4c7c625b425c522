"""95% intervals: Wilson for proportions of questions, a fact-level bootstrap for everything else.

The bootstrap resamples *facts*, not questions: the true question and its corrupted twin (and, on the
paraphrase config, every wording of the fact) are drawn together, so the interval of paired accuracy
or AUROC respects that the two questions of a pair are not independent. The draws are counts per fact
from one seeded multinomial over the facts of a run (:class:`FactResampler`); the same draws serve every
metric and, on a leaderboard, every row, so differences between rows are paired. Seed and number of
resamples are recorded beside the intervals (:data:`BOOTSTRAP_SEED`, :data:`N_RESAMPLES`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import binomtest

from fk_bench.errors import FkBenchError
from fk_bench.pair_index import is_id

CONFIDENCE = 0.95
"""Every interval fk-bench shows is a 95% interval."""
BOOTSTRAP_SEED = 20240531
"""The bootstrap's seed: the same results give the same intervals on every machine."""
N_RESAMPLES = 1000
"""Bootstrap resamples: enough for the 2.5% and 97.5% percentiles to settle at the third decimal."""
MAX_RESAMPLES = 10_000
"""More would hold gigabytes of weights (resamples x questions) for no visible gain."""


def wilson_interval(successes: int, n: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Wilson score interval of a proportion (scipy's), which stays inside [0, 1] and is sound near 0 and 1."""
    if n < 1 or not 0 <= successes <= n:
        raise FkBenchError(f"Wilson interval: need 0 <= successes <= n and n >= 1, got {successes} of {n}")
    interval = binomtest(int(successes), int(n)).proportion_ci(confidence_level=confidence, method="wilson")
    return float(interval.low), float(interval.high)


def fact_keys(fact_ids: Sequence[Any] | None, pair_ids: Sequence[Any] | None, question_ids: Sequence[Any]) -> list[str]:
    """Each question's resampling unit: its fact id, else its pair id, else the question itself."""
    keys = []
    for row, question in enumerate(question_ids):
        fact = fact_ids[row] if fact_ids is not None else None
        pair = pair_ids[row] if pair_ids is not None else None
        keys.append(f"fact:{fact}" if is_id(fact) else f"pair:{pair}" if is_id(pair) else f"question:{question}")
    return keys


@dataclass(frozen=True)
class FactResampler:
    """Bootstrap draws over facts: ``counts[b, f]`` is how often fact ``f`` is drawn in resample ``b``."""

    facts: dict[str, int]
    counts: np.ndarray
    seed: int
    n_resamples: int

    @classmethod
    def draw(cls, keys: Sequence[str], n_resamples: int = N_RESAMPLES, seed: int = BOOTSTRAP_SEED) -> FactResampler:
        """Draw ``n_resamples`` resamples of the distinct ``keys`` (each the size of the set of facts)."""
        if not 1 <= n_resamples <= MAX_RESAMPLES:
            raise FkBenchError(f"bootstrap: n_resamples must be between 1 and {MAX_RESAMPLES:,}, got {n_resamples:,}")
        facts = {key: index for index, key in enumerate(dict.fromkeys(keys))}
        if not facts:
            raise FkBenchError("bootstrap: no facts to resample")
        rng = np.random.default_rng(seed)
        counts = rng.multinomial(len(facts), np.full(len(facts), 1.0 / len(facts)), size=n_resamples).astype(np.float64)
        return cls(facts, counts, seed, n_resamples)

    def weights(self, keys: Sequence[str]) -> np.ndarray:
        """``[n_resamples, len(keys)]``: each row's weight in each resample (its fact's count). Keys not among
        the drawn facts are refused: the rows would silently drop out."""
        try:
            columns = np.fromiter((self.facts[key] for key in keys), dtype=np.int64, count=len(keys))
        except KeyError as err:
            raise FkBenchError(f"bootstrap: fact {err.args[0]!r} was not among the facts drawn") from None
        return self.counts[:, columns]

    def record(self) -> dict[str, Any]:
        """What a reader needs to reproduce the intervals."""
        return {"method": "bootstrap over facts (a pair's questions drawn together)", "seed": self.seed, "n_resamples": self.n_resamples}


def weighted_means(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Per resample, the weighted mean of ``values`` (NaN where a resample drew none of them)."""
    values = np.asarray(values, dtype=np.float64)
    totals = weights.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(totals > 0, weights @ values / np.where(totals > 0, totals, 1.0), np.nan)


def percentile_interval(replicates: np.ndarray, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """The percentile interval of bootstrap replicates (NaN replicates left out; NaNs when none is left)."""
    finite = np.asarray(replicates, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    if finite.size == 0:
        return math.nan, math.nan
    tail = (1.0 - confidence) / 2.0 * 100.0
    low, high = np.percentile(finite, [tail, 100.0 - tail])
    return float(low), float(high)


def bootstrap_interval(values: np.ndarray, weights: np.ndarray, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Interval of the mean of ``values`` under the resampler's ``weights`` (one per value)."""
    return percentile_interval(weighted_means(values, weights), confidence)


def bootstrap_statistic(statistic: Callable[[np.ndarray], float | None], weights: np.ndarray, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Interval of any weighted statistic (AUROC: ``statistic(w)`` takes one resample's weights per row)."""
    replicates = np.array([np.nan if (v := statistic(w)) is None else v for w in weights], dtype=np.float64)
    return percentile_interval(replicates, confidence)


def weighted_auroc(scores: np.ndarray, labels: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Per resample (a row of ``weights``), the ROC AUC of ``scores`` against ``labels`` with those sample
    weights: the weighted Mann-Whitney statistic, ties counting half (scikit-learn's weighted AUC), for every
    resample at once. NaN where a resample holds only one class."""
    scores, labels = np.asarray(scores, dtype=np.float64), np.asarray(labels, dtype=bool)
    order = np.argsort(scores, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(scores[order]) != 0])  # first position of each tied group
    w = np.atleast_2d(weights)[:, order]
    positive = np.add.reduceat(w * labels[order], starts, axis=1)
    negative = np.add.reduceat(w * ~labels[order], starts, axis=1)
    below = np.cumsum(negative, axis=1) - negative
    totals = positive.sum(axis=1) * negative.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(totals > 0, (positive * (below + 0.5 * negative)).sum(axis=1) / np.where(totals > 0, totals, 1.0), np.nan)
