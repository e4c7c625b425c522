"""``fk-bench leaderboard``: compare models from fk-bench and lm-eval result files, or run the model zoo.

fk-bench leaderboard RESULTS... --out board.html       # .md, .csv or .html
fk-bench leaderboard --run-zoo --out leaderboard        # every zoo model; writes leaderboard.{md,csv,html}
"""

from __future__ import annotations

import argparse
import shlex
import time
from pathlib import Path

from fk_bench.cli._options import DTYPES, positive_int, prob_diff_threshold

DEFAULT_FILTER_THRESHOLD = 0.1  # fk_bench.metrics.DEFAULT_FILTER_THRESHOLD (not imported: --help stays fast)
RUN_DEFAULTS = {"per_relation": 100, "fewshot_k": 4, "batch_size": 128}


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "leaderboard",
        help="compare models from result files, or run the model zoo (--run-zoo)",
        description="Rank models from fk-bench results.json and lm-eval results_*.json files (folders are searched), "
        "or, with --run-zoo, run every zoo model under each prompt format on a fixed slice and rank them.",
    )
    parser.add_argument("results", nargs="*", type=Path, help="result files or folders (searched recursively)")
    parser.add_argument("--out", type=Path, default=None, help="output .md, .csv or .html; with --run-zoo a folder (default: leaderboard)")
    parser.add_argument(
        "--filter-threshold", type=prob_diff_threshold, default=DEFAULT_FILTER_THRESHOLD, help="prob_diff threshold of n_pass_filter (recounted)"
    )
    parser.add_argument(
        "--reports", nargs="+", type=Path, default=[], help="folders searched for interp reports (DIR/<model-name>/report.html) to link"
    )
    parser.add_argument("--screenshot", type=Path, default=None, help="also write a PNG of the HTML page (needs chromium)")
    zoo = parser.add_argument_group("running the zoo (--run-zoo)")
    zoo.add_argument("--run-zoo", action="store_true", help="run the zoo models, then write OUT/leaderboard.{md,csv,html} and OUT/results/")
    zoo.add_argument("--models", nargs="+", default=None, help="zoo names or model folders (default: the whole zoo)")
    zoo.add_argument(
        "--formats",
        nargs="+",
        default=None,
        choices=("plain", "fewshot", "chat"),
        help="prompt formats (default: all; chat only where a template exists)",
    )
    zoo.add_argument(
        "--per-relation", type=positive_int, default=RUN_DEFAULTS["per_relation"], help="first N test questions of each relation (even: whole pairs)"
    )
    zoo.add_argument("--fewshot-k", type=positive_int, default=RUN_DEFAULTS["fewshot_k"])
    zoo.add_argument("--dtype", choices=DTYPES, default=None, help="weights' dtype (default: see 'fk-bench models')")
    zoo.add_argument("--device", default=None)
    zoo.add_argument("--batch-size", type=positive_int, default=RUN_DEFAULTS["batch_size"])
    zoo.add_argument("--resume", action="store_true", help="keep results already in OUT/results for the same model, format and slice")
    parser.set_defaults(func=run)


def _page_options(args: argparse.Namespace) -> list[str]:
    """The options both commands share, where they differ from their defaults."""
    words: list[str] = []
    if args.filter_threshold != DEFAULT_FILTER_THRESHOLD:
        words += ["--filter-threshold", str(args.filter_threshold)]
    if args.reports:
        words += ["--reports", *map(str, args.reports)]
    if args.screenshot:
        words += ["--screenshot", str(args.screenshot)]
    return words


def _compare_command(args: argparse.Namespace) -> str:
    return shlex.join(["fk-bench", "leaderboard", *map(str, args.results), "--out", str(args.out), *_page_options(args)])


def _zoo_command(args: argparse.Namespace) -> str:
    """The command that reproduces this zoo run, with every option that differs from its default."""
    words = ["fk-bench", "leaderboard", "--run-zoo", "--out", str(args.out)]
    if args.models:
        words += ["--models", *args.models]
    if args.formats:
        words += ["--formats", *args.formats]
    for name, default in RUN_DEFAULTS.items():
        if getattr(args, name) != default:
            words += [f"--{name.replace('_', '-')}", str(getattr(args, name))]
    for name in ("dtype", "device"):
        if getattr(args, name):
            words += [f"--{name}", getattr(args, name)]
    return shlex.join(words + _page_options(args))


def _check_screenshot(args: argparse.Namespace) -> None:
    """--screenshot needs chromium: say so before any work, not after it."""
    from fk_bench.errors import FkBenchError
    from fk_bench.pages.browser import find_chromium

    if args.screenshot is not None and find_chromium() is None:
        raise FkBenchError("--screenshot: headless Chromium is not installed (Debian: apt-get install chromium)")


def run(args: argparse.Namespace) -> None:
    from fk_bench.errors import FkBenchError

    if args.run_zoo:
        if args.results:
            raise FkBenchError("--run-zoo takes no result paths: it writes its own (OUT/results)")
        return _run_zoo(args)
    zoo_only = {**RUN_DEFAULTS, "models": None, "formats": None, "dtype": None, "device": None, "resume": False}
    given = [name for name, default in zoo_only.items() if getattr(args, name) != default]
    if given:
        raise FkBenchError(f"--{given[0].replace('_', '-')} applies only with --run-zoo")
    if not args.results or args.out is None:
        raise FkBenchError("give result files or folders and --out FILE (.md, .csv or .html), or --run-zoo")
    from fk_bench.files import check_writable_dir
    from fk_bench.leaderboard import check_suffix, collect_rows, render

    check_suffix(args.out)  # before any result is read
    check_writable_dir(args.out.parent)
    if args.screenshot is not None and args.out.suffix != ".html":
        raise FkBenchError(f"--screenshot needs an .html --out, not {args.out.name}")
    _check_screenshot(args)
    path = render(collect_rows(args.results, threshold=args.filter_threshold, reports=args.reports), args.out, command=_compare_command(args))
    print(f"wrote {path}")
    if args.screenshot is not None:
        from fk_bench.pages.browser import screenshot

        print(f"wrote {screenshot(path, args.screenshot)}")


def _run_zoo(args: argparse.Namespace) -> None:
    from fk_bench.leaderboard import collect_rows, render_all
    from fk_bench.leaderboard.run import FORMATS, ZOO_MODELS, run_zoo, timing_table

    args.out = args.out or Path("leaderboard")
    _check_screenshot(args)
    start = time.perf_counter()
    runs = run_zoo(
        args.out,
        models=args.models or ZOO_MODELS,
        formats=args.formats or FORMATS,
        per_relation=args.per_relation,
        fewshot_k=args.fewshot_k,
        dtype=args.dtype,
        device=args.device,
        batch_size=args.batch_size,
        resume=args.resume,
    )
    wall = time.perf_counter() - start
    results = [run.result for run in runs if run.result is not None]
    table = collect_rows(results, threshold=args.filter_threshold, reports=args.reports)
    for path in render_all(table, args.out, command=_zoo_command(args)):
        print(f"wrote {path}")
    if args.screenshot is not None:
        from fk_bench.pages.browser import screenshot

        print(f"wrote {screenshot(args.out / 'leaderboard.html', args.screenshot)}")
    print(timing_table(runs, wall))
