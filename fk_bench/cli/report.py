"""``fk-bench report``: gate a model on the evaluator (or on a run it already wrote), then write the DLA, patching,
causal-tracing and attention-knockout report of the pairs it gets right, with bootstrap intervals."""

from __future__ import annotations

import argparse
import copy
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fk_bench.cli._options import (
    add_model_and_data_arguments,
    counted_int,
    fraction,
    load_inputs,
    positive_float,
    positive_int,
)
from interp import defaults  # light: numpy, pandas and torch load only when a report runs (build_report)

if TYPE_CHECKING:
    from interp.study.report_settings import ReportSettings

RUN_OPTIONS = ("model", "dtype", "prompt_format", "fewshot_k", "dataset", "config", "split", "relation", "limit")
"""Options that name the run; with --from-results, given ones must match the run's, the others come from it."""


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "report",
        help="interp report (HTML + JSON): DLA, patching, causal tracing and attention knockout of the pairs a model gets right, with intervals",
    )
    add_model_and_data_arguments(parser)
    # None = not given: with --from-results the run supplies them (and given ones must match it); else the usual defaults.
    parser.set_defaults(model=None, prompt_format=None, fewshot_k=None)
    for action in parser._actions:
        if action.dest == "relation":
            action.help = f"only questions of this relation; '{defaults.ALL_RELATIONS}': one section per relation the model passes the gate on"
    parser.add_argument(
        "--out", required=True, type=Path, help="writes OUT/<run>/report.html and report.json (or did_not_pass.json); <run> as fk-bench eval names it"
    )
    parser.add_argument(
        "--from-results",
        type=Path,
        default=None,
        metavar="RUN",
        help="read the run fk-bench eval wrote (OUT/<run> or its results.json) instead of evaluating again; "
        "its model, dataset and prompt format are used, and any given here must match",
    )
    _add_pair_options(parser)
    _add_corruption_options(parser)
    _add_tracing_options(parser)
    parser.set_defaults(func=run)


def _add_pair_options(parser: argparse.ArgumentParser) -> None:
    """The gate and the pairs studied."""
    parser.add_argument(
        "--gate-metric",
        choices=defaults.GATE_METRICS,
        default=defaults.DEFAULT_GATE_METRIC,
        help="the evaluator metric that decides whether the model (or each relation) gets a report (default: %(default)s)",
    )
    parser.add_argument(
        "--gate-threshold",
        type=fraction,
        default=defaults.DEFAULT_GATE_THRESHOLD,
        help="gate: the metric must be at least this (default %(default)s; 0 reports any model)",
    )
    parser.add_argument(
        "--pair-margin",
        type=positive_float,
        default=defaults.DEFAULT_PAIR_MARGIN,
        help="study the pairs whose true question beats its twin by at least this many nats of log-odds, more than 0: a pair the "
        "model does not tell apart has no effect to patch (default %(default)s)",
    )
    parser.add_argument(
        "--max-pairs",
        type=positive_int,
        default=None,
        help=f"study at most N pairs per section, the first in data order (default {defaults.DEFAULT_MAX_PAIRS}; "
        f"{defaults.DEFAULT_MAX_PAIRS_PER_RELATION} per relation with --relation all)",
    )
    parser.add_argument(
        "--exact-pairs",
        type=positive_int,
        default=None,
        help=f"exact activation patching on the N studied pairs with the largest margin; attribution patching estimates every pair "
        f"(default {defaults.DEFAULT_EXACT_PAIRS}, or {defaults.DEFAULT_EXACT_PAIRS_LARGE} for models of 1B parameters or more)",
    )


def _add_corruption_options(parser: argparse.ArgumentParser) -> None:
    """The corrupted run: the twin, or noise on one span."""
    parser.add_argument(
        "--corruption",
        choices=defaults.CORRUPTIONS,
        default="twin",
        help="the corrupted run: the false twin's prompt (twin; twins of other token lengths aligned by role) or the clean prompt with "
        "Gaussian noise on one span's embeddings (noise, as ROME's causal tracing) (default: %(default)s)",
    )
    parser.add_argument(
        "--noise-span", choices=defaults.NOISE_SPANS, default="object", help="noise corruption: the span noised (default: %(default)s)"
    )
    parser.add_argument(
        "--noise-scale",
        type=positive_float,
        default=None,
        help=f"noise corruption: standard deviation of the noise (default {defaults.DEFAULT_NOISE_FACTOR:g} x the embeddings'; recorded)",
    )
    parser.add_argument("--seed", type=counted_int(0), default=defaults.DEFAULT_SEED, help="seeds the noise and the bootstrap (default %(default)s)")


def _add_tracing_options(parser: argparse.ArgumentParser) -> None:
    """Causal tracing, attention knockout and what the page shows."""
    parser.add_argument(
        "--trace-pairs",
        type=positive_int,
        default=None,
        help=f"causal tracing on the N pairs of largest margin per section (default: as --exact-pairs; {defaults.DEFAULT_TRACE_PAIRS_LARGE} for 1B+)",
    )
    parser.add_argument(
        "--trace-sites",
        nargs="+",
        choices=defaults.TRACE_SITES,
        default=None,
        help="the states causal tracing restores (default: all three and the MLP-severed grid; resid_pre alone for models of 1B parameters or more)",
    )
    parser.add_argument(
        "--trace-positions",
        choices=("all", "role-ends"),
        default=None,
        help="noise tracing: every position from the noise on, or the first and last token of each role and the last position "
        "(default: all; role-ends for models of 1B parameters or more)",
    )
    parser.add_argument(
        "--knockout-pairs",
        type=positive_int,
        default=None,
        help=f"attention knockout on the N pairs of largest margin per section (default: every studied pair; "
        f"{defaults.DEFAULT_KNOCKOUT_PAIRS_LARGE} for models of 1B parameters or more)",
    )
    parser.add_argument(
        "--knockout-window", type=positive_int, default=None, help="attention knockout: layers blocked at once (default: scaled to depth)"
    )
    parser.add_argument("--resamples", type=positive_int, default=1000, help="bootstrap resamples per interval (default %(default)s)")
    parser.add_argument(
        "--top-k", type=positive_int, default=defaults.DEFAULT_TOP_K, help="top positive and negative heads whose attention patterns are shown"
    )
    parser.add_argument("--pattern-pairs", type=positive_int, default=1, help="pairs whose attention patterns are shown")


def _given(args: argparse.Namespace) -> dict[str, Any]:
    """The run-naming options given on the command line (None = not given)."""
    return {name: getattr(args, name) for name in RUN_OPTIONS if getattr(args, name) is not None}


def _settings(args: argparse.Namespace) -> ReportSettings:
    """The report's settings from the options, checked (before any file is read or model loaded)."""
    from interp.study.report_settings import ReportSettings

    return ReportSettings(
        gate_metric=args.gate_metric,
        gate_threshold=args.gate_threshold,
        pair_margin=args.pair_margin,
        max_pairs=args.max_pairs,
        exact_pairs=args.exact_pairs,
        top_k=args.top_k,
        pattern_pairs=args.pattern_pairs,
        relation=args.relation,
        corruption=args.corruption,
        noise_span=args.noise_span,
        noise_scale=args.noise_scale,
        seed=args.seed,
        trace_pairs=args.trace_pairs,
        trace_sites=None if args.trace_sites is None else tuple(dict.fromkeys(args.trace_sites)),
        trace_positions=args.trace_positions,
        knockout_pairs=args.knockout_pairs,
        knockout_window=args.knockout_window,
        n_resamples=args.resamples,
    )


def run(args: argparse.Namespace) -> None:
    from fk_bench.path_checks import check_input_path
    from fk_bench.spec import DEFAULT_FEWSHOT_K, DEFAULT_PROMPT_FORMAT
    from interp.core.evaluated import open_run
    from interp.study.report_build import build_report, check_out_dir, evaluate_for_report, report_lines

    settings = _settings(args)
    check_out_dir(args.out)
    for flag, path in (("--from-results", args.from_results), ("--dataset", args.dataset), ("--answer-map", args.answer_map)):
        if path is not None:
            check_input_path(Path(path), flag)
    if args.from_results is not None:
        evaluated, groups, loaded = open_run(args.from_results, _given(args), args.answer_map, args.device)
    else:
        plain = copy.copy(args)
        plain.model = args.model or "embedded"
        plain.prompt_format = args.prompt_format or DEFAULT_PROMPT_FORMAT
        plain.fewshot_k = args.fewshot_k or DEFAULT_FEWSHOT_K
        if args.relation == defaults.ALL_RELATIONS:
            plain.relation = None  # every relation is evaluated, then gated one by one
        groups, questions, loaded, spec = load_inputs(plain)
        evaluated = evaluate_for_report(loaded, questions, groups, spec)
    for line in report_lines(build_report(loaded, evaluated, groups, args.out, settings)):
        print(line)
