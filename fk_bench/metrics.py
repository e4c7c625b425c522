"""Grouped-answer metrics: pure functions over per-word log-probabilities and labels.

``scores[q, w]`` is log P(word w | prompt of question q). Every per-question metric is signed so that
a positive value means the model leans to the correct answer. The native evaluator, the lm-eval task
and the leaderboard all use these functions and the one registry :data:`METRICS`, so they report the
same numbers under the same names by construction.

Accuracy alone can be faked by a bias: a model that says "yes" to everything scores 0.5 on balanced
data whatever it knows. ``paired_accuracy`` (does the true question get a higher log(p_True/p_False)
than its corrupted twin?) and ``auroc`` (does that log-odds rank true above false questions?) are
threshold-free and see past such a bias; ``yes_rate`` shows the bias itself. Pairwise and ranking
metrics compare log-odds, never p_true, which rounds to exactly 0 or 1 when the model is sure enough.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import expit, logsumexp

from fk_bench.pair_index import PairIndex, groups_of
from fk_bench.spec import DEFAULT_FILTER_THRESHOLD


@dataclass(frozen=True)
class Metric:
    """One reported number: its name everywhere (results.json, lm-eval, leaderboard) and how to read it."""

    name: str
    higher_is_better: bool | None
    per_question: bool
    description: str
    bounds: tuple[float, float] | None = (0.0, 1.0)
    """The values the metric can take (None: any finite number); a result file outside them is refused."""
    paraphrase_only: bool = False
    """Defined only on data that asks each fact in several wordings (the ``paraphrase`` config)."""


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("accuracy", True, True, "share of questions where the correct group is the more probable (log_odds > 0)"),
        Metric(
            "paired_accuracy",
            True,
            False,
            "share of pairs (a true question and its corrupted twin) where the true question gets the higher log(p_True/p_False); ties count half",
        ),
        Metric(
            "auroc",
            True,
            False,
            "area under the ROC curve of log(p_True/p_False) against the labels: how well the model ranks true above false",
        ),
        Metric("yes_rate", None, False, "share of questions with p_true > 0.5 (0.5 on balanced data for a model without a yes/no bias)"),
        Metric("log_odds", True, True, "log(p_correct / p_incorrect) over the two answer groups' probability masses, in nats", bounds=None),
        Metric(
            "logit_diff",
            True,
            True,
            "mean log-prob of the correct group's words minus the incorrect group's (the study's average logit difference)",
            bounds=None,
        ),
        Metric("prob_diff", True, True, "probability mass of the correct group minus that of the incorrect group", bounds=(-1.0, 1.0)),
        Metric("brier", False, True, "(p_true - label)^2, averaged"),
        Metric("ece", False, False, "expected calibration error of p_true over 10 equal-width bins"),
        Metric("ece_adaptive", False, False, "expected calibration error of p_true over 10 equal-mass bins (as many questions in each)"),
        Metric(
            "aurc",
            False,
            False,
            "area under the risk-coverage curve: error rate among the questions the model is surest of (by |log-odds|), averaged over coverage",
        ),
        Metric("brier_reliability", False, False, "Brier decomposition: how far p_true is from the observed frequency in its bin (0 = calibrated)"),
        Metric("brier_resolution", True, False, "Brier decomposition: how far the bins' observed frequencies spread from the base rate"),
        Metric(
            "brier_uncertainty", None, False, "Brier decomposition: base rate x (1 - base rate), a property of the questions (0.25 when balanced)"
        ),
        Metric(
            "consistency",
            True,
            False,
            "share of statements asked in several wordings whose accuracy verdict is the same in every wording",
            paraphrase_only=True,
        ),
        Metric(
            "paired_consistency",
            True,
            False,
            "share of facts asked in several wordings whose pairwise verdict (true question above its twin) is the same in every wording",
            paraphrase_only=True,
        ),
    )
}
"""Every summary metric, in display order."""

PER_QUESTION_METRICS = ("logit_diff", "prob_diff", "log_odds", "accuracy", "brier", "p_true", "true_log_odds")
"""The per-question columns of results (``true_log_odds`` is log(p_True/p_False), unsigned: what pairwise
and ranking metrics compare)."""
POPULARITY_BINS = ("low", "mid", "high")
"""Popularity terciles, computed within each relation (populations and other measures are not comparable across relations)."""


def relative_to_delimiter(loglik: np.ndarray) -> np.ndarray:
    """Word scores from lm-eval log-likelihoods whose column 0 is the bare delimiter continuation.

    HFLM moves a prompt's trailing whitespace ("\n") into every continuation; subtracting the
    delimiter's own log-likelihood leaves log P(word | prompt including the delimiter).
    """
    values = np.asarray(loglik, dtype=np.float64)
    return values[..., 1:] - values[..., :1]


def _split(scores: np.ndarray, is_true_word: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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
    - ``true_log_odds``: log(p_T / p_F), unsigned; unlike p_true it never rounds to 0 or 1.
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
        "true_log_odds": t_vs_f,
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


def yes_rate(true_log_odds: np.ndarray) -> float:
    """Share of questions the model calls true (p_True > p_False, i.e. log(p_True/p_False) > 0)."""
    values = np.asarray(true_log_odds, dtype=np.float64)
    return float(np.mean(values > 0)) if values.size else float("nan")


def paired_accuracy(true_log_odds: np.ndarray, pairs: PairIndex) -> float | None:
    """Over ``pairs``, the share where the true question gets the higher log(p_True/p_False); a tie counts
    half. None when there is no complete pair."""
    return float(np.mean(pairs.verdicts(true_log_odds))) if len(pairs) else None


def auroc(true_log_odds: np.ndarray, labels: np.ndarray) -> float | None:
    """ROC AUC of log(p_True/p_False) against the labels (scikit-learn's); None when only one class is present.

    The log-odds rank exactly as p_true does, except where p_true saturates to 0 or 1 and ties questions
    the model still tells apart.
    """
    from sklearn.metrics import roc_auc_score

    labels = np.asarray(labels, dtype=bool)
    if labels.all() or not labels.any():
        return None
    return float(roc_auc_score(labels, np.asarray(true_log_odds, dtype=np.float64)))


def consistency(accuracy: np.ndarray, labels: np.ndarray, fact_ids: Sequence[Any]) -> float | None:
    """Over the statements asked in two or more wordings (the questions sharing a fact id and a label), the share
    whose accuracy verdict is the same in every wording. None when no statement is asked twice."""
    groups = groups_of([(fact, bool(label)) for fact, label in zip(fact_ids, labels)])
    if not groups:
        return None
    accuracy = np.asarray(accuracy, dtype=np.float64)
    return float(np.mean([np.all(accuracy[rows] == accuracy[rows[0]]) for rows in groups.values()]))


def paired_consistency(true_log_odds: np.ndarray, pairs: PairIndex, fact_ids: Sequence[Any]) -> float | None:
    """Over the facts asked in two or more wordings (the pairs whose questions share a fact id), the share whose
    pairwise verdict (win, tie or loss of the true question over its twin) is the same in every wording."""
    if not len(pairs):
        return None
    groups = groups_of([fact_ids[int(row)] for row in pairs.true_rows])
    if not groups:
        return None
    verdicts = pairs.verdicts(true_log_odds)
    return float(np.mean([np.all(verdicts[members] == verdicts[members[0]]) for members in groups.values()]))


def popularity_terciles(popularity: Sequence[Any], relations: Sequence[str], pairs: PairIndex) -> np.ndarray:
    """Per pair, its popularity tercile within its relation (0 low, 1 mid, 2 high; -1 without a popularity).

    A pair's popularity is its true question's (the subject's); pairs are ranked within their relation and
    cut into three groups of equal size (a relation with fewer than 3 pairs of known popularity gets none).
    """
    bins = np.full(len(pairs), -1, dtype=np.int64)
    values = np.array([np.nan if p is None else float(p) for p in popularity], dtype=np.float64)
    by_relation: dict[str, list[int]] = {}
    for index, row in enumerate(pairs.true_rows):
        if np.isfinite(values[row]):
            by_relation.setdefault(relations[int(row)], []).append(index)
    for members in by_relation.values():
        if len(members) < len(POPULARITY_BINS):
            continue
        order = np.argsort(values[pairs.true_rows[members]], kind="stable")
        ranks = np.empty(len(members), dtype=np.int64)
        ranks[order] = np.arange(len(members))
        bins[members] = ranks * len(POPULARITY_BINS) // len(members)
    return bins


def by_popularity(true_log_odds: np.ndarray, popularity: Sequence[Any], relations: Sequence[str], pairs: PairIndex) -> dict[str, dict[str, float]]:
    """Paired accuracy per popularity tercile (:func:`popularity_terciles`); empty when no pair has a popularity."""
    bins = popularity_terciles(popularity, relations, pairs)
    verdicts = pairs.verdicts(true_log_odds)
    out: dict[str, dict[str, float]] = {}
    for number, name in enumerate(POPULARITY_BINS):
        chosen = bins == number
        if chosen.any():
            out[name] = {"paired_accuracy": float(verdicts[chosen].mean()), "n_pairs": int(chosen.sum())}
    return out


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


LM_EVAL_EXTRA_METRICS = (
    Metric(
        "batch_calibrated_accuracy",
        True,
        False,
        "accuracy once the mean log(p_True/p_False) over the questions (the yes/no bias) is subtracted from each: batch calibration",
    ),
)
"""Reported by the lm-eval task beside :data:`METRICS`; fk-bench's own results hold it as ``batch_calibration.accuracy``."""


def passes_filter(per_question: dict[str, Any], threshold: float) -> np.ndarray:
    """The study's per-question filter: keep questions answered correctly with prob_diff >= threshold.
    ``per_question`` is anything indexable by metric name (a dict of arrays, a DataFrame, a lm-eval sample)."""
    return (np.asarray(per_question["accuracy"]) > 0) & (np.asarray(per_question["prob_diff"]) >= threshold)


def summarize(
    per_question: dict[str, np.ndarray],
    labels: np.ndarray,
    threshold: float = DEFAULT_FILTER_THRESHOLD,
    pairs: PairIndex | None = None,
    fact_ids: Sequence[Any] | None = None,
    content_free_log_odds: float | None = None,
) -> dict[str, Any]:
    """Every metric of :data:`METRICS` over a set of questions, and the counts of pairs and of questions passing the filter.

    Means of the per-question metrics; the corpus metrics over the whole set (they are not means of
    per-question numbers). ``paired_accuracy`` and ``auroc`` are None where the set has no complete pair
    or only one class, the consistencies where no fact is asked in several wordings: absent, not 0.
    Beside them, ``batch_calibration`` (the set's mean log-odds removed) and, given the log-odds of the
    prompt format on content-free inputs, ``contextual_calibration`` (:mod:`fk_bench.stats.calibration`).
    """
    from fk_bench.stats import calibration

    labels = np.asarray(labels, dtype=bool)
    n = int(labels.shape[0])
    if n == 0:
        raise ValueError("no questions to summarize")
    pairs = pairs if pairs is not None else PairIndex.from_ids([None] * n, labels)
    t_vs_f = per_question["true_log_odds"]
    corpus = {
        "paired_accuracy": paired_accuracy(t_vs_f, pairs),
        "auroc": auroc(t_vs_f, labels),
        "yes_rate": yes_rate(t_vs_f),
        "ece": expected_calibration_error(per_question["p_true"], labels),
        "consistency": consistency(per_question["accuracy"], labels, fact_ids) if fact_ids is not None else None,
        "paired_consistency": paired_consistency(t_vs_f, pairs, fact_ids) if fact_ids is not None else None,
        "ece_adaptive": calibration.adaptive_ece(per_question["p_true"], labels),
        "aurc": calibration.aurc(t_vs_f, per_question["accuracy"]),
        **{f"brier_{k}": v for k, v in calibration.brier_decomposition(per_question["p_true"], labels).items()},
    }
    summary: dict[str, Any] = {"n_questions": n}
    for name, metric in METRICS.items():
        summary[name] = float(np.mean(per_question[name])) if metric.per_question else corpus[name]
    summary["n_pairs"] = len(pairs)
    summary["n_pass_filter"] = int(passes_filter(per_question, threshold).sum())
    summary["batch_calibration"] = calibration.batch_calibration(t_vs_f, labels)
    summary["contextual_calibration"] = (
        None if content_free_log_odds is None else calibration.contextual_calibration(t_vs_f, labels, content_free_log_odds)
    )
    return summary
