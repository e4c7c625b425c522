import math

import numpy as np
import pytest

from fk_bench.metrics import expected_calibration_error, passes_filter, question_metrics, summarize

IS_TRUE = np.array([True, True, False, False])
# Probabilities: True group 0.5 + 0.1 = 0.6, False group 0.2 + 0.1 = 0.3.
SCORES = np.log(np.array([[0.5, 0.1, 0.2, 0.1]]))


def test_true_label_hand_computed():
    m = question_metrics(SCORES, IS_TRUE, np.array([True]))
    assert m["logit_diff"][0] == pytest.approx(0.5 * math.log(0.5 / 0.2))
    assert m["prob_diff"][0] == pytest.approx(0.3)
    assert m["log_odds"][0] == pytest.approx(math.log(2.0))
    assert m["accuracy"][0] == 1.0
    assert m["p_true"][0] == pytest.approx(2 / 3)
    assert m["brier"][0] == pytest.approx(1 / 9)


def test_false_label_flips_signs():
    m = question_metrics(SCORES, IS_TRUE, np.array([False]))
    assert m["logit_diff"][0] == pytest.approx(-0.5 * math.log(0.5 / 0.2))
    assert m["prob_diff"][0] == pytest.approx(-0.3)
    assert m["log_odds"][0] == pytest.approx(-math.log(2.0))
    assert m["accuracy"][0] == 0.0
    assert m["brier"][0] == pytest.approx(4 / 9)


def test_unequal_group_sizes_use_group_means():
    scores = np.array([[1.0, 2.0, 3.0, 0.0, 6.0]])
    m = question_metrics(scores, np.array([True, True, True, False, False]), np.array([True]))
    assert m["logit_diff"][0] == pytest.approx(2.0 - 3.0)


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match="do not match"):
        question_metrics(SCORES, IS_TRUE, np.array([True, False]))


def test_ece_hand_computed():
    p = np.array([0.05, 0.15, 0.95, 0.85])
    y = np.array([0, 0, 1, 0])
    # bins 0, 1, 9, 8 each hold one question: |0-.05|, |0-.15|, |1-.95|, |0-.85| averaged.
    assert expected_calibration_error(p, y) == pytest.approx((0.05 + 0.15 + 0.05 + 0.85) / 4)
    assert expected_calibration_error(np.array([0.7, 0.7]), np.array([1, 0])) == pytest.approx(0.2)


def test_filter_and_summary():
    scores = np.log(np.array([[0.5, 0.1, 0.2, 0.1], [0.31, 0.0001, 0.3, 0.0001], [0.1, 0.1, 0.5, 0.2]]))
    labels = np.array([True, True, True])
    m = question_metrics(scores, IS_TRUE, labels)
    assert passes_filter(m, 0.1).tolist() == [True, False, False]
    s = summarize(m, labels, 0.1)
    assert s["n_questions"] == 3 and s["n_pass_filter"] == 1
    assert s["accuracy"] == pytest.approx(2 / 3)
    assert s["log_odds"] == pytest.approx(np.mean(m["log_odds"]))
