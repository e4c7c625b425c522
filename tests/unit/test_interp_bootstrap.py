"""Bootstrap intervals over pairs (scipy.stats.bootstrap on pair indices) and the rules for "wide"."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import bootstrap

from interp.core import bootstrap as b


def test_the_interval_of_a_mean_is_scipys_percentile_bootstrap_with_the_same_seed():
    values = np.random.default_rng(3).normal(2.0, 1.0, size=25)
    found = b.interval(lambda index: float(values[index].mean()), len(values), "magnitude", seed=7)
    expected = bootstrap((values,), np.mean, n_resamples=b.N_RESAMPLES, method="percentile", rng=np.random.default_rng(7), vectorized=False)
    assert found.estimate == pytest.approx(values.mean())
    assert (found.low, found.high) == pytest.approx(tuple(expected.confidence_interval), rel=1e-9)
    assert found.low < values.mean() < found.high and not found.wide


def test_seeded_and_element_wise():
    rows = np.random.default_rng(0).normal(size=(12, 3)) + np.array([0.0, 5.0, -5.0])
    first, second = b.mean_intervals(rows, seed=1), b.mean_intervals(rows, seed=1)
    assert first == second and len(first["low"]) == 3
    assert first["low"][1] > 3 and first["high"][2] < -3
    assert b.mean_intervals(rows, seed=2) != first


def test_joint_statistics_resample_whole_pairs():
    """A ratio of sums over pairs (the MLP share) is recomputed from the same pairs' two numbers."""
    mlp, attention = np.array([1.0, 2.0, 3.0, 4.0]), np.array([1.0, 2.0, 3.0, 4.0])
    share = b.interval(lambda i: float(mlp[i].sum() / (mlp[i].sum() + attention[i].sum())), 4, "magnitude")
    assert (share.estimate, share.low, share.high) == (0.5, 0.5, 0.5)  # every resample keeps the pairs' 1:1 ratio


def test_wide_rules():
    assert b.is_wide(10, 8, 14, "layer", 20, n_layers=18)  # 6 layers > 20% of 18
    assert not b.is_wide(10, 9, 12, "layer", 20, n_layers=18)
    assert b.is_wide(0.5, -0.1, 0.9, "magnitude", 20)  # contains 0
    assert b.is_wide(0.2, 0.05, 0.5, "magnitude", 20)  # longer than the value
    assert not b.is_wide(0.9, 0.7, 1.1, "magnitude", 20)
    assert b.is_wide(0.9, 0.85, 0.95, "magnitude", 2)  # too few pairs
    assert b.is_wide(0.9, None, None, "magnitude", 20)


def test_one_pair_has_no_interval_and_an_undefined_statistic_none():
    one = b.interval(lambda index: 1.0, 1, "magnitude")
    assert (one.estimate, one.low, one.high, one.wide) == (1.0, None, None, True)
    assert b.pair_intervals(lambda index: 1.0, 1) is None
    undefined = b.interval(lambda index: None, 5, "magnitude")
    assert undefined.estimate is None and undefined.wide
