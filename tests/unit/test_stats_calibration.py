"""The calibration battery on hand cases: adaptive ECE, Brier decomposition, AURC, the bias corrections."""

import numpy as np
import pytest
from scipy.special import logit

from fk_bench.metrics import expected_calibration_error
from fk_bench.stats.calibration import (
    adaptive_ece,
    aurc,
    batch_calibration,
    brier_decomposition,
    contextual_calibration,
    reliability_diagram,
    risk_coverage,
)


def test_brier_decomposition_closes_for_binned_forecasts() -> None:
    rng = np.random.default_rng(0)
    p = rng.choice([0.05, 0.25, 0.55, 0.85], size=400)  # one forecast value per bin
    y = (rng.random(400) < p * 0.9 + 0.05).astype(float)
    parts = brier_decomposition(p, y)
    brier = np.mean((p - y) ** 2)
    assert parts["reliability"] - parts["resolution"] + parts["uncertainty"] == pytest.approx(brier, abs=1e-12)
    assert parts["uncertainty"] == pytest.approx(y.mean() * (1 - y.mean()))


def test_a_perfectly_calibrated_binned_forecast_has_no_reliability_term() -> None:
    p = np.array([0.25] * 4 + [0.75] * 4)
    y = np.array([1, 0, 0, 0, 1, 1, 1, 0], dtype=float)
    parts = brier_decomposition(p, y)
    assert parts["reliability"] == pytest.approx(0.0) and parts["resolution"] == pytest.approx(0.0625)


def test_adaptive_ece_uses_equal_mass_bins() -> None:
    # Two bins of 2: mean p 0.15 vs 1/2 right, mean p 0.85 vs 1/2 right -> 0.35 each.
    p, y = np.array([0.1, 0.2, 0.8, 0.9]), np.array([1, 0, 1, 0], dtype=float)
    assert adaptive_ece(p, y, n_bins=2) == pytest.approx(0.35)
    # Everything in one equal-width bin: adaptive ECE splits it, plain ECE cannot.
    p, y = np.array([0.91, 0.92, 0.93, 0.99]), np.array([0, 0, 1, 1], dtype=float)
    assert adaptive_ece(p, y, n_bins=2) > expected_calibration_error(p, y)
    assert np.isnan(adaptive_ece(np.array([]), np.array([])))


def test_aurc_on_a_hand_case() -> None:
    # Surest first: right, wrong, right, wrong -> risks 0, 1/2, 1/3, 1/2, mean 1/3.
    log_odds = np.array([4.0, -3.0, 2.0, -1.0])
    correct = np.array([1, 0, 1, 0], dtype=float)
    assert aurc(log_odds, correct) == pytest.approx((0 + 1 / 2 + 1 / 3 + 1 / 2) / 4)
    coverage, risk = risk_coverage(log_odds, correct)
    assert coverage.tolist() == [0.25, 0.5, 0.75, 1.0] and risk[-1] == 0.5
    assert aurc(np.array([3.0, 2.0, 1.0]), np.array([1.0, 1.0, 0.0])) == pytest.approx(1 / 9)


def test_aurc_does_not_depend_on_the_order_of_tied_questions() -> None:
    a = aurc(np.array([1.0, 1.0, 2.0]), np.array([1.0, 0.0, 1.0]))
    b = aurc(np.array([1.0, 1.0, 2.0]), np.array([0.0, 1.0, 1.0]))
    assert a == b
    with pytest.raises(ValueError, match="risk-coverage"):
        aurc(np.array([]), np.array([]))


def test_batch_calibration_removes_a_yes_bias() -> None:
    # A model that knows the answers but adds +3 to every log-odds: says yes to everything.
    labels = np.array([True, False] * 50)
    knows = np.where(labels, 1.0, -1.0)
    raw = knows + 3.0
    assert np.mean(raw > 0) == 1.0
    fixed = batch_calibration(raw, labels)
    assert fixed == {"accuracy": 1.0, "yes_rate": 0.5}


def test_contextual_calibration_uses_the_content_free_bias() -> None:
    labels = np.array([True, False, True, False])
    raw = np.array([2.5, 1.5, 3.0, 1.0])  # right only after subtracting about 2
    out = contextual_calibration(raw, labels, content_free_log_odds=float(logit(0.88)))
    assert out["p_true_content_free"] == pytest.approx(0.88)
    assert out["accuracy"] == 1.0 and out["yes_rate"] == 0.5


def test_reliability_diagram_bins() -> None:
    diagram = reliability_diagram(np.array([0.05, 0.06, 0.95, 1.0]), np.array([0, 1, 1, 1], dtype=float))
    assert diagram["count"] == [2, 2] and diagram["frequency"] == [0.5, 1.0]
    assert diagram["confidence"][0] == pytest.approx(0.055)
