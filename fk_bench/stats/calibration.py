"""The calibration battery: adaptive ECE, the Brier decomposition, selective prediction, and two bias corrections.

- Adaptive ECE (Nixon et al. 2019): ECE over bins of equal *mass* (the same number of questions), so the
  many confident questions of a sure model are not lumped into one bin.
- Brier decomposition (Murphy 1973): Brier = reliability - resolution + uncertainty, exact when the
  forecasts within a bin are equal (binned forecasts); p(True) is binned into 10 equal-width bins.
- Selective prediction: answer only the questions the model is surest of (largest |log(p_True/p_False)|);
  the risk-coverage curve and its area AURC (Geifman and El-Yaniv 2017; lower is better).
- Contextual calibration (Zhao et al. 2021): the log-odds the prompt format alone gives on content-free
  inputs ("N/A", "", "[MASK]") is the bias; subtracting it from every question's log-odds corrects it.
- Batch calibration (Zhou et al. 2024): the bias is estimated from the run itself; as the issue asks,
  the mean log(p_True/p_False) over the questions, subtracted from every question's.
"""

from __future__ import annotations

import numpy as np

N_BINS = 10
"""Bins of the ECEs, the Brier decomposition and the reliability diagram."""


def _as_arrays(p_true: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(p_true, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    if p.shape != y.shape:
        raise ValueError(f"{p.size} probabilities for {y.size} labels")
    return p, y


def adaptive_ece(p_true: np.ndarray, labels: np.ndarray, n_bins: int = N_BINS) -> float:
    """ECE over ``n_bins`` bins of (nearly) equal size, cut at the sorted p(True); NaN without questions."""
    p, y = _as_arrays(p_true, labels)
    if p.size == 0:
        return float("nan")
    order = np.argsort(p, kind="stable")
    return float(sum(len(b) * abs(y[b].mean() - p[b].mean()) for b in np.array_split(order, min(n_bins, p.size))) / p.size)


def equal_width_bins(p_true: np.ndarray, n_bins: int = N_BINS) -> np.ndarray:
    """Each probability's bin among ``n_bins`` equal-width bins of [0, 1] (1.0 in the last)."""
    return np.minimum((np.asarray(p_true, dtype=np.float64) * n_bins).astype(np.int64), n_bins - 1)


def brier_decomposition(p_true: np.ndarray, labels: np.ndarray, n_bins: int = N_BINS) -> dict[str, float]:
    """Murphy's reliability, resolution and uncertainty over equal-width bins of p(True).

    reliability = sum_k n_k/N (mean forecast_k - observed frequency_k)^2 (lower is better);
    resolution = sum_k n_k/N (observed frequency_k - base rate)^2 (higher is better);
    uncertainty = base rate (1 - base rate). Their sum reliability - resolution + uncertainty equals the
    Brier score exactly when every bin's forecasts are equal; otherwise it differs by the within-bin spread.
    """
    p, y = _as_arrays(p_true, labels)
    if p.size == 0:
        return {"reliability": float("nan"), "resolution": float("nan"), "uncertainty": float("nan")}
    bins = equal_width_bins(p, n_bins)
    base = y.mean()
    size = np.bincount(bins, minlength=n_bins).astype(np.float64)
    used = size > 0
    forecast = np.bincount(bins, weights=p, minlength=n_bins)[used] / size[used]
    observed = np.bincount(bins, weights=y, minlength=n_bins)[used] / size[used]
    share = size[used] / p.size
    return {
        "reliability": float(np.sum(share * (forecast - observed) ** 2)),
        "resolution": float(np.sum(share * (observed - base) ** 2)),
        "uncertainty": float(base * (1.0 - base)),
    }


def reliability_diagram(p_true: np.ndarray, labels: np.ndarray, n_bins: int = N_BINS) -> dict[str, list[float]]:
    """Per non-empty equal-width bin: its mean p(True), the share of true questions, and its size."""
    p, y = _as_arrays(p_true, labels)
    bins = equal_width_bins(p, n_bins)
    used = [b for b in range(n_bins) if np.any(bins == b)]
    return {
        "confidence": [float(p[bins == b].mean()) for b in used],
        "frequency": [float(y[bins == b].mean()) for b in used],
        "count": [int(np.sum(bins == b)) for b in used],
    }


def risk_coverage(true_log_odds: np.ndarray, correct: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The selective-prediction curve: coverage k/n and the error rate among the k questions the model is surest of.

    Confidence is |log(p_True/p_False)|; questions of equal confidence enter together (the curve's points
    are taken after each group of ties), so the order of the input does not matter.
    """
    confidence = np.abs(np.asarray(true_log_odds, dtype=np.float64))
    right = np.asarray(correct, dtype=np.float64)
    if confidence.shape != right.shape or confidence.size == 0:
        raise ValueError(f"risk-coverage: {confidence.size} log-odds for {right.size} verdicts")
    order = np.argsort(-confidence, kind="stable")
    sorted_conf, errors = confidence[order], np.cumsum(1.0 - right[order])
    ends = np.append(np.flatnonzero(np.diff(sorted_conf) != 0), sorted_conf.size - 1)
    covered = ends + 1
    return covered / confidence.size, errors[ends] / covered


def aurc(true_log_odds: np.ndarray, correct: np.ndarray) -> float:
    """Area under the risk-coverage curve: the mean, over k = 1..n, of the error rate among the k surest
    questions (ties share their group's rate). 0 for a perfect ranking of right before wrong."""
    confidence = np.abs(np.asarray(true_log_odds, dtype=np.float64))
    coverage, risk = risk_coverage(true_log_odds, correct)
    counts = np.diff(np.concatenate([[0], np.rint(coverage * confidence.size)]))
    # Inside a tie group the k-th point's risk is unknown; use the group's (expected over the tie order).
    return float(np.sum(counts * risk) / confidence.size)


def calibrated(true_log_odds: np.ndarray, labels: np.ndarray, bias: float) -> dict[str, float]:
    """Accuracy and yes-rate of the verdicts once ``bias`` is subtracted from every log(p_True/p_False)."""
    shifted = np.asarray(true_log_odds, dtype=np.float64) - bias
    says_true = shifted > 0
    return {"accuracy": float(np.mean(says_true == np.asarray(labels, dtype=bool))), "yes_rate": float(np.mean(says_true))}


def batch_calibration(true_log_odds: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Batch calibration: the run's mean log-odds is its yes/no bias; the verdicts with it removed."""
    values = np.asarray(true_log_odds, dtype=np.float64)
    return calibrated(values, labels, float(values.mean()))


def contextual_calibration(true_log_odds: np.ndarray, labels: np.ndarray, content_free_log_odds: float) -> dict[str, float]:
    """Contextual calibration: the log-odds on content-free inputs is the bias; p(True) there, and the verdicts
    with it removed."""
    from scipy.special import expit

    return {"p_true_content_free": float(expit(content_free_log_odds)), **calibrated(true_log_odds, labels, content_free_log_odds)}
