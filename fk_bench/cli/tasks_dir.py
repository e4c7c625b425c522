"""``fk-bench tasks-dir``: the folder to pass as ``lm_eval --include_path``."""

from __future__ import annotations

import argparse


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("tasks-dir", help="print the lm-eval --include_path for the fk_yesno tasks")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> None:
    from fk_bench.task_plugin import tasks_dir

    print(tasks_dir())
