"""``fk-bench report``: gate a model on the evaluator, then write the DLA and activation-patching report of the pairs it gets right."""

from __future__ import annotations

import argparse
from pathlib import Path

from fk_bench.cli._options import add_model_and_data_arguments, fraction, load_inputs, non_negative_float, positive_int
from interp import report as defaults  # light: numpy, pandas and torch load only when a report runs


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "report",
        help="DLA and activation-patching report (HTML + JSON) of the pairs a model gets right, for a model that passes the gate",
    )
    add_model_and_data_arguments(parser)
    parser.add_argument(
        "--out", required=True, type=Path, help="writes OUT/<run>/report.html and report.json (or did_not_pass.json); <run> as fk-bench eval names it"
    )
    parser.add_argument(
        "--gate-metric",
        choices=defaults.GATE_METRICS,
        default=defaults.DEFAULT_GATE_METRIC,
        help="the evaluator metric that decides whether the model gets a report (default: %(default)s)",
    )
    parser.add_argument(
        "--gate-threshold",
        type=fraction,
        default=defaults.DEFAULT_GATE_THRESHOLD,
        help="gate: the metric must be at least this (default %(default)s; 0 reports any model)",
    )
    parser.add_argument(
        "--pair-margin",
        type=non_negative_float,
        default=defaults.DEFAULT_PAIR_MARGIN,
        help="study the pairs whose true question beats its twin by at least this many nats of log-odds (default %(default)s)",
    )
    parser.add_argument(
        "--max-pairs",
        type=positive_int,
        default=defaults.DEFAULT_MAX_PAIRS,
        help="study at most N pairs, the first in data order (default %(default)s)",
    )
    parser.add_argument(
        "--exact-pairs",
        type=positive_int,
        default=None,
        help=f"exact activation patching on the N studied pairs with the largest margin; attribution patching estimates every pair "
        f"(default {defaults.DEFAULT_EXACT_PAIRS}, or {defaults.DEFAULT_EXACT_PAIRS_LARGE} for models of 1B parameters or more)",
    )
    parser.add_argument("--top-k", type=positive_int, default=3, help="top positive and negative heads whose attention patterns are shown")
    parser.add_argument("--pattern-pairs", type=positive_int, default=1, help="pairs whose attention patterns are shown")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> None:
    from fk_bench.files import check_writable_dir
    from interp.report import ReportSettings, build_report

    check_writable_dir(args.out)
    settings = ReportSettings(
        prompt_format=args.prompt_format,
        fewshot_k=args.fewshot_k,
        gate_metric=args.gate_metric,
        gate_threshold=args.gate_threshold,
        pair_margin=args.pair_margin,
        max_pairs=args.max_pairs,
        exact_pairs=args.exact_pairs,
        top_k=args.top_k,
        pattern_pairs=args.pattern_pairs,
        eval_batch_size=args.batch_size,
        dataset_id=str(args.dataset or "default"),
        dataset_settings={"config": args.config, "split": args.split, "relation": args.relation, "limit": args.limit},
    )
    groups, questions, loaded = load_inputs(args)
    report = build_report(loaded, questions, groups, args.out, settings)
    if report.passed:
        studied = report.data["selection"]["n_studied"]
        exact = len(report.data["patching"]["exact_pairs"])
        print(
            f"{loaded.name}: {report.gate.metric} {report.gate.value:.3f} >= {report.gate.threshold}; "
            f"report of {studied} pair(s) ({exact} with exact patching) in {report.seconds['total']:.1f} s\nwrote {report.path}"
        )
    else:
        print(f"{loaded.name}: no report ({report.data['reason']})\nwrote {report.path}")
