"""Grouped-answer metrics: pure functions over per-word log-probabilities and labels.

``scores[q, w]`` is log P(word w | prompt of question q). Every per-question metric is signed so that
a positive value means the model leans to the correct answer. The native evaluator and the lm-eval
task both call :func:`question_metrics`, so the two report the same numbers by construction.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit, logsumexp

PER_QUESTION_METRICS = ("logit_diff", "prob_diff", "log_odds", "accuracy", "brier", "p_true")
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

    - ``logit_diff``: mean score of the correct group minus mean of the incorrect group (the seed's
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
    true_vs_false = logsumexp(true_scores, axis=1) - logsumexp(false_scores, axis=1)
    p_true = expit(true_vs_false)
    log_odds = sign * true_vs_false
    return {
        "logit_diff": sign * mean_diff,
        "prob_diff": sign * mass_diff,
        "log_odds": log_odds,
        "accuracy": (log_odds > 0).astype(np.float64),
        "p_true": p_true,
        "brier": (p_true - labels.astype(np.float64)) ** 2,
    }


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


def passes_filter(per_question: dict[str, np.ndarray], threshold: float) -> np.ndarray:
    """The seed's filter: keep questions the model answers correctly with prob_diff >= threshold."""
    return (per_question["accuracy"] > 0) & (per_question["prob_diff"] >= threshold)


def summarize(per_question: dict[str, np.ndarray], labels: np.ndarray, threshold: float) -> dict[str, float | int]:
    """Dataset means of the per-question metrics, ECE, and the number of questions passing the filter."""
    n = int(np.asarray(labels).shape[0])
    summary: dict[str, float | int] = {"n_questions": n}
    for name in ("accuracy", "logit_diff", "prob_diff", "log_odds", "brier"):
        summary[name] = float(np.mean(per_question[name])) if n else float("nan")
    summary["ece"] = expected_calibration_error(per_question["p_true"], labels)
    summary["n_pass_filter"] = int(passes_filter(per_question, threshold).sum())
    summary["filter_threshold"] = threshold
    return summary
