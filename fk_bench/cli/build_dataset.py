"""``fk-bench build-dataset``: generate the packaged yes/no dataset from offline knowledge bases."""

from __future__ import annotations

import argparse
from pathlib import Path

from fk_bench.dataset.pairs import DEFAULT_SEED


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("build-dataset", help="generate the yes/no dataset from offline knowledge bases (needs the 'build' extra)")
    parser.add_argument(
        "--out",
        required=True,
        type=Path,
        help="dataset folder to write (parquet files + README card); in an earlier build only the build's own files are replaced",
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"random seed (default {DEFAULT_SEED}, the packaged dataset)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> None:
    from fk_bench.dataset.write import write_dataset

    build = write_dataset(args.out, seed=args.seed)
    counts = ", ".join(f"{name}={len(splits['test'])}" for name, splits in build.configs.items())
    print(f"wrote {args.out} (seed {args.seed}); test questions per config: {counts}")
