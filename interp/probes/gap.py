"""The hidden-knowledge gap: what the probe reads minus what the model says, per pair, with a paired interval.

Per pair, the probe's verdict (its held-out score of the true question above the false twin's, at the
layer chosen without that pair, :mod:`interp.probes.fitting`) minus the output's verdict (the run's
log(p_True / p_False) of the true question above the twin's; ties half, as
:func:`fk_bench.metrics.paired_accuracy`). The gap is the mean of that difference; its interval
resamples facts, both verdicts of each pair together (a paired bootstrap, :func:`interp.probes.fitting.fact_interval`).
A relation whose gap interval lies above :data:`~interp.probes.probe_defaults.KNOWS_MARGIN` is named: the
model *knows but does not say*.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from interp.probes.fitting import fact_interval
from interp.probes.probe_defaults import KNOWS_MARGIN


def gap_json(probe: np.ndarray, output: np.ndarray, seed: int, n_resamples: int, facts: np.ndarray | None = None) -> dict[str, Any]:
    """The gap over these pairs: ``value``, ``ci_low``, ``ci_high`` (resampling facts, :func:`fact_interval`),
    both paired accuracies and the pair count."""
    difference = probe - output
    low, high = fact_interval(difference, None if facts is None else np.unique(facts, return_inverse=True)[1], seed, n_resamples)
    return {
        "value": float(difference.mean()),
        "ci_low": low,
        "ci_high": high,
        "probe_paired_accuracy": float(probe.mean()),
        "output_paired_accuracy": float(output.mean()),
        "n_pairs": len(difference),
    }


def gaps_by_relation(
    probe: np.ndarray, output: np.ndarray, relations: Sequence[str], seed: int, n_resamples: int, facts: np.ndarray | None = None
) -> dict[str, dict[str, Any]]:
    """:func:`gap_json` per relation (``relations`` and ``facts``: one per pair)."""
    names = np.asarray(relations)
    out = {}
    for name in sorted(set(relations)):
        chosen = names == name
        out[name] = gap_json(probe[chosen], output[chosen], seed, n_resamples, None if facts is None else facts[chosen])
    return out


def knows_but_does_not_say(per_relation: dict[str, dict[str, Any]]) -> list[str]:
    """The relations whose gap interval lies wholly above the margin."""
    return [name for name, gap in per_relation.items() if gap["ci_low"] is not None and gap["ci_low"] > KNOWS_MARGIN]
