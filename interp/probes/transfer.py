"""Does "truth" transfer across domains? A probe trained on one domain, tested on each other.

At the chosen layer (last position), the logistic probe is trained on every question of domain A
and tested on domain B: ``matrix[A][B]`` is that accuracy (``paired_matrix`` the paired accuracy).
The diagonal is the within-domain grouped cross-validation (a domain is never tested on its own
training pairs). ``leave_one_out[A]``: trained on every other domain, tested on A. Domains with fewer
than :data:`~interp.probes.inputs.MIN_PAIRS` pairs are left out (and listed).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from interp.probes.fitting import FITS, out_of_fold, pair_folds, per_pair
from interp.probes.inputs import MIN_PAIRS


def _score(scores: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    accuracy, paired = per_pair(scores, y)
    return float(accuracy.mean()), float(paired.mean())


def transfer_json(x: np.ndarray, y: np.ndarray, groups: np.ndarray, domains: Sequence[str], probe: str = "logistic") -> dict[str, Any]:
    """The domain x domain matrices and leave-one-domain-out scores of ``probe`` on features ``x`` (rows in pair order)."""
    fit = FITS[probe]
    names = np.asarray(domains)
    pair_domain = names[0::2]
    counts = {d: int((pair_domain == d).sum()) for d in sorted(set(domains))}
    kept = [d for d, n in counts.items() if n >= MIN_PAIRS]
    masks = {d: names == d for d in kept}
    matrix: list[list[float | None]] = [[None] * len(kept) for _ in kept]
    paired: list[list[float | None]] = [[None] * len(kept) for _ in kept]
    for i, source in enumerate(kept):
        train = masks[source]
        scorer = fit(x[train], y[train])
        for j, target in enumerate(kept):
            test = masks[target]
            if i == j:
                scores = out_of_fold(x[test], y[test], pair_folds(groups[test]), fit)
            else:
                scores = scorer(x[test])
            matrix[i][j], paired[i][j] = _score(scores, y[test])
    leave_one_out: dict[str, dict[str, Any]] = {}
    if len(kept) > 1:
        for target in kept:
            test = masks[target]
            train = np.isin(names, kept) & ~test
            accuracy, pair_accuracy = _score(fit(x[train], y[train])(x[test]), y[test])
            leave_one_out[target] = {"accuracy": accuracy, "paired_accuracy": pair_accuracy}
    return {
        "probe": probe,
        "domains": kept,
        "n_pairs": {d: counts[d] for d in kept},
        "left_out": {d: n for d, n in counts.items() if d not in kept},
        "matrix": matrix,
        "paired_matrix": paired,
        "leave_one_out": leave_one_out,
    }
