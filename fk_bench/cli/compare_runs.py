"""``fk-bench compare-runs``: is run A better than run B on the questions both scored? Paired intervals and McNemar."""

from __future__ import annotations

import argparse
from pathlib import Path

from fk_bench.cli._options import counted_int


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "compare-runs",
        help="compare two runs on their shared questions: differences with paired bootstrap intervals, exact McNemar tests",
    )
    parser.add_argument("run_a", type=Path, metavar="RUN_A", help="a results.json, or the run folder holding one")
    parser.add_argument("run_b", type=Path, metavar="RUN_B", help="the run to compare it with")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    parser.add_argument("--resamples", type=counted_int(1), default=None, help="bootstrap resamples (default 1000)")
    parser.add_argument("--seed", type=counted_int(0), default=None, help="bootstrap seed (recorded in the output)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> None:
    import json

    from fk_bench.results import read_results
    from fk_bench.stats.intervals import BOOTSTRAP_SEED, N_RESAMPLES
    from fk_bench.stats.run_comparison import compare_runs, comparison_text

    a, b = read_results(args.run_a), read_results(args.run_b)
    result = compare_runs(a, b, args.resamples or N_RESAMPLES, BOOTSTRAP_SEED if args.seed is None else args.seed)
    if args.json:
        print(json.dumps(result, allow_nan=False))
    else:
        print(comparison_text(result))
