"""``fk-bench eval``: score a model on the questions and write OUT/<model>/results.json + questions.csv."""

from __future__ import annotations

import argparse
from pathlib import Path

from fk_bench.cli._options import add_model_and_data_arguments, load_inputs, prob_diff_threshold
from fk_bench.spec import DEFAULT_FILTER_THRESHOLD


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("eval", help="score a model on factual yes/no questions")
    add_model_and_data_arguments(parser)
    parser.add_argument("--out", required=True, type=Path, help="results folder; writes OUT/<model-name>/results.json")
    parser.add_argument(
        "--filter-threshold",
        type=prob_diff_threshold,
        default=DEFAULT_FILTER_THRESHOLD,
        help="per-question filter: correct with prob_diff at least this (default %(default)s)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> None:
    from fk_bench.evaluation import evaluate, write_results
    from fk_bench.files import check_writable_dir

    check_writable_dir(args.out)
    groups, questions, loaded, spec = load_inputs(args, filter_threshold=args.filter_threshold)
    result = evaluate(loaded, questions, groups, spec)
    path = write_results(result, args.out)
    print(f"{result.model.name}: {result.headline()}\nwrote {path}")
