"""``fk-bench probe``'s steps: from an evaluated run to ``OUT/<run>/probe.json``, ``probe.html`` and the activations.

read the run (:func:`interp.core.evaluated.read_run`; no second scoring pass) -> its complete pairs, prompts
and token ids (:mod:`interp.probes.inputs`) -> boot the bridge once -> the residual stream at every
layer, two positions, one batched pass, float16 on disk (:mod:`interp.probes.activations`) -> per
layer, streamed from disk: logistic and mass-mean probes, the shuffled control, the object position,
the inner cross-validation that chooses each fold's layer (:mod:`interp.probes.fitting`) -> the
headline at the chosen layers, the surface baselines, the gap (:mod:`interp.probes.gap`), the domain
transfer (:mod:`interp.probes.transfer`) and the steering check (:mod:`interp.probes.steering`) ->
probe.json (:mod:`interp.probes.probe_schema`) and the page (:mod:`interp.probes.probe_page`), written atomically.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from fk_bench.errors import FkBenchError
from interp.defaults import DEFAULT_SEED, N_RESAMPLES
from interp.probes import probe_defaults as defaults
from interp.probes.fitting import (
    FITS,
    choose_layers,
    fit_logistic,
    inner_paired_accuracy,
    mass_mean_direction,
    out_of_fold,
    pair_folds,
    score_layer,
)
from interp.probes.inputs import ProbeInputs


@dataclass(frozen=True)
class ProbeSettings:
    n_folds: int = defaults.N_FOLDS
    logistic_c: float = defaults.LOGISTIC_C
    seed: int = DEFAULT_SEED
    n_resamples: int = N_RESAMPLES
    steering_questions: int = defaults.STEERING_QUESTIONS
    steering_scale: float = defaults.STEERING_SCALE
    batch_size: int = defaults.GATHER_BATCH


@dataclass
class LayerSweep:
    """Per-layer results, and what the headline needs from them."""

    layers: list[dict[str, Any]]
    logistic_scores: np.ndarray  # [layer, question] out of fold
    mass_mean_scores: np.ndarray
    chosen: np.ndarray  # each fold's chosen layer, in fold order
    fold_layers: np.ndarray  # each question's fold's chosen layer
    best_layer: int


def sweep_layers(acts: Any, inputs: ProbeInputs, folds: np.ndarray, settings: ProbeSettings) -> LayerSweep:
    """Every layer, read from disk one at a time: the probes, the control, the object position, the inner choice."""
    y = inputs.labels
    rng = np.random.default_rng(settings.seed)
    fold_ids = np.unique(folds)
    logistic = np.empty((acts.n_layers, len(y)))
    mass = np.empty((acts.n_layers, len(y)))
    inner = np.empty((len(fold_ids), acts.n_layers))
    layers = []
    logistic_fit = partial(fit_logistic, c=settings.logistic_c)
    for layer in range(acts.n_layers):
        x = acts.layer("last", layer)
        logistic[layer] = out_of_fold(x, y, folds, logistic_fit)
        mass[layer] = out_of_fold(x, y, folds, FITS["mass_mean"])
        control = score_layer(out_of_fold(x, y, folds, logistic_fit, rng), y, settings.seed, 0)
        main = score_layer(logistic[layer], y, settings.seed, settings.n_resamples, inputs.pair_facts)
        mm = score_layer(mass[layer], y, settings.seed, settings.n_resamples, inputs.pair_facts)
        obj = score_layer(out_of_fold(acts.layer("object", layer), y, folds, FITS["mass_mean"]), y, settings.seed, 0)
        for k, fold in enumerate(fold_ids):
            inner[k, layer] = inner_paired_accuracy(x, y, folds, fold)
        layers.append(
            {
                "layer": layer,
                "accuracy": main.accuracy,
                "paired_accuracy": main.paired_accuracy,
                "ci_low": main.ci_low,
                "ci_high": main.ci_high,
                "control_accuracy": control.accuracy,
                "control_paired_accuracy": control.paired_accuracy,
                "selectivity": main.accuracy - control.accuracy,
                "mass_mean_accuracy": mm.accuracy,
                "mass_mean_paired_accuracy": mm.paired_accuracy,
                "mass_mean_ci_low": mm.ci_low,
                "mass_mean_ci_high": mm.ci_high,
                "object_accuracy": obj.accuracy,
                "object_paired_accuracy": obj.paired_accuracy,
            }
        )
    chosen, best = choose_layers(inner)
    fold_layers = np.empty(len(y), dtype=np.int64)
    for k, fold in enumerate(fold_ids):
        fold_layers[folds == fold] = chosen[k]
    return LayerSweep(layers, logistic, mass, chosen, fold_layers, best)


def headline(
    scores: np.ndarray, fold_layers: np.ndarray, y: np.ndarray, probe: str, settings: ProbeSettings, facts: np.ndarray
) -> tuple[dict[str, Any], np.ndarray]:
    """Each question's held-out score at its fold's chosen layer: the probe's headline, and its per-pair verdicts."""
    chosen = scores[fold_layers, np.arange(len(y))]
    found = score_layer(chosen, y, settings.seed, settings.n_resamples, facts)
    entry = {"probe": probe, "accuracy": found.accuracy, "paired_accuracy": found.paired_accuracy, "ci_low": found.ci_low, "ci_high": found.ci_high}
    return entry, found.pair_correct


def baselines(acts: Any, inputs: ProbeInputs, folds: np.ndarray, settings: ProbeSettings) -> dict[str, dict[str, Any]]:
    """The logistic probe on what carries no computation: the last token's embedding, the object token's embedding."""
    out = {}
    for name, position in (("embedding_last", "last"), ("object_embedding", "object")):
        x = acts.layer(position, 0)
        found = score_layer(
            out_of_fold(x, inputs.labels, folds, FITS["logistic"]), inputs.labels, settings.seed, settings.n_resamples, inputs.pair_facts
        )
        out[name] = {
            "position": position,
            "layer": 0,
            "probe": "logistic",
            "accuracy": found.accuracy,
            "paired_accuracy": found.paired_accuracy,
            "ci_low": found.ci_low,
            "ci_high": found.ci_high,
        }
    return out


def fit_and_measure(model: Any, acts: Any, inputs: ProbeInputs, answers: Any, settings: ProbeSettings, batch_hooks: Any = None) -> dict[str, Any]:
    """Everything probe.json holds about the numbers (no model, dataset or run records)."""
    from threadpoolctl import threadpool_limits  # a scikit-learn dependency

    from interp.probes.fitting import pair_verdicts
    from interp.probes.gap import gap_json, gaps_by_relation, knows_but_does_not_say
    from interp.probes.steering import steer
    from interp.probes.transfer import transfer_json

    seconds: dict[str, float] = {}
    t = time.perf_counter()
    # One BLAS thread for the fits: small matrices, and on a busy CPU BLAS threads spin-waiting for each
    # other made the logistic fits 6x slower (BENCHMARKS.md, probes). The forward passes keep torch's threads.
    with threadpool_limits(1, user_api="blas"):
        folds = pair_folds(inputs.groups, settings.n_folds)
        swept = sweep_layers(acts, inputs, folds, settings)
        best, probe_verdicts = headline(swept.logistic_scores, swept.fold_layers, inputs.labels, "logistic", settings, inputs.pair_facts)
        best_mm, _ = headline(swept.mass_mean_scores, swept.fold_layers, inputs.labels, "mass_mean", settings, inputs.pair_facts)
        seconds["probes"] = time.perf_counter() - t
        t = time.perf_counter()
        output_verdicts = pair_verdicts(inputs.output_log_odds)
        per_relation = gaps_by_relation(
            probe_verdicts, output_verdicts, inputs.relations[0::2], settings.seed, settings.n_resamples, inputs.pair_facts
        )
        x_best = acts.layer("last", swept.best_layer)
        transfer = transfer_json(x_best, inputs.labels, inputs.groups, inputs.domains)
        direction, _ = mass_mean_direction(x_best.astype(np.float64), inputs.labels)
        surface = baselines(acts, inputs, folds, settings)
        seconds["baselines, gap and transfer"] = time.perf_counter() - t
    t = time.perf_counter()
    n_steer = min(len(inputs), 2 * (settings.steering_questions // 2))
    steering = steer(
        model,
        inputs.tokens[:n_steer],
        inputs.labels[:n_steer],
        swept.best_layer,
        direction,
        answers,
        settings.seed,
        batch_hooks,
        settings.steering_scale,
    )
    seconds["steering"] = time.perf_counter() - t
    return {
        "layers": swept.layers,
        "best_layer": swept.best_layer,
        "fold_layers": [int(v) for v in swept.chosen],
        "best": best,
        "best_mass_mean": best_mm,
        "baselines": surface,
        "output_paired_accuracy": float(output_verdicts.mean()),
        "gap": gap_json(probe_verdicts, output_verdicts, settings.seed, settings.n_resamples, inputs.pair_facts),
        "gap_per_relation": per_relation,
        "knows_but_does_not_say": knows_but_does_not_say(per_relation),
        "transfer": transfer,
        "steering": steering.to_json(),
        "seconds": seconds,
    }


def relation_label(relation: str | None) -> str:
    """The relation a probe reads, as probe.json and the messages name it ("all" for every question)."""
    return relation if relation not in (None, "all") else "all"


def run_record(loaded: Any, model: Any, run: Any, label: str) -> dict[str, Any]:
    """What made the numbers: the model (the run's record and the bridge's shape), prompt format, dtype, data and run spec."""
    import fk_bench

    return {
        "fk_bench_version": fk_bench.__version__,
        "model": {
            "name": loaded.name,
            "spec": str(run.spec.model),
            "path": str(run.result.model.path),
            "architecture": model.architecture,
            "n_layers": model.n_layers,
            "d_model": int(model.bridge.cfg.d_model),
            "device": str(model.device),
        },
        "prompt_format": run.prompt_format,
        "fewshot_k": run.fewshot_k,
        "dtype": str(run.spec.dtype),
        "dataset": run.dataset,
        "run_spec": run.spec.model_dump(mode="json"),
        "run_source": str(run.source),
        "relation": label,
    }


def settings_record(settings: ProbeSettings, inputs: ProbeInputs, n_steer: int) -> dict[str, Any]:
    return {
        "n_folds": len(np.unique(pair_folds(inputs.groups, settings.n_folds))),
        "logistic_c": settings.logistic_c,
        "seed": settings.seed,
        "n_resamples": settings.n_resamples,
        "steering_questions": n_steer,
        "positions": list(defaults.POSITIONS),
    }


def write_probe(model_dir: Path, report: Any, activations: Path) -> None:
    """probe.json, probe.html and the activations into ``model_dir`` as one unit (what else is there is kept)."""
    from fk_bench.files import atomic_dir
    from interp.probes.probe_page import render_probe_page

    page = render_probe_page(report)
    with atomic_dir(model_dir, keep_existing=True) as staging:  # results.json and an interp report are kept
        (staging / defaults.PROBE_JSON).write_text(report.to_json(), encoding="utf-8")
        (staging / defaults.PROBE_HTML).write_text(page, encoding="utf-8")
        os.replace(activations, staging / defaults.ACTIVATIONS_DIR)


def build_probe(
    loaded: Any,
    run: Any,
    groups: Any,
    out_dir: str | Path,
    relation: str | None = None,
    settings: ProbeSettings | None = None,
    batch_hooks: Any = None,
) -> tuple[Path, Any]:
    """Probe ``loaded`` on the evaluated ``run`` (:func:`interp.core.evaluated.read_run`) and write ``out_dir/<run>/``:
    probe.json, probe.html and ``activations/``. Returns the folder and the :class:`~interp.probes.probe_schema.ProbeReport`.

    ``relation``: one relation of the run, or None / ``all`` for every question. ``batch_hooks``: extra forward
    hooks per batch of questions (:data:`interp.probes.activations.BatchHooks`; the tests plant a truth direction)."""
    from fk_bench.data import fewshot_pool
    from fk_bench.files import check_writable_dir
    from interp.core.answer_tokens import single_token_answers
    from interp.core.model import InterpModel
    from interp.probes.activations import gather
    from interp.probes.inputs import probe_inputs, select_questions
    from interp.probes.probe_schema import ProbeReport

    settings = settings or ProbeSettings()
    start = time.perf_counter()
    out = check_writable_dir(out_dir, "--out")
    where = f"--from-results {run.source}"
    if loaded.name != run.result.model.name:
        raise FkBenchError(f"{where}: evaluated model {run.result.model.name!r}, not the loaded {loaded.name!r}")
    label = relation_label(relation)
    examples = fewshot_pool(run.fewshot_k) if run.fewshot_k is not None else []
    inputs = probe_inputs(
        select_questions(run.questions, relation, where), loaded.tokenizer, run.prompt_format, examples, f"{where} (relation {label})"
    )
    n_steer = min(len(inputs), 2 * (settings.steering_questions // 2))
    answers = single_token_answers(loaded.tokenizer, inputs.prompts[:n_steer], groups)
    seconds = {"reading the run": time.perf_counter() - start}
    t = time.perf_counter()
    model = InterpModel.boot(loaded)
    seconds["bridge"] = time.perf_counter() - t
    out.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".fk-bench-probe-", dir=out))
    try:
        t = time.perf_counter()
        acts = gather(model, inputs.tokens, inputs.object_positions, scratch / defaults.ACTIVATIONS_DIR, settings.batch_size, batch_hooks)
        seconds["activations"] = time.perf_counter() - t
        measured = fit_and_measure(model, acts, inputs, answers, settings, batch_hooks)
        seconds.update(measured.pop("seconds"))
        seconds["total"] = time.perf_counter() - start
        counts = {"n_questions": len(inputs), "n_pairs": inputs.n_pairs, "n_unpaired": inputs.n_unpaired}
        counts.update(n_object_missing=inputs.n_object_missing, n_clipped=acts.n_clipped)
        report = ProbeReport.model_validate(
            {
                **run_record(loaded, model, run, label),
                **counts,
                "settings": settings_record(settings, inputs, n_steer),
                **measured,
                "answer_tokens": answers.to_json(),
                "seconds": seconds,
            }
        )
        write_probe(out / run.run_name, report, scratch / defaults.ACTIVATIONS_DIR)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return out / run.run_name, report
