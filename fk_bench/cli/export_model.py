"""``fk-bench export-model``: write a model as a plain Hugging Face directory (for ``lm_eval --model hf``)."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("export-model", help="write a model as a Hugging Face directory (for lm_eval --model hf)")
    parser.add_argument("model", help="a zoo name, a local directory or a Hub id")
    parser.add_argument("out_dir", type=Path)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> None:
    from fk_bench.models import export_model

    print(export_model(args.model, args.out_dir))
