"""``fk-bench compare-reports``: every model that has interp reports on one page, and the docs' findings table from the same files."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(subparsers: argparse._SubParsersAction) -> None:
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
        help="regenerate the findings table in this Markdown file (docs/interp-findings.md)",
    )
    parser.add_argument("--screenshot", type=Path, default=None, help="also save a PNG of the page's first screen (headless Chromium)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> None:
    from fk_bench.errors import FkBenchError
    from interp.pages.compare import load_reports, update_findings, write_compare_page

    if args.out is None and args.findings is None:
        raise FkBenchError("compare-reports: give --out PAGE.html, --findings FILE.md, or both")
    if args.screenshot is not None and args.out is None:
        raise FkBenchError("compare-reports: --screenshot needs --out")
    if args.out is not None:
        if args.out.suffix.lower() not in (".html", ".htm"):
            raise FkBenchError(f"--out {args.out}: the page is HTML; give a .html path")
        path, n_reports, n_figures = write_compare_page(args.sources, args.out)
        print(f"compared {n_reports} report(s) ({n_figures} figure(s))\nwrote {path}")
        if args.screenshot is not None:
            from fk_bench.pages.browser import screenshot

            print(f"wrote {screenshot(path, args.screenshot)}")
    if args.findings is not None:
        print(f"wrote {update_findings(args.findings, load_reports(args.sources))}")
