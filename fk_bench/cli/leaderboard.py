"""``fk-bench leaderboard``: compare models from fk-bench and lm-eval result files (render only).

    fk-bench leaderboard RESULTS... --out board.html       # .md, .csv or .html
    fk-bench leaderboard leaderboard/results --out leaderboard --all   # leaderboard.{md,csv,html} in a folder

``fk-bench zoo run`` makes the zoo's results; this command only reads and renders.
"""

from __future__ import annotations

import argparse
import contextlib
import shlex
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from fk_bench.cli._options import prob_diff_threshold
from fk_bench.spec import DEFAULT_FILTER_THRESHOLD


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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
    parser.add_argument("--strict", action="store_true", help="stop at the first file that cannot be read (default: skip it with a warning)")
    parser.add_argument("--overwrite", action="store_true", help="replace an --out file that is not a leaderboard fk-bench wrote")
    parser.set_defaults(func=run)


LEADERBOARD_MARKERS = {".md": "# fk-bench leaderboard", ".html": "fk-bench leaderboard", ".csv": "group,rank,"}
"""What the start of each output fk-bench writes holds: a file without it is someone else's, replaced only with --overwrite."""


def check_outputs(pages: list[Path], overwrite: bool) -> None:
    """Refuse, before any result is read, to replace a file the leaderboard did not write (a README, a result)."""
    from fk_bench.errors import FkBenchError
    from fk_bench.files import _broken_link, check_path_length

    for page in pages:
        check_path_length(page, "--out")
        broken = _broken_link(page)
        if broken:
            raise FkBenchError(f"--out {page}: {broken}; choose another --out")
        if overwrite or not (page.exists() or page.is_symlink()):
            continue
        if not page.is_file():
            raise FkBenchError(f"--out {page}: exists and is not a file (a folder, FIFO or device); choose another --out")
        with page.open("rb") as handle:
            start = handle.read(4096).decode("utf-8", "replace")
        if LEADERBOARD_MARKERS[page.suffix] not in start:
            raise FkBenchError(
                f"--out {page}: exists and is not a leaderboard fk-bench wrote; add --overwrite to replace it, or choose another --out"
            )


@contextlib.contextmanager
def one_line_warnings() -> Iterator[None]:
    """Warnings as ``fk-bench: warning: <file>: skipped, <why>``, one line each (not Python's two-line form)."""

    def show(
        message: Warning | str, category: type[Warning], filename: str, lineno: int, file: TextIO | None = None, line: str | None = None
    ) -> None:
        print(f"fk-bench: warning: {' '.join(str(message).split())}", file=sys.stderr)

    with warnings.catch_warnings():
        warnings.simplefilter("always", UserWarning)
        warnings.showwarning = show
        yield


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
    if args.strict:
        words.append("--strict")
    return shlex.join(words)


def run(args: argparse.Namespace) -> None:
    from fk_bench.errors import FkBenchError
    from fk_bench.files import check_path_length, check_writable_dir
    from fk_bench.leaderboard import check_suffix, collect_rows, render, render_all
    from fk_bench.pages.browser import find_chromium, screenshot

    for path in [args.out, *([args.screenshot] if args.screenshot else [])]:
        check_path_length(path, "--out" if path is args.out else "--screenshot")  # first: a too-long name fails every other check with an OSError
    page = args.out / "leaderboard.html" if args.all else args.out
    if args.all:
        check_writable_dir(args.out, "--out")
        check_outputs([args.out / f"leaderboard{suffix}" for suffix in LEADERBOARD_MARKERS], args.overwrite)
    else:
        check_suffix(args.out)  # before any result is read
        check_writable_dir(args.out.parent, "--out's folder")
        check_outputs([args.out], args.overwrite)
    if args.screenshot is not None:
        if page.suffix != ".html":
            raise FkBenchError(f"--screenshot needs an .html --out (or --all), not {args.out.name}")
        if args.screenshot.suffix.lower() != ".png":
            raise FkBenchError(f"--screenshot {args.screenshot}: the screenshot is a PNG; give a path ending in .png")
        if args.screenshot.is_dir():
            raise FkBenchError(f"--screenshot {args.screenshot}: is a folder; give a path ending in .png")
        check_writable_dir(args.screenshot.parent, "--screenshot's folder")
        if find_chromium() is None:
            raise FkBenchError("--screenshot: headless Chromium is not installed (Debian: apt-get install chromium)")
    with one_line_warnings():
        table = collect_rows(args.results, threshold=args.filter_threshold, reports=args.reports, strict=args.strict)
    written = render_all(table, args.out, command=_command(args)) if args.all else [render(table, args.out, command=_command(args))]
    for path in written:
        print(f"wrote {path}")
    if args.screenshot is not None:
        print(f"wrote {screenshot(page, args.screenshot)}")
