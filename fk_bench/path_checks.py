"""Paths checked before any work: a long run, report or page never fails at its last step on its path, never
hangs on input. Every command's input and output files go through these (folders: :func:`fk_bench.files.check_writable_dir`).

:func:`check_output_file` refuses, in one line naming the flag, a path whose name or whole length is
past what the file system takes (:func:`fk_bench.files.check_path_length`), a folder, FIFO, socket or device in its place, a suffix the output
does not have, or a folder it cannot be written into (:func:`fk_bench.files.check_writable_dir`);
:func:`check_input_path` refuses a FIFO, socket or device given as input.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from pathlib import Path

from fk_bench.errors import FkBenchError
from fk_bench.files import check_path_length, check_writable_dir


def check_output_file(path: Path, flag: str, suffixes: Sequence[str] = ()) -> Path:
    """``path`` if a file can be written there; else one line naming ``flag`` and why (see the module's docstring)."""
    check_path_length(path, flag)
    if suffixes and path.suffix.lower() not in suffixes:
        raise FkBenchError(f"{flag} {path}: give a {' or '.join(suffixes)} path")
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        mode = None
    except OSError as err:
        raise FkBenchError(f"{flag} {path}: cannot be checked ({err.strerror or err})") from None
    if mode is not None and stat.S_ISDIR(mode):
        raise FkBenchError(f"{flag} {path}: is a folder; give a file path")
    if mode is not None and not stat.S_ISREG(mode):
        raise FkBenchError(f"{flag} {path}: is a FIFO, socket or device, not a file fk-bench may replace")
    check_writable_dir(path.parent if str(path.parent) else Path("."), f"{flag} {path}: folder")
    return path


def check_input_path(value: str | Path | None, flag: str) -> None:
    """Refuse at once an input that is a FIFO, socket or device (reading one would wait forever), or a path too long
    to exist; anything else (absent: a Hub id, a typo; a file; a folder) is left to the reader that knows what it needs."""
    if value is None:
        return
    check_path_length(value, flag)
    try:
        mode = Path(value).expanduser().stat().st_mode
    except OSError:
        return
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        raise FkBenchError(f"{flag} {value}: is a FIFO, socket or device, not a file or folder; give a file or folder")
