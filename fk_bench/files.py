"""Writing results safely: a file or a folder is either complete or absent, never half-written.

One pattern for both: write into a hidden staging path beside the target, then rename it over the
target. A folder of several files (results.json + questions.csv, a cached model, a dataset) is staged
whole, so readers never see a new file beside an old one. Files get the permissions of any file the
user creates (the umask), not ``mkstemp``'s 0600.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from fk_bench.errors import FkBenchError

STAGING_PREFIX = ".fk-bench-staging-"
STALE_AFTER_SECONDS = 6 * 3600
"""A staging folder older than this is a leftover of a killed run, and is removed."""


def _umask_mode(directory: bool) -> int:
    mask = os.umask(0)
    os.umask(mask)
    return (0o777 if directory else 0o666) & ~mask


def check_writable_dir(path: str | Path, what: str = "output folder") -> Path:
    """Fail at once (not after a long run) when ``path`` cannot be a folder we write into."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise FkBenchError(f"{what} {path}: exists and is not a folder")
    probe = path
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise FkBenchError(f"{what} {path}: {probe} is a file, not a folder")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise FkBenchError(f"{what} {path}: {probe} is not writable")
    return path


def remove_stale_staging(parent: Path, max_age: float = STALE_AFTER_SECONDS) -> None:
    """Remove staging folders under ``parent`` left by runs that were killed mid-write."""
    if not parent.is_dir():
        return
    now = time.time()
    for entry in parent.glob(STAGING_PREFIX + "*"):
        with contextlib.suppress(OSError):
            if now - entry.stat().st_mtime > max_age:
                shutil.rmtree(entry) if entry.is_dir() else entry.unlink()


def _link_missing(old: Path, staging: Path) -> None:
    """Hard-link into ``staging`` what ``old`` holds and ``staging`` does not (cheap, and ``old`` stays whole)."""
    for entry in old.iterdir():
        if (staging / entry.name).exists() or entry.name.startswith(STAGING_PREFIX):
            continue
        if entry.is_dir():
            shutil.copytree(entry, staging / entry.name, copy_function=os.link)
        else:
            os.link(entry, staging / entry.name)


@contextlib.contextmanager
def atomic_dir(target: str | Path, keep_existing: bool = False) -> Iterator[Path]:
    """Yield an empty staging folder; on success it replaces ``target`` whole, on failure it is removed.

    With ``keep_existing``, files of the old ``target`` that the new one does not write are kept.
    """
    target = Path(target)
    check_writable_dir(target.parent, "folder")
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_staging(target.parent)
    staging = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{target.name}-", dir=target.parent))
    os.chmod(staging, _umask_mode(directory=True))
    previous = target.parent / f"{STAGING_PREFIX}{target.name}-previous-{os.getpid()}"
    try:
        yield staging
        if target.exists() or target.is_symlink():
            if not target.is_dir():
                raise FkBenchError(f"{target}: exists and is not a folder")
            if keep_existing:
                _link_missing(target, staging)
            target.rename(previous)
        try:
            staging.rename(target)
        except OSError:
            if previous.exists():
                previous.rename(target)
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(previous, ignore_errors=True)


def write_atomic(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp_path)`` on a temporary file beside ``path``, then rename it over ``path``."""
    path = Path(path)
    if path.is_dir():
        raise FkBenchError(f"{path}: is a folder, expected a file path")
    check_writable_dir(path.parent, "folder")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f"{STAGING_PREFIX}{path.name}.", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        os.chmod(tmp, _umask_mode(directory=False))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def write_text_atomic(path: str | Path, text: str) -> Path:
    return write_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def strict_json(data: Any) -> str:
    """JSON that strict parsers accept: a non-finite float is an error here, not a bare ``NaN`` in the file."""

    def check(value: Any, where: str) -> None:
        if isinstance(value, float) and not math.isfinite(value):
            raise FkBenchError(f"refusing to write a non-finite number ({value}) at {where or 'top level'}")
        if isinstance(value, dict):
            for key, item in value.items():
                check(item, f"{where}.{key}" if where else str(key))
        elif isinstance(value, (list, tuple)):
            for index, item in enumerate(value):
                check(item, f"{where}[{index}]")

    check(data, "")
    return json.dumps(data, indent=2, allow_nan=False) + "\n"


def write_json_atomic(path: str | Path, data: Any) -> Path:
    return write_text_atomic(path, strict_json(data))


def read_text(path: str | Path, what: str = "file") -> str:
    """A text file's contents, or one line saying why it cannot be read (missing, a folder, not UTF-8)."""
    path = Path(path)
    if path.is_dir():
        raise FkBenchError(f"{what} {path}: is a folder, expected a file")
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise FkBenchError(f"{what} {path}: not found") from None
    except OSError as err:
        raise FkBenchError(f"{what} {path}: cannot be read ({err.strerror})") from None
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise FkBenchError(f"{what} {path}: is UTF-16 encoded; save it as UTF-8")
    if b"\x00" in raw:  # NUL bytes are valid UTF-8, but no text file of ours holds them
        raise FkBenchError(f"{what} {path}: looks like UTF-16 or binary (it holds NUL bytes); save it as UTF-8 text")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise FkBenchError(f"{what} {path}: is not UTF-8 text (byte {err.start}: {raw[err.start : err.start + 1]!r}); save it as UTF-8") from None
