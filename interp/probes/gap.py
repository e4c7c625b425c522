"""The hidden-knowledge gap: what the probe reads minus what the model says, per pair, with a paired interval.

Per pair, the probe's verdict (its held-out score of the true question above the false twin's, at the
layer chosen without that pair, :mod:`interp.probes.fitting`) minus the output's verdict (the run's
log(p_True / p_False) of the true question above the twin's; ties half, as
:func:`fk_bench.metrics.paired_accuracy`). The gap is the mean of that difference; its interval
resamples pairs, both verdicts of a pair together (a paired bootstrap, :func:`interp.core.bootstrap.interval`).
A relation whose gap interval lies above :data:`~interp.probes.probe_defaults.KNOWS_MARGIN` is named: the
model *knows but does not say*.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from interp.core.bootstrap import interval
from interp.probes.probe_defaults import KNOWS_MARGIN


def gap_json(probe: np.ndarray, output: np.ndarray, seed: int, n_resamples: int) -> dict:
    """The gap over these pairs: ``value``, ``ci_low``, ``ci_high``, both paired accuracies and the pair count."""
    difference = probe - output
    found = interval(lambda index: float(difference[index].mean()), len(difference), "magnitude", seed=seed, n_resamples=n_resamples)
    return {
        "value": found.estimate,
        "ci_low": found.low,
        "ci_high": found.high,
        "probe_paired_accuracy": float(probe.mean()),
        "output_paired_accuracy": float(output.mean()),
        "n_pairs": len(difference),
    }


def gaps_by_relation(probe: np.ndarray, output: np.ndarray, relations: Sequence[str], seed: int, n_resamples: int) -> dict[str, dict]:
    """:func:`gap_json` per relation (``relations``: one per pair)."""
    names = np.asarray(relations)
    return {name: gap_json(probe[names == name], output[names == name], seed, n_resamples) for name in sorted(set(relations))}


def knows_but_does_not_say(per_relation: dict[str, dict]) -> list[str]:
    """The relations whose gap interval lies wholly above the margin."""
    return [name for name, gap in per_relation.items() if gap["ci_low"] is not None and gap["ci_low"] > KNOWS_MARGIN]
