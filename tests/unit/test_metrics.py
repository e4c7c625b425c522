import math

import numpy as np
import pytest

from fk_bench.metrics import (
    METRICS,
    auroc,
    by_popularity,
    consistency,
    expected_calibration_error,
    paired_accuracy,
    paired_consistency,
    passes_filter,
    popularity_terciles,
    question_metrics,
    summarize,
    true_vs_false,
    yes_rate,
)
from fk_bench.pair_index import PairIndex

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
# Bias-robust metrics: yes_rate, paired_accuracy, auroc (on log(p_True/p_False), never on p_true)


def pairs(ids, labels) -> PairIndex:
    return PairIndex.from_ids(ids, np.asarray(labels, dtype=bool))


def test_yes_rate_counts_strictly_positive_log_odds():
    assert yes_rate(np.array([2.0, 0.0, 0.04, -2.0])) == pytest.approx(0.5)  # even odds are not a "yes"


def test_paired_accuracy_hand_computed_with_tie_and_missing_twin():
    #                  pair a (win)  pair b (loss) pair c (tie)  twin of d missing   no pair
    t_vs_f = np.array([2.2, -1.4, -0.4, 0.4, 0.8, 0.8, -0.8, 4.6])
    labels = [1, 0, 1, 0, 0, 1, 1, 1]
    index = pairs(["a", "a", "b", "b", "c", "c", "d", None], labels)
    assert index.ids == ("a", "b", "c")
    assert paired_accuracy(t_vs_f, index) == pytest.approx((1 + 0 + 0.5) / 3)


def test_saturated_p_true_does_not_make_a_tie():
    """p_true rounds to exactly 1.0 for both questions (an answer word far less likely than the other group),
    yet the false twin's log-odds are higher in both pairs: the score is 0, not the 0.5 of two ties."""
    scores = np.array([[-1.0, -60.0], [-1.0, -70.0], [-1.0, -50.0], [-1.0, -55.0]])  # columns: a True word, a False word
    labels = np.array([True, False, True, False])
    m = question_metrics(scores, np.array([True, False]), labels)
    assert (m["p_true"] == 1.0).all()
    index = pairs(["a", "a", "b", "b"], labels)
    assert paired_accuracy(m["true_log_odds"], index) == 0.0
    assert auroc(m["true_log_odds"], labels) == 0.25  # 59 > 54 is the one true-above-false of 4 (p_true: 0.5, all tied)
    assert summarize(m, labels, 0.1, index)["paired_accuracy"] == 0.0


def test_paired_accuracy_is_absent_without_pairs():
    assert paired_accuracy(np.array([2.0, -2.0]), pairs([None, None], [True, False])) is None
    assert paired_accuracy(np.array([2.0, -2.0]), pairs(["x", "y"], [True, False])) is None


def test_a_pair_of_one_label_is_refused():
    with pytest.raises(ValueError, match="pair 'a'"):
        pairs(["a", "a"], [True, True])
    with pytest.raises(ValueError, match="pair 'a'"):
        pairs(["a", "a", "a"], [True, False, False])


def test_pair_index_select_keeps_whole_pairs_only():
    index = pairs(["a", "a", "b", "b", "c", "c"], [1, 0, 0, 1, 1, 0])
    chosen = index.select([5, 0, 1, 2])
    assert chosen.ids == ("a",)
    assert (chosen.true_rows.tolist(), chosen.false_rows.tolist()) == ([1], [2])


def test_yes_sayer_fools_accuracy_but_not_the_robust_metrics():
    # A model that says "yes" to everything but ranks each true question a little above its twin.
    t_vs_f = np.array([3.0, 2.2, 3.5, 2.4])
    labels = np.array([True, False, True, False])
    assert np.mean((t_vs_f > 0) == labels) == 0.5
    assert yes_rate(t_vs_f) == 1.0
    assert paired_accuracy(t_vs_f, pairs(["a", "a", "b", "b"], labels)) == 1.0
    assert auroc(t_vs_f, labels) == 1.0


def test_auroc_hand_computed_with_ties_and_one_class():
    # positives 1.4, -0.4; negatives -0.4, -1.4: (1.4>-0.4, 1.4>-1.4, -0.4=-0.4 half, -0.4>-1.4) -> 3.5 / 4
    assert auroc(np.array([1.4, -0.4, -0.4, -1.4]), np.array([1, 1, 0, 0], dtype=bool)) == pytest.approx(3.5 / 4)
    assert auroc(np.array([1.4, -0.4]), np.array([True, True])) is None


# ------------------------------------------------------------------------------------------------
# Paraphrases: consistency across wordings; popularity terciles


def test_consistency_hand_computed():
    # fact f: true question in 3 wordings (right, right, wrong); false question in 2 (right, right).
    # fact g: true in 2 wordings (wrong, wrong); h asked once (not counted).
    facts = ["f", "f", "f", "f", "f", "g", "g", "h"]
    labels = [1, 1, 1, 0, 0, 1, 1, 1]
    accuracy = np.array([1, 1, 0, 1, 1, 0, 0, 1], dtype=float)
    # statements: (f, True) disagrees, (f, False) agrees, (g, True) agrees -> 2 / 3
    assert consistency(accuracy, np.array(labels, dtype=bool), facts) == pytest.approx(2 / 3)
    assert consistency(accuracy, np.array(labels, dtype=bool), [None] * 8) is None


def test_paired_consistency_hand_computed():
    #        fact f, wording 0 (win)  f, wording 1 (win)  g, wording 0 (win) g, wording 1 (loss)  h (once)
    t_vs_f = np.array([2.0, -1.0, 1.0, 0.5, 0.3, -0.3, -0.2, 0.9, 1.0, 0.0])
    labels = np.array([1, 0, 1, 0, 1, 0, 1, 0, 1, 0], dtype=bool)
    index = pairs(["f0", "f0", "f1", "f1", "g0", "g0", "g1", "g1", "h0", "h0"], labels)
    facts = ["f", "f", "f", "f", "g", "g", "g", "g", "h", "h"]
    assert paired_consistency(t_vs_f, index, facts) == pytest.approx(1 / 2)


def test_popularity_terciles_are_per_relation():
    # relation r: 6 pairs with popularity 1..6 (two per tercile); relation s: 3 pairs of huge popularity; one pair without.
    n = 10
    labels = np.array([True, False] * n)
    index = pairs([f"p{i // 2}" for i in range(2 * n)], labels)
    popularity = [p for value in [3, 1, 2, 6, 5, 4, 1e9, 3e9, 2e9, None] for p in (value, value)]
    relations = ["r"] * 12 + ["s"] * 6 + ["r"] * 2
    bins = popularity_terciles(popularity, relations, index)
    assert bins.tolist() == [1, 0, 0, 2, 2, 1, 0, 2, 1, -1]
    t_vs_f = np.array([v for win in [1, 1, 0, 1, 0, 1, 1, 0, 1, 1] for v in ((1.0, -1.0) if win else (-1.0, 1.0))])
    out = by_popularity(t_vs_f, popularity, relations, index)
    assert out == {
        "low": {"paired_accuracy": pytest.approx(2 / 3), "n_pairs": 3},
        "mid": {"paired_accuracy": 1.0, "n_pairs": 3},
        "high": {"paired_accuracy": pytest.approx(1 / 3), "n_pairs": 3},
    }


def test_true_vs_false_agrees_between_numpy_and_torch():
    import torch

    scores = np.log(np.array([[0.5, 0.1, 0.2, 0.1], [0.05, 0.3, 0.1, 0.4]]))
    expected = np.log(np.array([0.6 / 0.3, 0.35 / 0.5]))
    assert true_vs_false(scores, IS_TRUE) == pytest.approx(expected)
    assert true_vs_false(torch.tensor(scores), IS_TRUE).numpy() == pytest.approx(expected)


def test_summary_reports_every_registered_metric():
    scores = np.log(np.array([[0.5, 0.1, 0.2, 0.1], [0.1, 0.1, 0.5, 0.2], [0.3, 0.3, 0.2, 0.1], [0.2, 0.2, 0.3, 0.2]]))
    labels = np.array([True, False, True, False])
    index = pairs(["p", "p", "q", "q"], labels)
    s = summarize(question_metrics(scores, IS_TRUE, labels), labels, 0.1, index, fact_ids=["f", "f", "f", "f"])
    assert set(METRICS) <= set(s)
    assert s["n_pairs"] == 2
    m = question_metrics(scores, IS_TRUE, labels)
    assert s["paired_accuracy"] == paired_accuracy(m["true_log_odds"], index)
    assert s["paired_consistency"] == paired_consistency(m["true_log_odds"], index, ["f"] * 4)
    assert summarize(m, labels, 0.1)["paired_accuracy"] is None
    assert summarize(m, labels, 0.1)["consistency"] is None


def test_summary_carries_the_calibration_battery():
    """ece_adaptive, aurc, the Brier decomposition and both bias corrections, from fk_bench.stats.calibration."""
    from fk_bench.stats import calibration

    scores = np.log(np.array([[0.5, 0.1, 0.2, 0.1], [0.1, 0.1, 0.5, 0.2], [0.3, 0.3, 0.2, 0.1], [0.2, 0.2, 0.3, 0.2]]))
    labels = np.array([True, False, True, False])
    m = question_metrics(scores, IS_TRUE, labels)
    s = summarize(m, labels, 0.1)
    parts = calibration.brier_decomposition(m["p_true"], labels)
    assert s["brier_reliability"] == parts["reliability"] and s["brier_uncertainty"] == pytest.approx(0.25)
    assert s["ece_adaptive"] == calibration.adaptive_ece(m["p_true"], labels)
    assert s["aurc"] == calibration.aurc(m["true_log_odds"], m["accuracy"])
    assert s["batch_calibration"] == calibration.batch_calibration(m["true_log_odds"], labels)
    assert s["contextual_calibration"] is None
    with_cf = summarize(m, labels, 0.1, content_free_log_odds=5.0)["contextual_calibration"]
    assert with_cf["yes_rate"] == 0.0 and with_cf["p_true_content_free"] == pytest.approx(0.9933, abs=1e-4)


def test_a_result_refuses_calibration_numbers_out_of_range():
    """The summary objects are checked like every metric: a share outside [0, 1] is refused by name."""
    from pydantic import ValidationError

    from fk_bench.results import Summary

    good = {"n_questions": 4, "batch_calibration": {"accuracy": 0.5, "yes_rate": 0.25}}
    assert Summary.model_validate(good).batch_calibration.accuracy == 0.5
    for bad in (
        {"n_questions": 4, "batch_calibration": {"accuracy": 1.5, "yes_rate": 0.25}},
        {"n_questions": 4, "contextual_calibration": {"accuracy": 0.5, "yes_rate": 0.5}},
        {"n_questions": 4, "aurc": -0.1},
        {"n_questions": 4, "batch_calibration": {"accuracy": 0.5, "yes_rate": 0.5, "extra": 1}},
    ):
        with pytest.raises(ValidationError):
            Summary.model_validate(bad)
