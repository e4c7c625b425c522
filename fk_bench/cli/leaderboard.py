"""``fk-bench leaderboard``: compare models from fk-bench and lm-eval result files (render only).

    fk-bench leaderboard RESULTS... --out board.html       # .md, .csv or .html
    fk-bench leaderboard leaderboard/results --out leaderboard --all   # leaderboard.{md,csv,html} in a folder

``fk-bench zoo run`` makes the zoo's results; this command only reads and renders.
"""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path

from fk_bench.cli._options import prob_diff_threshold
from fk_bench.spec import DEFAULT_FILTER_THRESHOLD


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "leaderboard",
        help="compare models from result files (fk-bench results.json, lm-eval results_*.json)",
        description="Rank models from fk-bench results.json and lm-eval results_*.json files (folders are searched). "
        "Rows scored on different questions are grouped apart and never ranked together.",
    )
    parser.add_argument("results", nargs="+", type=Path, help="result files or folders (searched recursively)")
    parser.add_argument("--out", type=Path, required=True, help="output .md, .csv or .html; or a folder with --all")
    parser.add_argument("--all", action="store_true", help="write leaderboard.md, .csv and .html into the folder --out")
    parser.add_argument(
        "--filter-threshold", type=prob_diff_threshold, default=DEFAULT_FILTER_THRESHOLD, help="prob_diff threshold of n_pass_filter (recounted)"
    )
    parser.add_argument(
        "--reports", nargs="+", type=Path, default=[], help="folders searched for interp reports (DIR/<model-name>/report.html) to link"
    )
    parser.add_argument("--screenshot", type=Path, default=None, help="also write a PNG of the HTML page (needs chromium)")
    parser.set_defaults(func=run)


def _command(args: argparse.Namespace) -> str:
    """The command that regenerates this page, with the options that differ from their defaults."""
    words = ["fk-bench", "leaderboard", *map(str, args.results), "--out", str(args.out)]
    if args.all:
        words.append("--all")
    if args.filter_threshold != DEFAULT_FILTER_THRESHOLD:
        words += ["--filter-threshold", str(args.filter_threshold)]
    if args.reports:
        words += ["--reports", *map(str, args.reports)]
    if args.screenshot:
        words += ["--screenshot", str(args.screenshot)]
    return shlex.join(words)


def run(args: argparse.Namespace) -> None:
    from fk_bench.errors import FkBenchError
    from fk_bench.files import check_writable_dir
    from fk_bench.leaderboard import check_suffix, collect_rows, render, render_all
    from fk_bench.pages.browser import find_chromium, screenshot

    page = args.out / "leaderboard.html" if args.all else args.out
    if args.all:
        check_writable_dir(args.out, "--out")
    else:
        check_suffix(args.out)  # before any result is read
        check_writable_dir(args.out.parent)
    if args.screenshot is not None and page.suffix != ".html":
        raise FkBenchError(f"--screenshot needs an .html --out (or --all), not {args.out.name}")
    if args.screenshot is not None and find_chromium() is None:
        raise FkBenchError("--screenshot: headless Chromium is not installed (Debian: apt-get install chromium)")
    table = collect_rows(args.results, threshold=args.filter_threshold, reports=args.reports)
    written = render_all(table, args.out, command=_command(args)) if args.all else [render(table, args.out, command=_command(args))]
    for path in written:
        print(f"wrote {path}")
    if args.screenshot is not None:
        print(f"wrote {screenshot(page, args.screenshot)}")
