"""``fk-bench eval``: score a model on the questions and write OUT/<run>/results.json + questions.csv.

``<run>`` is the model's name plus one part per non-default setting (:meth:`fk_bench.spec.RunSpec.run_name`);
a folder holding a run of another spec is never replaced without ``--overwrite``, and that, like every
other output problem, is found before the model loads.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from fk_bench.cli._options import add_model_and_data_arguments, check_output_folder, load_inputs, prob_diff_threshold
from fk_bench.spec import DEFAULT_FILTER_THRESHOLD, RunSpec


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("eval", help="score a model on factual yes/no questions")
    add_model_and_data_arguments(parser)
    parser.add_argument(
        "--out", required=True, type=Path, help="results folder; writes OUT/<run>/results.json (<run>: the model and any non-default setting)"
    )
    parser.add_argument(
        "--filter-threshold",
        type=prob_diff_threshold,
        default=DEFAULT_FILTER_THRESHOLD,
        help="per-question filter: correct with prob_diff at least this (default %(default)s)",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace OUT/<run>/ even when it holds a run of another spec")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> None:
    from fk_bench.evaluation import write_results
    from fk_bench.models.loading import model_display_name
    from fk_bench.run_folder import check_run_folder

    check_output_folder(args.out, "--out")

    def check_target(spec: RunSpec) -> None:  # before the model loads: a refused folder costs nothing
        check_run_folder(args.out / spec.run_name(model_display_name(spec.model)), spec, overwrite=args.overwrite)

    groups, questions, loaded, spec = load_inputs(args, filter_threshold=args.filter_threshold, before_load=check_target)
    from fk_bench.evaluation import evaluate

    result = evaluate(loaded, questions, groups, spec)
    check_run_folder(args.out / result.run_name, spec, overwrite=args.overwrite)  # again: another run may have written it meanwhile
    path = write_results(result, args.out)
    print(f"{result.model.name}: {result.headline()}\nwrote {path}")
