"""Is A better than B on the same questions? Exact McNemar, a paired bootstrap, and Holm's correction.

Both runs answered the same questions, so each question (or pair) is its own control: only the items
one model gets right and the other wrong (the *discordant* ones) carry evidence. McNemar's exact test
asks whether those split evenly (a two-sided binomial test at 1/2, scipy's); the paired bootstrap gives
an interval for the difference of any score, drawing the same facts for both runs. A board compares
every pair of rows, so its p-values are adjusted with Holm's step-down method (family-wise error 5%).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy.stats import binomtest

from fk_bench.errors import FkBenchError
from fk_bench.stats.intervals import CONFIDENCE, percentile_interval, weighted_means


def mcnemar_exact(a_only: int, b_only: int) -> float:
    """Exact two-sided McNemar p-value: ``a_only`` items only A gets right, ``b_only`` only B (1.0 when none)."""
    if a_only < 0 or b_only < 0:
        raise FkBenchError(f"McNemar: discordant counts must be >= 0, got {a_only} and {b_only}")
    discordant = a_only + b_only
    return 1.0 if discordant == 0 else float(binomtest(int(a_only), int(discordant), 0.5).pvalue)


@dataclass(frozen=True)
class PairedComparison:
    """One score of A against B on the items both were scored on (``delta`` = a - b)."""

    a: float
    b: float
    delta: float
    ci_low: float
    ci_high: float
    n: int
    a_only: int
    b_only: int
    p_value: float

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)


def compare_paired(a_right: np.ndarray, b_right: np.ndarray, weights: np.ndarray, confidence: float = CONFIDENCE) -> PairedComparison:
    """Compare two runs' verdicts on the same items (1 right, 0 wrong, 0.5 a tie that counts half).

    ``weights`` are the bootstrap weights of the items (:meth:`~fk_bench.stats.intervals.FactResampler.weights`);
    an item is discordant when one run gets it right and the other does not (a half on either side is not
    counted as a win for either).
    """
    a_right, b_right = np.asarray(a_right, dtype=np.float64), np.asarray(b_right, dtype=np.float64)
    if a_right.shape != b_right.shape or a_right.size == 0:
        raise FkBenchError(f"paired comparison: need the same non-empty items for both runs, got {a_right.size} and {b_right.size}")
    a_only = int(np.sum((a_right == 1.0) & (b_right == 0.0)))
    b_only = int(np.sum((b_right == 1.0) & (a_right == 0.0)))
    low, high = percentile_interval(weighted_means(a_right - b_right, weights), confidence)
    a, b = float(a_right.mean()), float(b_right.mean())
    return PairedComparison(a, b, a - b, low, high, int(a_right.size), a_only, b_only, mcnemar_exact(a_only, b_only))


def holm(p_values: np.ndarray | list[float]) -> np.ndarray:
    """Holm's step-down adjusted p-values, in the input's order (NaN stays NaN and is not counted)."""
    p = np.asarray(p_values, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    known = np.flatnonzero(np.isfinite(p))
    if known.size == 0:
        return out
    order = known[np.argsort(p[known], kind="stable")]
    m = order.size
    adjusted = np.minimum(1.0, np.maximum.accumulate(p[order] * (m - np.arange(m))))
    out[order] = adjusted
    return out
