"""``fk-bench build-dataset``: generate the packaged yes/no dataset from offline knowledge bases."""

from __future__ import annotations

import argparse
from pathlib import Path

from fk_bench.dataset.pairs import DEFAULT_SEED


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("build-dataset", help="generate the yes/no dataset from offline knowledge bases (needs the 'build' extra)")
    parser.add_argument(
        "--out",
        required=True,
        type=Path,
        help="dataset folder to write (parquet files + README card); in an earlier build only the build's own files are replaced",
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"random seed (default {DEFAULT_SEED}, the packaged dataset)")
    parser.set_defaults(func=run)


def input_folders() -> list[Path]:
    """What the build reads: fk_bench/dataset (its relations, vendored sources, card template) and the
    folder of each knowledge-base package that is installed."""
    import importlib.util

    import fk_bench.dataset
    from fk_bench.dataset.knowledge import SOURCES

    folders = [Path(fk_bench.dataset.__file__).parent]
    for source in SOURCES.values():
        spec = importlib.util.find_spec(source.package) if source.package else None
        if spec is not None and spec.origin:
            origin = Path(spec.origin)
            folders.append(origin.parent if origin.name == "__init__.py" else origin)
    return folders


def check_not_inside_inputs(out: Path) -> None:
    """Refuse, before any work, an --out that is, holds or lies inside what the build reads (``--out .`` in
    the repository would replace the sources it is built from)."""
    from fk_bench.errors import FkBenchError
    from fk_bench.files import check_path_length

    check_path_length(out, "--out")
    target = out.expanduser().resolve()
    for folder in input_folders():
        source = folder.resolve()
        if target == source or source in target.parents or target in source.parents:
            raise FkBenchError(f"--out {out}: holds or lies inside {source}, which the build reads; choose a folder outside it")


def run(args: argparse.Namespace) -> None:
    from fk_bench.dataset.write import write_dataset

    check_not_inside_inputs(args.out)
    build = write_dataset(args.out, seed=args.seed)
    counts = ", ".join(f"{name}={len(splits['test'])}" for name, splits in build.configs.items())
    print(f"wrote {args.out} (seed {args.seed}); test questions per config: {counts}")
