"""``fk-bench models``: the offline model zoo: names, architectures, where the weights come from, what is installed."""

from __future__ import annotations

import argparse


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("models", help="list the models that --model accepts by name")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> None:
    raise NotImplementedError("fk-bench models: being built (model zoo)")
