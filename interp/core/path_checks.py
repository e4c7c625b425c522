"""Paths checked before any work: a long report or page never fails at its last step on its path, never hangs on input.

:func:`check_output_file` refuses, in one line naming the flag, a path whose name or whole length is
past what the file system takes, a folder, FIFO, socket or device in its place, a suffix the output
does not have, or a folder it cannot be written into (:func:`fk_bench.files.check_writable_dir`);
:func:`check_input_path` refuses a FIFO, socket or device given as input.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from pathlib import Path

from fk_bench.errors import FkBenchError

NAME_MAX = 255
"""The longest file or folder name (bytes) of common file systems (ext4, XFS, APFS, NTFS)."""
PATH_MAX = 4096
"""The longest path (bytes) Linux takes."""


def check_path_length(path: Path, flag: str) -> None:
    """Refuse a path with a name longer than :data:`NAME_MAX` bytes or longer than :data:`PATH_MAX` in all."""
    absolute = os.fsencode(path.absolute())
    if len(absolute) >= PATH_MAX:
        raise FkBenchError(f"{flag} {str(path)[:60]}...: the path is {len(absolute)} bytes long, past the {PATH_MAX} the system takes")
    for part in path.parts:
        if len(os.fsencode(part)) > NAME_MAX:
            raise FkBenchError(f"{flag} {str(path)[:60]}...: a name of {len(os.fsencode(part))} bytes, past the {NAME_MAX} a file system takes")


def check_output_file(path: Path, flag: str, suffixes: Sequence[str] = ()) -> Path:
    """``path`` if a file can be written there; else one line naming ``flag`` and why (see the module's docstring)."""
    from fk_bench.files import check_writable_dir

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


def check_input_path(path: Path, flag: str) -> Path:
    """Refuse at once an input that is a FIFO, socket or device (reading it could hang or never end); a missing
    path, a file or a folder is left to the reader, which names what it expected."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return path
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        raise FkBenchError(f"{flag} {path}: is a FIFO, socket or device; give a file or folder")
    return path
