"""Writing the dataset folder: ``<config>/<split>.parquet`` for every config and split, and the card.

The parquet files have the fixed schema of :mod:`fk_bench.dataset.schema` and no pandas metadata, so
their bytes depend only on the rows. The folder is staged and swapped in whole with
:func:`fk_bench.files.atomic_dir`, so a reader never sees a half-written dataset. Rebuilding into an
earlier build's folder replaces only what a build writes: the files the new build writes, and the data
files the earlier card declared (its stale configs); everything else there (a ``.git/``, notes) is kept.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fk_bench.dataset.card import CARD_MARKER, data_files, dataset_card
from fk_bench.dataset.pairs import DEFAULT_SEED, Build, build_dataset
from fk_bench.dataset.schema import arrow_schema
from fk_bench.errors import FkBenchError
from fk_bench.files import atomic_dir, check_writable_dir

if TYPE_CHECKING:
    import pyarrow

CARD = "README.md"


def arrow_table(rows: list[dict[str, Any]]) -> pyarrow.Table:
    """Rows with the fixed schema and no pandas metadata."""
    import pyarrow as pa

    return pa.Table.from_pylist(rows, schema=arrow_schema())


def write_parquet(table: pyarrow.Table, path: Path) -> None:
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, compression="zstd")


def _earlier_card(out: Path) -> str | None:
    """The card of an earlier build in ``out`` (None where ``out`` is absent or empty); refuses, before the
    build, a target that is a file, not writable, or a folder of something else."""
    check_writable_dir(out, "--out")
    check_writable_dir(out.parent, "--out's parent folder")  # the new folder is renamed into it
    if not (out.is_dir() and any(out.iterdir())):
        return None
    card = out / CARD
    data = card.read_bytes() if card.is_file() else b""
    if CARD_MARKER.encode() not in data:
        raise FkBenchError(f"{out}: folder is not empty and not an earlier fk-bench build; choose another --out")
    return data.decode("utf-8", errors="replace")


def _keep_others(old: Path, staging: Path, ours: set[str], relative: str = "") -> bool:
    """Hard-link into ``staging`` every file of ``old`` that the new build did not write and that is not one
    of the earlier build's own files (``ours``, relative paths), folders recursively (empty ones too),
    links as links. Returns whether it left out a file of ``ours``."""
    left_out = False
    for entry in sorted(old.iterdir()):
        name = f"{relative}{entry.name}"
        target = staging / entry.name
        if name in ours:
            left_out = True
        elif entry.is_symlink():
            if not target.exists() and not target.is_symlink():
                os.symlink(os.readlink(entry), target)
        elif entry.is_dir():
            created = not target.exists()
            if created:
                target.mkdir()
            if target.is_dir() and _keep_others(entry, target, ours, f"{name}/") and created and not any(target.iterdir()):
                target.rmdir()  # a folder that held only the earlier build's stale files
        elif not target.exists():
            try:
                os.link(entry, target)
            except OSError:
                shutil.copy2(entry, target)
    return left_out


def write_dataset(out: str | Path, seed: int = DEFAULT_SEED, token_count: Callable[[str], int] | None = None) -> Build:
    """Build the dataset and write ``out/<config>/<split>.parquet`` and ``out/README.md``.

    ``out`` must be absent, empty, or an earlier build; in an earlier build only the files a build
    writes are replaced (see the module doc). Returns the build.
    """
    out = Path(out)
    earlier = _earlier_card(out)
    build = build_dataset(seed, token_count)
    split_bytes = {}
    with atomic_dir(out) as staging:
        for config, splits in build.configs.items():
            for split, rows in splits.items():
                table = arrow_table(rows)
                split_bytes[config, split] = table.nbytes
                write_parquet(table, staging / config / f"{split}.parquet")
        (staging / CARD).write_text(dataset_card(build, split_bytes), encoding="utf-8")
        if earlier is not None:
            _keep_others(out, staging, {CARD, *data_files(earlier)})
    return build
