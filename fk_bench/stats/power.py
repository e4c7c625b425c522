"""Power of a paired comparison: the smallest accuracy difference a number of question pairs can detect.

Two models answer the same pairs, so the right test is McNemar's on the discordant pairs (one model
right, the other wrong). Its sample size follows Connor (1987, Biometrics 43:207-211):

    n = (z_{1-alpha/2} * sqrt(psi) + z_{power} * sqrt(psi - delta^2))^2 / delta^2

where ``delta`` is the difference in paired accuracy and ``psi`` the discordance rate (the share of
pairs the two models disagree on). Solving it for ``delta`` gives the minimum detectable difference.
"""

import math

from scipy.optimize import brentq
from scipy.stats import norm

from fk_bench.errors import FkBenchError

# Two independent models that are each right on half the pairs disagree on 2 * 0.5 * 0.5 of them:
# the largest discordance two chance-level models have, hence the conservative default.
DEFAULT_DISCORDANCE = 0.5


def _connor_pairs_needed(delta: float, alpha: float, power: float, discordance: float) -> float:
    """Connor's (1987) McNemar sample size (not rounded up) for a difference ``delta``."""
    z_alpha = norm.ppf(1.0 - alpha / 2.0)
    z_power = norm.ppf(power)
    root = z_alpha * math.sqrt(discordance) + z_power * math.sqrt(discordance - delta * delta)
    return float(root * root / (delta * delta))


def minimum_detectable_difference(
    n_pairs: int,
    alpha: float = 0.05,
    power: float = 0.8,
    discordance: float = DEFAULT_DISCORDANCE,
) -> float:
    """The smallest difference in paired accuracy between two models that ``n_pairs`` pairs can detect.

    Two-sided McNemar test at level ``alpha`` with the given ``power``, Connor's (1987) normal
    approximation, assuming the models disagree on a share ``discordance`` of the pairs (default 0.5:
    two independent models at 50% accuracy, the most discordance chance-level models show, so the
    answer is conservative). The difference cannot exceed the discordance (every disagreement in
    one model's favour); when even that is out of reach (a handful of pairs), returns ``math.inf``.
    """
    if isinstance(n_pairs, bool) or not isinstance(n_pairs, int) or n_pairs < 1:
        raise FkBenchError(f"minimum detectable difference: n_pairs must be a positive integer, got {n_pairs!r}")
    for name, value in (("alpha", alpha), ("power", power), ("discordance", discordance)):
        if not 0.0 < value < 1.0 or math.isnan(value):
            raise FkBenchError(f"minimum detectable difference: {name} must lie in (0, 1), got {value!r}")

    def excess(delta: float) -> float:
        return _connor_pairs_needed(delta, alpha, power, discordance) - n_pairs

    if excess(discordance) > 0:
        return math.inf
    smallest = discordance * 1e-9
    return float(brentq(excess, smallest, discordance, xtol=1e-12))
