import math

import numpy as np
import pytest

from fk_bench.metrics import (
    METRICS,
    auroc,
    expected_calibration_error,
    paired_accuracy,
    passes_filter,
    question_metrics,
    summarize,
    true_vs_false,
    yes_rate,
)

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


# ------------------------------------------------------------------------------------------------
# Bias-robust metrics: yes_rate, paired_accuracy, auroc


def test_yes_rate_counts_strictly_above_half():
    assert yes_rate(np.array([0.9, 0.5, 0.51, 0.1])) == pytest.approx(0.5)  # 0.5 itself is not a "yes"


def test_paired_accuracy_hand_computed_with_tie_and_missing_twin():
    #             pair a (win)   pair b (loss)  pair c (tie)  twin of d missing   no pair
    p_true = np.array([0.9, 0.2, 0.4, 0.6, 0.7, 0.7, 0.3, 0.99])
    labels = np.array([1, 0, 1, 0, 0, 1, 1, 1], dtype=bool)
    pairs = ["a", "a", "b", "b", "c", "c", "d", None]
    assert paired_accuracy(p_true, labels, pairs) == pytest.approx((1 + 0 + 0.5) / 3)


def test_paired_accuracy_is_absent_without_pairs():
    assert paired_accuracy(np.array([0.9, 0.1]), np.array([True, False]), [None, None]) is None
    assert paired_accuracy(np.array([0.9, 0.1]), np.array([True, False]), ["x", "y"]) is None


def test_paired_accuracy_rejects_a_pair_of_one_label():
    with pytest.raises(ValueError, match="pair 'a'"):
        paired_accuracy(np.array([0.9, 0.1]), np.array([True, True]), ["a", "a"])
    with pytest.raises(ValueError, match="pair 'a'"):
        paired_accuracy(np.array([0.9, 0.1, 0.3]), np.array([True, False, False]), ["a", "a", "a"])


def test_yes_sayer_fools_accuracy_but_not_the_robust_metrics():
    # A model that says "yes" to everything but ranks each true question a little above its twin.
    p_true = np.array([0.95, 0.90, 0.97, 0.92])
    labels = np.array([True, False, True, False])
    per_question = {"p_true": p_true, "accuracy": (p_true > 0.5) == labels}
    assert np.mean(per_question["accuracy"]) == 0.5
    assert yes_rate(p_true) == 1.0
    assert paired_accuracy(p_true, labels, ["a", "a", "b", "b"]) == 1.0
    assert auroc(p_true, labels) == 1.0


def test_auroc_hand_computed_with_ties_and_one_class():
    # positives 0.8, 0.4; negatives 0.4, 0.2: pairs (0.8>0.4, 0.8>0.2, 0.4=0.4 half, 0.4>0.2) -> 3.5 / 4
    assert auroc(np.array([0.8, 0.4, 0.4, 0.2]), np.array([1, 1, 0, 0], dtype=bool)) == pytest.approx(3.5 / 4)
    assert auroc(np.array([0.8, 0.4]), np.array([True, True])) is None


def test_true_vs_false_agrees_between_numpy_and_torch():
    import torch

    scores = np.log(np.array([[0.5, 0.1, 0.2, 0.1], [0.05, 0.3, 0.1, 0.4]]))
    expected = np.log(np.array([0.6 / 0.3, 0.35 / 0.5]))
    assert true_vs_false(scores, IS_TRUE) == pytest.approx(expected)
    assert true_vs_false(torch.tensor(scores), IS_TRUE).numpy() == pytest.approx(expected)


def test_summary_reports_every_registered_metric():
    scores = np.log(np.array([[0.5, 0.1, 0.2, 0.1], [0.1, 0.1, 0.5, 0.2], [0.3, 0.3, 0.2, 0.1], [0.2, 0.2, 0.3, 0.2]]))
    labels = np.array([True, False, True, False])
    s = summarize(question_metrics(scores, IS_TRUE, labels), labels, 0.1, ["p", "p", "q", "q"])
    assert set(METRICS) <= set(s)
    assert s["n_pairs"] == 2
    m = question_metrics(scores, IS_TRUE, labels)
    assert s["paired_accuracy"] == paired_accuracy(m["p_true"], labels, ["p", "p", "q", "q"])
    assert summarize(m, labels, 0.1)["paired_accuracy"] is None
