"""Truth probes per layer: a mass-mean direction and an L2 logistic regression, cross-validated over pairs.

- **Folds** (:func:`pair_folds`): sklearn's GroupKFold with the pair as the group, so both questions
  of a fact are always on the same side of a split (a probe never sees a fact's twin while tested on it).
- **Mass-mean probe** (Marks & Tegmark 2023): the direction ``mean(true) - mean(false)`` of the training
  questions; a question's score is its projection minus the midpoint of the two class means.
- **Logistic probe**: standardized features, L2 logistic regression (scikit-learn), its decision function.
- **Control** (Hewitt & Liang 2019): the same probe trained on shuffled labels (within each training
  set, pair by pair: exactly half of the training pairs get their two labels swapped, so the pairs and
  the class balance stay) and tested on the true labels; it should sit at chance. Selectivity = the
  probe's accuracy minus the control's.
- **Scores** are out of fold: every question is scored by a probe that never saw its pair. Accuracy is
  the share of questions on the right side of 0; paired accuracy the share of pairs whose true question
  scores above its false twin. Intervals: percentile bootstrap over facts (:mod:`interp.core.bootstrap`;
  the pairs of one fact, its wordings, are resampled together).
- **Layer choice** (:func:`choose_layers`), nested: for each outer fold the layer is chosen by the
  mass-mean probe's paired accuracy in an inner cross-validation over the *other* folds only; the
  headline numbers are that fold's held-out scores at its own chosen layer. The reported ``best_layer``
  is the layer most folds chose. No number shown is computed on the data that picked its layer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from interp.core.bootstrap import interval
from interp.probes.probe_defaults import LOGISTIC_C, MAX_ITER, N_FOLDS

Fit = Callable[[np.ndarray, np.ndarray], Callable[[np.ndarray], np.ndarray]]
"""(features, labels) -> a scorer of features (> 0: true)."""


def pair_folds(groups: np.ndarray, n_folds: int = N_FOLDS) -> np.ndarray:
    """The fold of every question (GroupKFold over pairs; as many folds as pairs when fewer than ``n_folds``)."""
    from sklearn.model_selection import GroupKFold

    k = min(n_folds, len(np.unique(groups)))
    folds = np.empty(len(groups), dtype=np.int64)
    for fold, (_, test) in enumerate(GroupKFold(n_splits=k).split(np.zeros(len(groups)), groups=groups)):
        folds[test] = fold
    return folds


def mass_mean_direction(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    """``mean(true) - mean(false)`` and the offset that puts the midpoint of the class means at 0."""
    mu_true, mu_false = x[y].mean(axis=0), x[~y].mean(axis=0)
    direction = mu_true - mu_false
    return direction, float(-(mu_true + mu_false) @ direction / 2)


def fit_mass_mean(x: np.ndarray, y: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    direction, offset = mass_mean_direction(x, y)
    return lambda z: z @ direction + offset


def fit_logistic(x: np.ndarray, y: np.ndarray, c: float = LOGISTIC_C) -> Callable[[np.ndarray], np.ndarray]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    probe = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=MAX_ITER))
    probe.fit(x, y)
    return lambda z: probe.decision_function(z)


FITS: dict[str, Fit] = {"mass_mean": fit_mass_mean, "logistic": fit_logistic}
"""The probes, by the name probe.json gives them."""


def shuffled_labels(y: np.ndarray, groups: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The control's labels: exactly half of the pairs (rounded down) get their two labels swapped, at random.

    Exactly half, not each with probability 1/2: with a strong truth direction any surplus of kept pairs
    over swapped ones leaves that direction in the shuffled labels (a mass-mean probe needs only its sign)."""
    pairs = np.unique(groups)
    swap = np.zeros(int(groups.max()) + 1, dtype=bool)
    swap[rng.choice(pairs, size=len(pairs) // 2, replace=False)] = True
    swapped: np.ndarray = y ^ swap[groups]  # numpy types ^ of two arrays as Any
    return swapped


def out_of_fold(x: np.ndarray, y: np.ndarray, folds: np.ndarray, fit: Fit, control: np.random.Generator | None = None) -> np.ndarray:
    """Every question's score from the probe trained on the other folds. ``control``: trained instead on
    :func:`shuffled_labels` of each training set (drawn from this generator), the shuffled-label control."""
    scores = np.empty(len(y), dtype=np.float64)
    for fold in np.unique(folds):
        test = folds == fold
        labels = y[~test] if control is None else shuffled_labels(y[~test], np.arange(int((~test).sum())) // 2, control)  # rows in pair order
        scores[test] = fit(x[~test], labels)(x[test])
    return scores


def per_pair(scores: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per pair: the share of its two questions on the right side of 0, and whether the true question scores
    above its twin (1, a tie 0.5). Rows are in pair order (true, false, true, false, ...), as :mod:`interp.probes.inputs` gives them."""
    if not (y[0::2].all() and not y[1::2].any()) or len(y) % 2:
        raise ValueError("probe rows must come in pairs: true question, then its false twin")
    right = ((scores > 0) == y).astype(np.float64)
    return (right[0::2] + right[1::2]) / 2, pair_verdicts(scores)


def pair_verdicts(true_log_odds: np.ndarray) -> np.ndarray:
    """Per pair (rows in pair order): 1 where the true question scores above its twin, 0.5 for a tie, else 0
    (:func:`fk_bench.metrics.paired_accuracy`'s rule)."""
    true_side, false_side = true_log_odds[0::2], true_log_odds[1::2]
    verdicts: np.ndarray = (true_side > false_side) + 0.5 * (true_side == false_side)  # numpy types array comparisons as Any
    return verdicts


@dataclass
class LayerScore:
    """One probe's out-of-fold result at one layer."""

    accuracy: float
    paired_accuracy: float
    ci_low: float | None
    ci_high: float | None
    pair_correct: np.ndarray  # per pair: 1 true question above its twin, 0.5 tie, 0 below


def fact_interval(per_pair_values: np.ndarray, facts: np.ndarray | None, seed: int, n_resamples: int) -> tuple[float | None, float | None]:
    """95% bootstrap interval of the mean over pairs, resampling *facts* (all pairs of a fact together:
    the wordings of one fact are not independent); ``facts`` None: every pair its own fact."""
    facts = np.arange(len(per_pair_values)) if facts is None else facts
    sums = np.bincount(facts, weights=per_pair_values)
    counts = np.bincount(facts).astype(np.float64)
    found = interval(lambda index: float(sums[index].sum() / counts[index].sum()), len(sums), "magnitude", seed=seed, n_resamples=n_resamples)
    return found.low, found.high


def score_layer(scores: np.ndarray, y: np.ndarray, seed: int, n_resamples: int, facts: np.ndarray | None = None) -> LayerScore:
    """Accuracy and paired accuracy of out-of-fold ``scores``, the latter's interval over facts (none for 0 resamples)."""
    accuracy, paired = per_pair(scores, y)
    if n_resamples == 0:  # no interval asked for (the control, the object position)
        return LayerScore(float(accuracy.mean()), float(paired.mean()), None, None, paired)
    low, high = fact_interval(paired, facts, seed, n_resamples)
    return LayerScore(float(accuracy.mean()), float(paired.mean()), low, high, paired)


def inner_paired_accuracy(x: np.ndarray, y: np.ndarray, folds: np.ndarray, outer: int, fit: Fit = fit_mass_mean) -> float:
    """Paired accuracy of ``fit`` at one layer, cross-validated over the folds other than ``outer`` (never touching it)."""
    keep = folds != outer
    inner = folds[keep]
    if len(np.unique(inner)) < 2:
        scores = fit(x[keep], y[keep])(x[keep])  # one training fold only: its fit on itself (still never the outer fold)
    else:
        scores = out_of_fold(x[keep], y[keep], inner, fit)
    _, paired = per_pair(scores, y[keep])
    return float(paired.mean())


def choose_layers(inner_scores: np.ndarray) -> tuple[np.ndarray, int]:
    """``inner_scores`` ``[fold, layer]`` (inner-CV paired accuracy) -> each fold's chosen layer, and the layer most folds chose."""
    chosen = inner_scores.argmax(axis=1)
    counts = np.bincount(chosen, minlength=inner_scores.shape[1])
    return chosen, int(counts.argmax())


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-12))
