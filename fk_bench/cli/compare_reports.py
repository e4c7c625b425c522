"""``fk-bench compare-reports``: every model that has interp reports on one page, and the docs' findings table from the same files."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "compare-reports",
        help="compare the interp reports of several models (report.json files found under the folders given) on one page",
    )
    parser.add_argument("sources", nargs="+", type=Path, metavar="DIR", help="report.json files, or folders searched for them (e.g. OUT)")
    parser.add_argument("--out", type=Path, default=None, help="write the cross-model page here (.html)")
    parser.add_argument(
        "--findings",
        type=Path,
        default=None,
        metavar="MARKDOWN",
        help="merge the findings table of this Markdown file (docs/interp-findings.md): the rows of the models with reports here "
        "are replaced, the others kept",
    )
    parser.add_argument("--screenshot", type=Path, default=None, help="also save a PNG of the page's first screen (headless Chromium)")
    parser.add_argument("--strict", action="store_true", help="stop at the first report that cannot be read (default: skip it with a warning)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> None:
    from interp.pages.compare_command import compare_reports

    compare_reports(args.sources, args.out, args.findings, args.screenshot, args.strict, say=print, warn=lambda line: print(line, file=sys.stderr))
