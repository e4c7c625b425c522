"""``fk-bench leaderboard``: compare models from fk-bench and lm-eval result files."""

from __future__ import annotations

import argparse
from pathlib import Path

from fk_bench.cli._options import prob_diff_threshold


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("leaderboard", help="compare models from fk-bench and lm-eval result files")
    parser.add_argument("results", nargs="+", type=Path, help="result files or folders (searched recursively)")
    parser.add_argument("--out", required=True, type=Path, help="output .md, .csv or .html")
    parser.add_argument("--filter-threshold", type=prob_diff_threshold, default=0.1, help="prob_diff threshold when recounting lm-eval samples")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> None:
    from fk_bench.leaderboard import collect_rows, render

    print(render(collect_rows(args.results, threshold=args.filter_threshold), args.out))
