"""Bootstrap 95% intervals over pairs, and when an interval is too wide to read as a finding.

Every number a report shows is a statistic of the studied pairs (a mean over pairs, the layer where a
mean peaks, a ratio of sums). Its interval comes from :func:`scipy.stats.bootstrap`: the pairs are
resampled with replacement (seeded) and the statistic recomputed on each resample; the interval is the
2.5th-97.5th percentile of those values (``method="percentile"``: BCa needs a statistic that varies
smoothly, which an argmax over layers does not). Resampling pair *indices* keeps every number of one
pair together (its per-layer row, its drop, its grid), so joint statistics resample correctly.

"Wide" (:func:`is_wide`) is the report's warning that a headline may be noise:

- a **layer** (where the answer direction jumps, where knockout peaks) is wide when its interval spans
  more than :data:`WIDE_LAYER_FRACTION` of the model's depth;
- a **magnitude** (a DLA value, the MLP share, a restored or dropped fraction) is wide when its
  interval contains 0 (the sign is not established) or is longer than the estimate's own size
  (``high - low > |estimate|``, a relative width over 100%);
- an interval from fewer than :data:`MIN_PAIRS` pairs, or none at all, is always wide.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from interp.defaults import CONFIDENCE, DEFAULT_SEED, N_RESAMPLES

WIDE_LAYER_FRACTION = 0.2
"""A layer's interval is wide when it spans more than this share of the model's layers (4 of 18, 6 of 28)."""
MIN_PAIRS = 3
"""Fewer pairs than this give no interval worth the name: it is reported, and always called wide."""


def pair_intervals(
    statistic: Callable[[np.ndarray], Any], n_pairs: int, seed: int = DEFAULT_SEED, n_resamples: int = N_RESAMPLES
) -> tuple[np.ndarray, np.ndarray] | None:
    """The 95% percentile-bootstrap interval of ``statistic(pair_indices)`` over resampled pairs:
    ``(low, high)`` arrays shaped as the statistic (NaN where the statistic is NaN), None for fewer than 2 pairs.

    ``statistic`` receives an integer array of pair indices (a resample, with repeats) and returns a
    number or an array of numbers computed from those pairs.
    """
    if n_pairs < 2:
        return None
    import warnings

    from scipy.stats import DegenerateDataWarning, bootstrap

    def on_indices(index: np.ndarray) -> np.ndarray:
        return np.asarray(statistic(np.asarray(index, dtype=np.intp)), dtype=np.float64)

    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", DegenerateDataWarning)  # NaN ends (a grid column no pair has) are expected: None in the report
        result = bootstrap(
            (np.arange(n_pairs),),
            on_indices,
            n_resamples=n_resamples,
            confidence_level=CONFIDENCE,
            method="percentile",
            vectorized=False,
            rng=np.random.default_rng(seed),
        )
    low, high = result.confidence_interval
    return np.asarray(low, dtype=np.float64), np.asarray(high, dtype=np.float64)


def mean_intervals(rows: np.ndarray, seed: int = DEFAULT_SEED, n_resamples: int = N_RESAMPLES) -> dict[str, list] | None:
    """Element-wise interval of the mean over pairs of ``rows`` ``[pair, ...]``: ``{"low", "high"}`` lists."""
    rows = np.asarray(rows, dtype=np.float64)
    found = pair_intervals(lambda index: np.nanmean(rows[index], axis=0), rows.shape[0], seed, n_resamples)
    return intervals_json(found)


def json_ready(values: np.ndarray) -> Any:
    """Numbers as JSON lists, a non-finite one (a grid column no pair has) as None."""
    values = np.asarray(values, dtype=np.float64)
    out = values.astype(object)
    out[~np.isfinite(values)] = None
    return out.tolist()


def intervals_json(found: tuple[np.ndarray, np.ndarray] | None) -> dict[str, list] | None:
    """A :func:`pair_intervals` result as JSON, ``{"low", "high"}`` (None for no interval)."""
    return None if found is None else {"low": json_ready(found[0]), "high": json_ready(found[1])}


@dataclass(frozen=True)
class Interval:
    """A headline number, its 95% bootstrap interval over ``n_pairs`` pairs and whether that interval is wide."""

    estimate: float | None
    low: float | None
    high: float | None
    n_pairs: int
    kind: str  # "layer" or "magnitude": what "wide" means for it (:func:`is_wide`)
    n_layers: int | None = None

    @property
    def wide(self) -> bool:
        return is_wide(self.estimate, self.low, self.high, self.kind, self.n_pairs, self.n_layers)

    def to_json(self) -> dict:
        return {"estimate": self.estimate, "low": self.low, "high": self.high, "n_pairs": self.n_pairs, "kind": self.kind, "wide": self.wide}


def is_wide(estimate: float | None, low: float | None, high: float | None, kind: str, n_pairs: int, n_layers: int | None = None) -> bool:
    """Whether an interval is too wide to read its estimate as a finding (the rules in the module docstring)."""
    if estimate is None or low is None or high is None or n_pairs < MIN_PAIRS:
        return True
    if not all(np.isfinite([estimate, low, high])):
        return True
    if kind == "layer":
        if not n_layers:
            raise ValueError("a layer interval needs the model's number of layers")
        return (high - low) > WIDE_LAYER_FRACTION * n_layers
    if kind != "magnitude":
        raise ValueError(f"interval kind {kind!r}: 'layer' or 'magnitude'")
    return (low <= 0.0 <= high) or (high - low) > abs(estimate)


def interval(
    statistic: Callable[[np.ndarray], float | None],
    n_pairs: int,
    kind: str,
    n_layers: int | None = None,
    seed: int = DEFAULT_SEED,
    n_resamples: int = N_RESAMPLES,
) -> Interval:
    """The estimate ``statistic(every pair)`` and its interval over resampled pairs (see :func:`pair_intervals`).

    A statistic undefined on some pairs returns None; an interval with an undefined resample has no ends."""
    estimate = statistic(np.arange(n_pairs)) if n_pairs else None
    if estimate is None or not np.isfinite(estimate):
        return Interval(None, None, None, n_pairs, kind, n_layers)
    found = pair_intervals(lambda index: np.nan if (value := statistic(index)) is None else value, n_pairs, seed, n_resamples)
    if found is None or not np.isfinite(found[0]) or not np.isfinite(found[1]):
        return Interval(float(estimate), None, None, n_pairs, kind, n_layers)
    return Interval(float(estimate), float(found[0]), float(found[1]), n_pairs, kind, n_layers)
