"""Wilson intervals against Newcombe's published values, and the fact bootstrap's pairing and coverage."""

import numpy as np
import pytest

from fk_bench.errors import FkBenchError
from fk_bench.stats.intervals import FactResampler, bootstrap_interval, bootstrap_statistic, fact_keys, percentile_interval, wilson_interval


@pytest.mark.parametrize(
    ("successes", "n", "low", "high"),
    # Newcombe (1998), Statistics in Medicine 17:857-872, Table II, method 3 (Wilson score).
    [(81, 263, 0.2553, 0.3662), (15, 148, 0.0624, 0.1605), (0, 20, 0.0, 0.1611), (1, 29, 0.0061, 0.1718)],
)
def test_wilson_matches_newcombe(successes: int, n: int, low: float, high: float) -> None:
    assert wilson_interval(successes, n) == pytest.approx((low, high), abs=1e-4)


@pytest.mark.parametrize(("successes", "n"), [(5, 0), (-1, 10), (11, 10)])
def test_wilson_refuses_impossible_counts(successes: int, n: int) -> None:
    with pytest.raises(FkBenchError, match="Wilson interval"):
        wilson_interval(successes, n)


def test_fact_keys_keep_a_pair_together() -> None:
    keys = fact_keys(None, ["p1", "p1", None, ""], ["q1", "q2", "q3", "q4"])
    assert keys == ["pair:p1", "pair:p1", "question:q3", "question:q4"]
    assert fact_keys(["f", "f", "f", "g"], ["p1", "p1", "p2", "p3"], list("abcd"))[:3] == ["fact:f"] * 3


def test_a_pairs_questions_always_carry_the_same_weight() -> None:
    keys = ["pair:a", "pair:a", "pair:b", "pair:b", "pair:c", "pair:c"]
    sampler = FactResampler.draw(keys, n_resamples=200, seed=1)
    weights = sampler.weights(keys)
    assert weights.shape == (200, 6)
    assert np.array_equal(weights[:, 0], weights[:, 1]) and np.array_equal(weights[:, 4], weights[:, 5])
    assert np.all(sampler.counts.sum(axis=1) == 3)  # each resample draws as many facts as there are
    assert sampler.record()["seed"] == 1


def test_the_same_seed_gives_the_same_draws_and_a_foreign_fact_is_refused() -> None:
    a = FactResampler.draw(["x", "y", "z"], 50, seed=7)
    assert np.array_equal(a.counts, FactResampler.draw(["x", "y", "z"], 50, seed=7).counts)
    with pytest.raises(FkBenchError, match="'w' was not among"):
        a.weights(["x", "w"])
    with pytest.raises(FkBenchError, match="no facts"):
        FactResampler.draw([])
    with pytest.raises(FkBenchError, match="n_resamples"):
        FactResampler.draw(["x"], 0)
    with pytest.raises(FkBenchError, match="between 1 and 10,000"):
        FactResampler.draw(["x"], 10**9)  # refused before any memory is taken


def test_bootstrap_covers_the_true_mean_about_95_percent_of_the_time() -> None:
    # Simulated paired data: 150 facts, each a pair of correlated 0/1 verdicts: the first right with
    # probability 0.7, the second its copy flipped with probability 0.2, so the true mean is (0.7 + 0.62) / 2.
    rng = np.random.default_rng(0)
    covered, trials = 0, 200
    for trial in range(trials):
        fact_right = rng.random(150) < 0.7
        twin_flip = rng.random(150) < 0.2
        verdicts = np.concatenate([fact_right, np.where(twin_flip, ~fact_right, fact_right)]).astype(float)
        keys = [f"f{i}" for i in range(150)] * 2
        low, high = bootstrap_interval(verdicts, FactResampler.draw(keys, 400, seed=trial).weights(keys))
        covered += low <= 0.66 <= high
    assert 0.90 <= covered / trials <= 0.99


def test_statistic_intervals_skip_undefined_resamples() -> None:
    weights = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    low, high = bootstrap_statistic(lambda w: None if w[0] == 0 else float(w.sum()), weights)
    assert 1.0 <= low <= high <= 2.0
    assert np.isnan(percentile_interval(np.array([np.nan]))[0])


def test_weighted_auroc_matches_scikit_learn() -> None:
    from sklearn.metrics import roc_auc_score

    from fk_bench.stats.intervals import weighted_auroc

    rng = np.random.default_rng(2)
    scores = np.round(rng.normal(size=60), 1)  # rounding makes ties
    labels = rng.random(60) < 0.5
    weights = rng.integers(0, 3, size=(5, 60)).astype(float)
    expected = [roc_auc_score(labels, scores, sample_weight=w) for w in weights]
    assert weighted_auroc(scores, labels, weights) == pytest.approx(expected)
    assert np.isnan(weighted_auroc(scores, labels, np.where(labels, 1.0, 0.0)[None, :])[0])
