"""The minimum detectable difference against textbook values and the exact McNemar power it implies."""

import math

import numpy as np
import pytest
from scipy.stats import binom, binomtest

from fk_bench.errors import FkBenchError
from fk_bench.stats.power import minimum_detectable_difference

# (z_{0.975} + z_{0.80})^2: the textbook constant behind "n = 7.85 * variance / delta^2" (Lehr's rule).
LEHR_CONSTANT = 7.849


def test_large_samples_meet_the_textbook_first_order_formula() -> None:
    # For small differences Connor's formula reduces to n = 7.85 * psi / delta^2.
    n, psi = 100_000, 0.5
    assert minimum_detectable_difference(n, discordance=psi) == pytest.approx(math.sqrt(LEHR_CONSTANT * psi / n), rel=2e-3)


def test_connor_worked_value() -> None:
    # psi = 0.5, delta = 0.1: (1.95996 * sqrt(0.5) + 0.84162 * sqrt(0.49))^2 / 0.01 = 390.08 pairs.
    assert minimum_detectable_difference(390, discordance=0.5) == pytest.approx(0.1, abs=2e-4)
    assert minimum_detectable_difference(391) < 0.1 < minimum_detectable_difference(389)


def _exact_mcnemar_power(n: int, psi: float, delta: float, alpha: float) -> float:
    """Exact power of the exact (binomial) McNemar test, summed over the number of discordant pairs."""
    share = (psi + delta) / (2 * psi)  # P(a discordant pair favours model A)
    total = 0.0
    for discordant in range(1, n + 1):
        k = np.arange(discordant + 1)
        # The exact two-sided McNemar p-value of k wins out of `discordant` (symmetric binomial).
        p_values = np.minimum(1.0, 2 * binom.cdf(np.minimum(k, discordant - k), discordant, 0.5))
        rejected = binom.pmf(k, discordant, share)[p_values < alpha].sum()
        total += binom.pmf(discordant, n, psi) * rejected
    return float(total)


def test_exact_p_value_matches_scipy() -> None:
    assert binomtest(3, 15, 0.5).pvalue == pytest.approx(min(1.0, 2 * binom.cdf(3, 15, 0.5)))


def test_the_detectable_difference_is_detected_with_about_the_stated_power() -> None:
    n, psi = 200, 0.3
    delta = minimum_detectable_difference(n, discordance=psi)
    assert 0.72 < _exact_mcnemar_power(n, psi, delta, 0.05) < 0.86
    assert _exact_mcnemar_power(n, psi, delta / 2, 0.05) < 0.4


def test_more_pairs_detect_smaller_differences() -> None:
    sizes = [20, 50, 200, 1000, 6000]
    values = [minimum_detectable_difference(n) for n in sizes]
    assert values == sorted(values, reverse=True)
    assert minimum_detectable_difference(200, power=0.9) > minimum_detectable_difference(200)
    assert minimum_detectable_difference(200, alpha=0.01) > minimum_detectable_difference(200)


def test_too_few_pairs_detect_nothing() -> None:
    assert minimum_detectable_difference(1) == math.inf
    assert minimum_detectable_difference(3) == math.inf


@pytest.mark.parametrize(
    "kwargs",
    [
        {"n_pairs": 0},
        {"n_pairs": -5},
        {"n_pairs": 2.5},
        {"n_pairs": True},
        {"n_pairs": 10, "alpha": 0.0},
        {"n_pairs": 10, "power": 1.0},
        {"n_pairs": 10, "discordance": float("nan")},
        {"n_pairs": 10, "alpha": 1.5},
    ],
)
def test_bad_arguments_are_one_clear_error(kwargs: dict[str, float]) -> None:
    with pytest.raises(FkBenchError, match="minimum detectable difference"):
        minimum_detectable_difference(**kwargs)  # type: ignore[arg-type]
