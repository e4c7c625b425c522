"""Grouped-answer metrics: pure functions over per-word log-probabilities and labels.

``scores[q, w]`` is log P(word w | prompt of question q). Every per-question metric is signed so that
a positive value means the model leans to the correct answer. The native evaluator, the lm-eval task
and the leaderboard all use these functions and the one registry :data:`METRICS`, so they report the
same numbers under the same names by construction.

Accuracy alone can be faked by a bias: a model that says "yes" to everything scores 0.5 on balanced
data whatever it knows. ``paired_accuracy`` (does the true question get a higher p_true than its
corrupted twin?) and ``auroc`` (does p_true rank true above false questions?) are threshold-free and
see past such a bias; ``yes_rate`` shows the bias itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import expit, logsumexp


@dataclass(frozen=True)
class Metric:
    """One reported number: its name everywhere (results.json, lm-eval, leaderboard) and how to read it."""

    name: str
    higher_is_better: bool | None
    per_question: bool
    description: str


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("accuracy", True, True, "share of questions where the correct group is the more probable (log_odds > 0)"),
        Metric(
            "paired_accuracy",
            True,
            False,
            "share of pairs (a true question and its corrupted twin) where the true question gets the higher p_true; ties count half",
        ),
        Metric("auroc", True, False, "area under the ROC curve of p_true against the labels: how well p_true ranks true above false questions"),
        Metric("yes_rate", None, False, "share of questions with p_true > 0.5 (0.5 on balanced data for a model without a yes/no bias)"),
        Metric("log_odds", True, True, "log(p_correct / p_incorrect) over the two answer groups' probability masses, in nats"),
        Metric(
            "logit_diff", True, True, "mean log-prob of the correct group's words minus the incorrect group's (the study's average logit difference)"
        ),
        Metric("prob_diff", True, True, "probability mass of the correct group minus that of the incorrect group"),
        Metric("brier", False, True, "(p_true - label)^2, averaged"),
        Metric("ece", False, False, "expected calibration error of p_true over 10 equal-width bins"),
    )
}
"""Every summary metric, in display order."""

PER_QUESTION_METRICS = ("logit_diff", "prob_diff", "log_odds", "accuracy", "brier", "p_true")
SUMMARY_MEAN_METRICS = tuple(name for name, metric in METRICS.items() if metric.per_question)
DEFAULT_FILTER_THRESHOLD = 0.1


def relative_to_delimiter(loglik: np.ndarray) -> np.ndarray:
    """Word scores from lm-eval log-likelihoods whose column 0 is the bare delimiter continuation.

    HFLM moves a prompt's trailing whitespace ("\n") into every continuation; subtracting the
    delimiter's own log-likelihood leaves log P(word | prompt including the delimiter).
    """
    loglik = np.asarray(loglik, dtype=np.float64)
    return loglik[..., 1:] - loglik[..., :1]


def _split(scores: np.ndarray, is_true_word: np.ndarray, labels: np.ndarray):
    scores = np.atleast_2d(np.asarray(scores, dtype=np.float64))
    is_true_word = np.asarray(is_true_word, dtype=bool)
    labels = np.atleast_1d(np.asarray(labels, dtype=bool))
    if scores.shape != (labels.shape[0], is_true_word.shape[0]):
        raise ValueError(f"scores {scores.shape} do not match {labels.shape[0]} labels x {is_true_word.shape[0]} words")
    if is_true_word.all() or not is_true_word.any():
        raise ValueError("both answer groups need at least one word")
    return scores[:, is_true_word], scores[:, ~is_true_word], labels


def question_metrics(scores: np.ndarray, is_true_word: np.ndarray, labels: np.ndarray) -> dict[str, np.ndarray]:
    """Per-question metrics, each an array of shape [n_questions].

    - ``logit_diff``: mean score of the correct group minus mean of the incorrect group (the original study's
      "average logit difference"; log-probs and logits differ by one constant per position).
    - ``prob_diff``: probability mass of the correct group minus that of the incorrect group.
    - ``log_odds``: logsumexp(correct) - logsumexp(incorrect), the exact log of p_correct / p_incorrect.
    - ``accuracy``: 1.0 where log_odds > 0.
    - ``p_true``: p_T / (p_T + p_F), the model's probability that the statement is true.
    - ``brier``: (p_true - label)^2, lower is better.
    """
    true_scores, false_scores, labels = _split(scores, is_true_word, labels)
    sign = np.where(labels, 1.0, -1.0)
    mean_diff = true_scores.mean(axis=1) - false_scores.mean(axis=1)
    mass_diff = np.exp(true_scores).sum(axis=1) - np.exp(false_scores).sum(axis=1)
    t_vs_f = logsumexp(true_scores, axis=1) - logsumexp(false_scores, axis=1)
    p_true = expit(t_vs_f)
    log_odds = sign * t_vs_f
    return {
        "logit_diff": sign * mean_diff,
        "prob_diff": sign * mass_diff,
        "log_odds": log_odds,
        "accuracy": (log_odds > 0).astype(np.float64),
        "p_true": p_true,
        "brier": (p_true - labels.astype(np.float64)) ** 2,
    }


def true_vs_false(scores: Any, is_true_word: Sequence[bool]) -> Any:
    """logsumexp(True group) - logsumexp(False group) per row: log(p_T / p_F). Works on numpy arrays and
    on torch tensors (keeping gradients), so interp's attribution patching uses the same definition."""
    mask = np.asarray(is_true_word, dtype=bool)
    if hasattr(scores, "logsumexp"):  # a torch tensor
        index = np.flatnonzero(mask).tolist(), np.flatnonzero(~mask).tolist()
        return scores[..., index[0]].logsumexp(-1) - scores[..., index[1]].logsumexp(-1)
    scores = np.asarray(scores, dtype=np.float64)
    return logsumexp(scores[..., mask], axis=-1) - logsumexp(scores[..., ~mask], axis=-1)


def yes_rate(p_true: np.ndarray) -> float:
    """Share of questions the model calls true (p_true > 0.5)."""
    p_true = np.asarray(p_true, dtype=np.float64)
    return float(np.mean(p_true > 0.5)) if p_true.size else float("nan")


def paired_accuracy(p_true: np.ndarray, labels: np.ndarray, pair_ids: Sequence[Any]) -> float | None:
    """Over the pairs in the data (the questions sharing a pair id: one true, one false), the share where
    the true question gets the higher p_true; a tie counts half. None when the data has no complete pair.

    A pair id shared by two questions with the same label, or by more than two, is a data error
    (:func:`fk_bench.data.load_questions` refuses it); here it raises ValueError.
    """
    p_true = np.asarray(p_true, dtype=np.float64)
    labels = np.asarray(labels, dtype=bool)
    members: dict[Any, list[int]] = {}
    for index, pair_id in enumerate(pair_ids):
        if pair_id is not None and pair_id == pair_id and pair_id != "":  # None, NaN and "" mean "no pair"
            members.setdefault(pair_id, []).append(index)
    wins = []
    for pair_id, rows in members.items():
        if len(rows) == 1:
            continue  # its twin is not in this slice of the data
        if len(rows) != 2 or labels[rows[0]] == labels[rows[1]]:
            raise ValueError(f"pair {pair_id!r}: needs exactly one true and one false question, has labels {labels[rows].tolist()}")
        true_row, false_row = (rows[0], rows[1]) if labels[rows[0]] else (rows[1], rows[0])
        diff = p_true[true_row] - p_true[false_row]
        wins.append(1.0 if diff > 0 else 0.5 if diff == 0 else 0.0)
    return float(np.mean(wins)) if wins else None


def auroc(p_true: np.ndarray, labels: np.ndarray) -> float | None:
    """ROC AUC of p_true against the labels (scikit-learn's); None when only one class is present."""
    from sklearn.metrics import roc_auc_score

    labels = np.asarray(labels, dtype=bool)
    if labels.all() or not labels.any():
        return None
    return float(roc_auc_score(labels, np.asarray(p_true, dtype=np.float64)))


def expected_calibration_error(p_true: np.ndarray, labels: np.ndarray, n_bins: int = 10) -> float:
    """ECE of p_true against the labels over ``n_bins`` equal-width bins (reliability-diagram form)."""
    p_true = np.asarray(p_true, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.float64)
    if p_true.size == 0:
        return float("nan")
    bins = np.minimum((p_true * n_bins).astype(int), n_bins - 1)
    ece = 0.0
    for b in np.unique(bins):
        in_bin = bins == b
        ece += in_bin.mean() * abs(labels[in_bin].mean() - p_true[in_bin].mean())
    return float(ece)


def passes_filter(per_question: dict[str, Any], threshold: float) -> np.ndarray:
    """The study's per-question filter: keep questions answered correctly with prob_diff >= threshold.
    ``per_question`` is anything indexable by metric name (a dict of arrays, a DataFrame, a lm-eval sample)."""
    return (np.asarray(per_question["accuracy"]) > 0) & (np.asarray(per_question["prob_diff"]) >= threshold)


def summarize(
    per_question: dict[str, np.ndarray], labels: np.ndarray, threshold: float, pair_ids: Sequence[Any] | None = None
) -> dict[str, float | int | None]:
    """Every metric of :data:`METRICS` over a set of questions, and the number passing the filter.

    Means of the per-question metrics; ECE, AUROC, yes_rate and paired accuracy over the whole set
    (they are not means of per-question numbers). ``paired_accuracy`` and ``auroc`` are None where the set
    has no complete pair or only one class: absent, not 0.
    """
    labels = np.asarray(labels, dtype=bool)
    n = int(labels.shape[0])
    if n == 0:
        raise ValueError("no questions to summarize")
    p_true = per_question["p_true"]
    summary: dict[str, float | int | None] = {"n_questions": n}
    corpus = {
        "paired_accuracy": paired_accuracy(p_true, labels, pair_ids) if pair_ids is not None else None,
        "auroc": auroc(p_true, labels),
        "yes_rate": yes_rate(p_true),
        "ece": expected_calibration_error(p_true, labels),
    }
    for name, metric in METRICS.items():
        summary[name] = float(np.mean(per_question[name])) if metric.per_question else corpus[name]
    summary["n_pairs"] = _count_pairs(pair_ids) if pair_ids is not None else 0
    summary["n_pass_filter"] = int(passes_filter(per_question, threshold).sum())
    summary["filter_threshold"] = threshold
    return summary


def _count_pairs(pair_ids: Sequence[Any]) -> int:
    seen: dict[Any, int] = {}
    for pair_id in pair_ids:
        if pair_id is not None and pair_id == pair_id and pair_id != "":
            seen[pair_id] = seen.get(pair_id, 0) + 1
    return sum(1 for count in seen.values() if count == 2)
