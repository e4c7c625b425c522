"""``fk-bench report``: gate a model on the evaluator, then write its DLA and activation-patching report."""

from __future__ import annotations

import argparse
from pathlib import Path

from fk_bench.cli._options import add_model_and_data_arguments, fraction, load_inputs, positive_int, prob_diff_threshold


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("report", help="DLA and activation-patching report (HTML + JSON) for a model that passes the gate")
    add_model_and_data_arguments(parser)
    parser.add_argument("--out", required=True, type=Path, help="writes OUT/<model-name>/report.html and report.json (or did_not_pass.json)")
    parser.add_argument("--max-questions", type=positive_int, default=None, help="analyse at most N of the questions that pass the filter")
    parser.add_argument("--min-accuracy", type=fraction, default=0.6, help="gate: models below this accuracy get no report")
    parser.add_argument("--filter-threshold", type=prob_diff_threshold, default=0.1, help="per-question filter: prob_diff at least this")
    parser.add_argument("--top-k", type=positive_int, default=3, help="top positive and negative heads whose attention patterns are shown")
    parser.add_argument("--pattern-questions", type=positive_int, default=2, help="questions whose attention patterns are shown")
    parser.add_argument("--no-attribution", action="store_true", help="skip attribution patching")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> None:
    from fk_bench.files import check_writable_dir
    from interp.report import ReportSettings, build_report

    check_writable_dir(args.out)
    groups, questions, loaded = load_inputs(args)
    settings = ReportSettings(
        max_questions=args.max_questions,
        min_accuracy=args.min_accuracy,
        filter_threshold=args.filter_threshold,
        top_k=args.top_k,
        pattern_questions=args.pattern_questions,
        attribution=not args.no_attribution,
        dataset_id=str(args.dataset or "default"),
    )
    report = build_report(loaded, questions, groups, args.out, settings)
    if report.passed:
        print(f"{loaded.name}: report of {len(report.data['dla']['questions'])} question(s), {report.data['patching']['n_pairs']} patched pair(s) in {report.seconds['total']:.1f} s\nwrote {report.path}")
    else:
        print(f"{loaded.name}: no report ({report.data['reason']})\nwrote {report.path}")
