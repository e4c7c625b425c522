"""Writing the dataset folder: ``<config>/<split>.parquet`` for every config and split, and the card.

The parquet files have the fixed schema of :mod:`fk_bench.dataset.schema` and no pandas metadata, so
their bytes depend only on the rows; the folder is written whole with :func:`fk_bench.files.atomic_dir`,
so a reader never sees a half-written dataset.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from fk_bench.dataset.card import CARD_MARKER, dataset_card
from fk_bench.dataset.pairs import DEFAULT_SEED, Rows, build_splits
from fk_bench.dataset.schema import arrow_schema
from fk_bench.errors import FkBenchError
from fk_bench.files import atomic_dir, check_writable_dir

if TYPE_CHECKING:
    import pyarrow


def arrow_table(rows: list[dict]) -> pyarrow.Table:
    """Rows with the fixed schema and no pandas metadata."""
    import pyarrow as pa

    return pa.Table.from_pylist(rows, schema=arrow_schema())


def write_parquet(table: pyarrow.Table, path: Path) -> None:
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, compression="zstd")


def _check_out(out: Path) -> None:
    """Refuse, before the build, a target that is a file, not writable, or a folder of something else."""
    check_writable_dir(out, "--out")
    check_writable_dir(out.parent, "--out's parent folder")  # the new folder is renamed into it
    if out.is_dir() and any(out.iterdir()):
        card = out / "README.md"
        if not (card.is_file() and CARD_MARKER.encode() in card.read_bytes()):
            raise FkBenchError(f"{out}: folder is not empty and not an earlier fk-bench build; choose another --out")


def write_dataset(out: str | Path, seed: int = DEFAULT_SEED, token_count: Callable[[str], int] | None = None) -> Rows:
    """Build the dataset and write ``out/<config>/<split>.parquet`` and ``out/README.md``.

    ``out`` must be absent, empty, or an earlier build (which is replaced whole). Returns the rows by
    config and split.
    """
    out = Path(out)
    _check_out(out)
    configs = build_splits(seed, token_count)
    split_bytes = {}
    with atomic_dir(out) as staging:
        for config, splits in configs.items():
            for split, rows in splits.items():
                table = arrow_table(rows)
                split_bytes[config, split] = table.nbytes
                write_parquet(table, staging / config / f"{split}.parquet")
        (staging / "README.md").write_text(dataset_card(configs, seed, split_bytes), encoding="utf-8")
    return configs
