"""``fk-bench probe``: linear truth probes on an evaluated run's residual stream (knows vs says), with their
controls, domain transfer, the hidden-knowledge gap and a steering check; probe.json + probe.html."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from fk_bench.cli._options import counted_int, positive_float, positive_int
from interp.defaults import DEFAULT_SEED, N_RESAMPLES
from interp.probes import probe_defaults as defaults


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "probe",
        help="truth probes per layer on a run fk-bench eval wrote: what the model knows vs what it says (probe.json + probe.html)",
    )
    parser.add_argument(
        "--from-results",
        required=True,
        type=Path,
        metavar="RUN",
        help="the run fk-bench eval wrote (OUT/<run> or its results.json): same prompts, no rescoring",
    )
    parser.add_argument("--relation", default="all", help="one relation of the run, or 'all' (default) for every question")
    parser.add_argument("--out", required=True, type=Path, help="writes OUT/<run>/probe.json, probe.html and activations/ (float16 .npy)")
    parser.add_argument("--device", default=None, help="cuda, cuda:N or cpu (default: the run's device)")
    parser.add_argument("--folds", type=counted_int(2), default=defaults.N_FOLDS, help="cross-validation folds over pairs (default %(default)s)")
    parser.add_argument(
        "--logistic-c", type=positive_float, default=defaults.LOGISTIC_C, help="inverse L2 strength of the logistic probe (default %(default)s)"
    )
    parser.add_argument(
        "--steering-questions",
        type=counted_int(2),
        default=defaults.STEERING_QUESTIONS,
        help="questions steered in the causal check (default %(default)s)",
    )
    parser.add_argument(
        "--steering-scale",
        type=positive_float,
        default=defaults.STEERING_SCALE,
        help="steer with this multiple of the mass-mean direction (default %(default)s: the class-mean distance)",
    )
    parser.add_argument("--batch-size", type=positive_int, default=defaults.GATHER_BATCH, help="prompts per forward pass (default %(default)s)")
    parser.add_argument(
        "--seed",
        type=counted_int(0),
        default=DEFAULT_SEED,
        help="seeds the control's shuffle, the random direction and the bootstrap (default %(default)s)",
    )
    parser.add_argument("--resamples", type=positive_int, default=N_RESAMPLES, help="bootstrap resamples per interval (default %(default)s)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> None:
    from fk_bench.answer_groups import AnswerGroups
    from fk_bench.files import check_writable_dir
    from fk_bench.models import load_model, resolve_device
    from interp.core.evaluated import read_run
    from interp.probes.inputs import checked_pairs, select_questions
    from interp.probes.run import ProbeSettings, build_probe, relation_label

    check_writable_dir(args.out, "--out")
    evaluated = read_run(args.from_results)
    where = f"--from-results {evaluated.source}"
    # bad data (an unknown relation, one class only, too few pairs) fails before the model loads
    checked_pairs(select_questions(evaluated.questions, args.relation, where), f"{where} (relation {relation_label(args.relation)})")
    groups = AnswerGroups.from_map(evaluated.answer_words, source=f"{evaluated.source} answer words")
    device = resolve_device(args.device) if args.device is not None else evaluated.spec.device
    loaded = load_model(evaluated.spec.model, device=device, dtype=evaluated.spec.dtype)
    settings = ProbeSettings(
        n_folds=args.folds,
        logistic_c=args.logistic_c,
        seed=args.seed,
        n_resamples=args.resamples,
        steering_questions=args.steering_questions,
        steering_scale=args.steering_scale,
        batch_size=args.batch_size,
    )
    folder, report = build_probe(loaded, evaluated, groups, args.out, args.relation, settings)
    print(headline(report))
    if report.knows_but_does_not_say:
        print(f"knows but does not say: {', '.join(report.knows_but_does_not_say)}")
    print(f"wrote {folder}")


def headline(report: object) -> str:
    """One line of the main numbers: the chosen layer, the probe's and the output's paired accuracy, the gap."""

    def show(value: float | None, signed: bool = False) -> str:
        return "n/a" if value is None else (f"{value:+.3f}" if signed else f"{value:.3f}")

    r: Any = report
    best, gap = r.best, r.gap
    return (
        f"{r.model.name}: best layer {r.best_layer}/{r.model.n_layers}; probe paired accuracy {show(best.paired_accuracy)} "
        f"[{show(best.ci_low)}, {show(best.ci_high)}] vs output {show(r.output_paired_accuracy)}; "
        f"gap {show(gap.value, True)} [{show(gap.ci_low, True)}, {show(gap.ci_high, True)}] over {r.n_pairs} pairs ({r.seconds['total']:.1f} s)"
    )
