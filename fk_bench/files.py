"""Writing results safely: a file or a folder is either complete or absent, never half-written, and
nothing fk-bench did not write is ever deleted.

One pattern for both: write into a hidden staging path beside the target, then rename it over the
target. A folder of several files (results.json + questions.csv, a cached model, a dataset) is staged
whole, so readers never see a new file beside an old one. Files get the permissions of any file the
user creates (the umask), not ``mkstemp``'s 0600.

Writers of one folder take turns: every folder that fk-bench stages folders in holds a lock file,
``.fk-bench.lock`` (flock, through ``filelock``), held by each writer from before its staging folder
exists until after it is gone. So two writers of ``OUT/<run>/`` (two evals, an eval and a report) never
swap the folder under each other, and each keeps the files the other wrote; and a staging folder
found while the lock is free belongs to a writer that was killed: the next write into that folder
removes it. Symlinks inside a folder stay symlinks (never followed, never copied across devices).
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import re
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from fk_bench.errors import FkBenchError

STAGING_PREFIX = ".fk-bench-staging-"
LOCK_NAME = ".fk-bench.lock"
"""The writer lock of a folder that fk-bench stages folders in (``OUT/``, the model cache, a dataset's parent)."""
STALE_FILE_AFTER_SECONDS = 6 * 3600
"""A staging *file* (of :func:`write_atomic`, which takes no lock of its own) older than this is a leftover."""
WAIT_MESSAGE_AFTER_SECONDS = 3.0

_HELD: dict[tuple[str, int], Any] = {}
"""Locks this process holds, by (lock path, thread): a thread that holds a folder's lock takes it again for free."""
_LIVE: set[str] = set()
"""Staging folders of this process's writes in progress (a nested write never removes its caller's)."""


def _umask_mode(directory: bool) -> int:
    mask = os.umask(0)
    os.umask(mask)
    return (0o777 if directory else 0o666) & ~mask


def _broken_link(path: Path) -> str | None:
    """Why the symlink ``path`` leads nowhere (dangling, a loop), or None when it is no symlink or a sound one."""
    if not path.is_symlink():
        return None
    try:
        path.stat()
    except OSError as err:
        if err.errno == errno.ELOOP:
            return "is a symlink loop"
        return f"is a symlink to {os.readlink(path)}, which does not exist"
    return None


NAME_MAX_BYTES = 255  # the longest file name most filesystems take (ext4, xfs, btrfs, APFS, NTFS)
PATH_MAX_BYTES = 4096
_ROOM_BYTES = 64
"""Kept free in a name and a path for what fk-bench adds: a staging prefix and suffix, a file name."""


def check_path_length(path: str | Path, what: str = "path") -> None:
    """Fail at once when ``path`` (or a name fk-bench makes beside it, such as its staging name) is longer
    than the filesystem takes: one line, before any work, never an OSError after it."""
    path = Path(path)
    for part in path.parts:
        if len(part.encode("utf-8", "surrogateescape")) > NAME_MAX_BYTES - _ROOM_BYTES:
            raise FkBenchError(
                f"{what} {str(path)[:80]}...: the name {part[:40]}... is longer than {NAME_MAX_BYTES - _ROOM_BYTES} bytes; choose a shorter one"
            )
    if len(str(path.absolute()).encode("utf-8", "surrogateescape")) > PATH_MAX_BYTES - 4 * _ROOM_BYTES:
        raise FkBenchError(f"{what} {str(path)[:80]}...: longer than {PATH_MAX_BYTES - 4 * _ROOM_BYTES} bytes; choose a shorter path")


def check_writable_dir(path: str | Path, what: str = "output folder") -> Path:
    """Fail at once (not after a long run) when ``path`` cannot be a folder we write into: too long, a
    file, a FIFO or device, inside a file, a dangling symlink or a symlink loop (itself or a folder above
    it), or not writable."""
    path = Path(path)
    check_path_length(path, what)
    probe = path
    while True:
        problem = _broken_link(probe)
        if problem:
            raise FkBenchError(f"{what} {path}: {problem}" if probe == path else f"{what} {path}: {probe} {problem}")
        if probe.exists() or probe.parent == probe:
            break
        probe = probe.parent
    if probe == path and not path.is_dir():
        kind = "a file" if path.is_file() else "a FIFO, socket or device"
        raise FkBenchError(f"{what} {path}: exists and is not a folder (it is {kind}); give a folder")
    if not probe.is_dir():
        raise FkBenchError(f"{what} {path}: {probe} is a file, not a folder")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise FkBenchError(f"{what} {path}: {probe} is not writable")
    return path


# ---------------------------------------------------------------- the writer lock of a folder


@contextlib.contextmanager
def _writer_lock(folder: Path, wait: bool) -> Iterator[bool]:
    """``folder``'s writer lock (``folder/.fk-bench.lock``): True once held. ``wait``: wait for another writer
    (saying so after a few seconds; a lock file that cannot be made is an error); else False at once when
    another writer holds it or it cannot be made. A thread that already holds it passes (nested writes)."""
    from filelock import FileLock, Timeout

    path = os.path.join(os.path.realpath(folder), LOCK_NAME)  # one lock, however the folder is spelled
    key = (path, threading.get_ident())
    if key in _HELD:
        yield True
        return
    lock = FileLock(path)
    acquired = True
    try:
        try:
            lock.acquire(timeout=WAIT_MESSAGE_AFTER_SECONDS if wait else 0)
        except Timeout:
            if not wait:
                raise
            print(f"fk-bench: waiting for another fk-bench process writing into {folder} (lock {path})", file=sys.stderr)
            lock.acquire()
    except (Timeout, OSError) as err:
        if wait:
            raise FkBenchError(f"folder {folder}: its lock file {LOCK_NAME} cannot be created ({getattr(err, 'strerror', None) or err})") from None
        acquired = False
    if not acquired:
        yield False
        return
    _HELD[key] = lock
    try:
        yield True
    finally:
        del _HELD[key]
        lock.release()


@contextlib.contextmanager
def folder_lock(folder: Path) -> Iterator[None]:
    """Hold ``folder``'s writer lock (``folder/.fk-bench.lock``), waiting for another writer to finish.

    Processes and threads take turns; a thread that already holds it passes (nested writes).
    """
    with _writer_lock(folder, wait=True):
        yield


def remove_stale_staging(parent: Path) -> list[Path]:
    """Remove what killed writes left under ``parent``; returns what was removed.

    A staging folder exists only while its writer holds ``parent``'s lock: one found with the lock free
    is dead, whatever its age. A staging file of :func:`write_atomic` is removed after
    :data:`STALE_FILE_AFTER_SECONDS`.
    """
    if not parent.is_dir():
        return []
    entries = list(parent.glob(STAGING_PREFIX + "*"))
    folders = [e for e in entries if e.is_dir() and not e.is_symlink()]
    removed = []
    if folders:
        with _writer_lock(parent, wait=False) as free:
            for entry in folders if free else []:
                if str(entry) not in _LIVE:
                    shutil.rmtree(entry, ignore_errors=True)
                    removed.append(entry)
    now = time.time()
    for entry in entries:
        if entry in folders:
            continue
        with contextlib.suppress(OSError):
            if now - entry.lstat().st_mtime > STALE_FILE_AFTER_SECONDS:
                entry.unlink()
                removed.append(entry)
    return removed


def is_staging(path: str | Path) -> bool:
    """Whether ``path`` is in a staging folder or file (an unfinished or killed write; readers skip it)."""
    return any(part.startswith(STAGING_PREFIX) for part in Path(path).parts)


# ---------------------------------------------------------------- folders


def _link_or_copy(source: str, target: str) -> None:
    """A hard link (cheap, the old folder stays whole); a copy where there is none (another device mounted inside)."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _keep(entry: Path, target: Path) -> None:
    """``entry`` of the old folder into the new one: a symlink as the same symlink, a folder as a tree."""
    if entry.is_symlink():
        os.symlink(os.readlink(entry), target)
    elif entry.is_dir():
        shutil.copytree(entry, target, symlinks=True, copy_function=_link_or_copy)
    else:
        _link_or_copy(str(entry), str(target))


def _keep_missing(old: Path, staging: Path) -> None:
    """Bring into ``staging`` what ``old`` holds and ``staging`` does not: files this write did not make."""
    for entry in old.iterdir():
        new = staging / entry.name
        if entry.name.startswith(STAGING_PREFIX) or new.exists() or new.is_symlink():
            continue
        _keep(entry, new)


def _swap(target: Path, staging: Path, previous: Path, keep_existing: bool) -> None:
    if target.exists() or target.is_symlink():
        if not target.is_dir():
            raise FkBenchError(f"{target}: exists and is not a folder")
        if keep_existing:
            _keep_missing(target, staging)
        target.rename(previous)
    try:
        staging.rename(target)
    except OSError:
        if previous.exists():
            previous.rename(target)
        raise


@contextlib.contextmanager
def atomic_dir(target: str | Path, keep_existing: bool = False) -> Iterator[Path]:
    """Yield an empty staging folder; on success it replaces ``target`` whole, on failure it is removed.

    With ``keep_existing``, whatever the old ``target`` holds that the new one does not write is kept
    (an interp report beside results.json; symlinks as symlinks). Writers of one folder take turns
    (:func:`folder_lock` on its parent); staging folders of killed writers there are removed first.
    A ``target`` that is a symlink to a folder is written through: the link stays.
    """
    target = Path(target)
    check_writable_dir(target, "folder")
    if target.is_symlink():
        target = target.resolve()
    parent = target.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise FkBenchError(f"folder {parent}: cannot be created ({err.strerror or err})") from None
    with folder_lock(parent):
        remove_stale_staging(parent)
        try:
            staging = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{target.name}-", dir=parent))
        except OSError as err:
            raise FkBenchError(f"folder {parent}: cannot write into it ({err.strerror or err})") from None
        _LIVE.add(str(staging))
        previous = staging.with_name(f"{staging.name}-previous")
        try:
            os.chmod(staging, _umask_mode(directory=True))
            try:
                yield staging
            except OSError as err:  # a full disk, most likely: the staging folder goes, the old target stays
                raise FkBenchError(
                    f"{target}: could not be written ({err.strerror or err}); nothing was replaced, its earlier files are as they were"
                ) from None
            try:
                _swap(target, staging, previous, keep_existing)
            except OSError as err:
                raise FkBenchError(f"{target}: could not be replaced by the new files ({err.strerror or err}); it is as it was") from None
        finally:
            shutil.rmtree(staging, ignore_errors=True)
            shutil.rmtree(previous, ignore_errors=True)
            _LIVE.discard(str(staging))


# ---------------------------------------------------------------- files


@contextlib.contextmanager
def _lock_if_swapped(folder: Path) -> Iterator[None]:
    """The lock of ``folder``'s parent when fk-bench replaces folders there (its lock file exists), so a
    file written into ``folder`` (an ``OUT/<run>/``) is never lost to a writer swapping the folder."""
    if (folder.parent / LOCK_NAME).is_file():
        with folder_lock(folder.parent):
            yield
    else:
        yield


def write_atomic(path: str | Path, write: Callable[[Path], object]) -> Path:
    """Call ``write(tmp_path)`` on a temporary file beside ``path``, then rename it over ``path``.

    A ``path`` that is a symlink is written through (the link stays).
    """
    path = Path(path)
    if path.is_dir():
        raise FkBenchError(f"{path}: is a folder, expected a file path")
    if path.is_symlink():
        path = path.resolve()
    check_writable_dir(path.parent, "folder")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise FkBenchError(f"folder {path.parent}: cannot be created ({err.strerror or err})") from None
    with _lock_if_swapped(path.parent):
        remove_stale_staging(path.parent)
        try:
            fd, tmp_name = tempfile.mkstemp(prefix=f"{STAGING_PREFIX}{path.name}.", dir=path.parent)
        except OSError as err:
            raise FkBenchError(f"{path}: cannot be written ({err.strerror or err})") from None
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            write(tmp)
            os.chmod(tmp, _umask_mode(directory=False))
            os.replace(tmp, path)
        except OSError as err:
            raise FkBenchError(f"{path}: could not be written ({err.strerror or err})") from None
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


# ---------------------------------------------------------------- reading JSON strictly

MAX_JSON_BYTES = 256 * 1024 * 1024
"""The largest JSON file read (a full results.json is a few MB): a bigger one is refused before it is read."""
MAX_JSON_DEPTH = 64
"""The deepest nesting of arrays and objects read (results.json nests 5 deep): checked before parsing, so a
pathological file is one error line, never a RecursionError."""
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)


def _json_depth(text: str) -> int:
    """The deepest nesting of ``[``/``{`` in the JSON ``text``, brackets inside strings not counted (vectorised:
    a few ms for a results.json)."""
    import numpy as np

    brackets = re.sub(r"[^\[\]{}]+", "", _JSON_STRING.sub("", text))
    if not brackets:
        return 0
    codes = np.frombuffer(brackets.encode("ascii"), dtype=np.uint8)
    steps = np.where((codes == ord("[")) | (codes == ord("{")), 1, -1)
    return int(np.cumsum(steps).max())


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise ValueError(f"duplicate key {key!r} in one object")
        seen[key] = value
    return seen


def _no_constant(name: str) -> Any:
    raise ValueError(f"holds {name}, not a number strict JSON allows")


def loads_strict(text: str, where: str, max_depth: int = MAX_JSON_DEPTH, allow_nan: bool = False) -> Any:
    """Parse ``text`` as strict JSON, or raise one :class:`FkBenchError` line naming ``where`` and why: duplicate
    keys (never "the last one wins"), ``NaN``/``Infinity`` (``allow_nan``: only for files of other tools
    that write them, lm-eval's), nesting deeper than ``max_depth`` (checked before parsing), invalid JSON.
    A leading UTF-8 BOM is accepted."""
    text = text.removeprefix("\ufeff")
    depth = _json_depth(text)
    if depth > max_depth:
        raise FkBenchError(f"{where}: nested {depth} levels deep, more than the {max_depth} fk-bench reads; not a file fk-bench wrote")
    try:
        return json.loads(text, object_pairs_hook=_unique_keys, parse_constant=float if allow_nan else _no_constant)
    except json.JSONDecodeError as err:
        raise FkBenchError(f"{where}: not valid JSON ({err})") from None
    except ValueError as err:
        raise FkBenchError(f"{where}: {err}") from None
    except RecursionError:  # belt and braces: the depth check above comes first
        raise FkBenchError(f"{where}: nested too deeply to read") from None


def read_json(
    path: str | Path, what: str = "JSON file", max_bytes: int | None = None, max_depth: int = MAX_JSON_DEPTH, allow_nan: bool = False
) -> Any:
    """The one reader of every JSON file fk-bench reads (results, answer maps, specs, reports): strict
    (:func:`loads_strict`), UTF-8 (a BOM accepted, anything else named), at most ``max_bytes`` (checked
    before reading; default :data:`MAX_JSON_BYTES`). Any problem is one :class:`FkBenchError` line naming
    ``what`` and the file."""
    path = Path(path)
    max_bytes = MAX_JSON_BYTES if max_bytes is None else max_bytes
    try:
        if path.exists() and not path.is_dir() and not path.is_file():
            raise FkBenchError(f"{what} {path}: is not a regular file (a FIFO or a device?); give a JSON file")
        size = path.stat().st_size if path.is_file() else 0
    except OSError as err:
        raise FkBenchError(f"{what} {path}: cannot be read ({err.strerror or err})") from None
    if size > max_bytes:
        raise FkBenchError(f"{what} {path}: {size:,} bytes, more than the {max_bytes:,} fk-bench reads")
    return loads_strict(read_text(path, what), f"{what} {path}", max_depth, allow_nan)
