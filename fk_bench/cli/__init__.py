"""The ``fk-bench`` command line: one module per command, each only parsing arguments and calling the library.

Every command module defines ``add_parser(subparsers)`` and keeps heavy imports (torch, transformers)
inside its ``run(args)``, so ``fk-bench --help`` stays fast. Library modules never import argparse.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback

from fk_bench.cli import build_dataset, compare_reports, compare_runs, eval, export_model, leaderboard, models, probe, report, tasks_dir, zoo
from fk_bench.errors import FkBenchError

COMMANDS = (eval, report, probe, compare_reports, compare_runs, leaderboard, zoo, models, export_model, build_dataset, tasks_dir)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fk-bench", description="Factual yes/no benchmark: evaluate models, compare them, study them.")
    parser.add_argument("--debug", action="store_true", help="show the Python traceback of an unexpected error")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except FkBenchError as err:
        print(f"fk-bench: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("fk-bench: interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # noqa: BLE001 -- the safety net: every known bad input has its own message above
        if args.debug or os.environ.get("FK_BENCH_DEBUG"):
            traceback.print_exc()
        else:
            print(f"fk-bench: unexpected error: {type(err).__name__}: {err} (rerun with --debug for the traceback)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
