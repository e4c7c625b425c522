"""Reading a JSON file that fk-bench wrote, defensively: one line naming the file and why, for any bad file.

:func:`read_json_file` reads strict JSON within limits: a regular file only (a FIFO or a device is
refused before it is opened, so a read never hangs), at most :data:`MAX_BYTES` (a 100 MB file is
refused before it is read), UTF-8 with or without a byte-order mark (anything else is named), no
duplicate keys (never "the last one wins"), no ``NaN`` or ``Infinity``, and nested at most
:data:`MAX_DEPTH` deep (a pathologically nested file is refused, never a RecursionError).

:func:`parse_versioned` turns the parsed data into a pydantic model of one schema version, naming an
unknown, older or newer version and what to do about it. report.json (:mod:`interp.core.report_file`)
and any other versioned file of interp (probe.json) are read with these two.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, JsonValue, ValidationError

from fk_bench.errors import FkBenchError

MAX_BYTES = 64 * 1024 * 1024
"""The largest file read (a report of a 1.5B model with every pair's grids is a few MB)."""
MAX_DEPTH = 64
"""The deepest nesting read (report.json nests about 8 deep)."""

Model = TypeVar("Model", bound=BaseModel)


def _no_duplicates(pairs: list[tuple[str, JsonValue]]) -> dict[str, JsonValue]:
    out: dict[str, JsonValue] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"holds the key {key!r} twice")
        out[key] = value
    return out


def _no_constant(name: str) -> JsonValue:
    raise ValueError(f"holds {name}, not a number strict JSON allows")


def _too_deep(data: JsonValue, limit: int) -> bool:
    """Whether ``data`` nests deeper than ``limit`` (iteratively: no recursion however deep)."""
    stack: list[tuple[JsonValue, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list):
            if depth > limit:
                return True
            stack.extend((item, depth + 1) for item in (value.values() if isinstance(value, dict) else value))
    return False


def read_bytes_within(path: Path, what: str, max_bytes: int = MAX_BYTES) -> bytes:
    """The bytes of a regular file of at most ``max_bytes``; one line naming ``path`` otherwise."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise FkBenchError(f"{what} {path}: not found") from None
    except OSError as err:
        raise FkBenchError(f"{what} {path}: cannot be read ({err.strerror or err})") from None
    if stat.S_ISDIR(info.st_mode):
        raise FkBenchError(f"{what} {path}: is a folder, expected a file")
    if not stat.S_ISREG(info.st_mode):
        raise FkBenchError(f"{what} {path}: is not a regular file (a FIFO, socket or device); give the file itself")
    if info.st_size > max_bytes:
        raise FkBenchError(f"{what} {path}: {info.st_size / 2**20:.0f} MiB, more than the {max_bytes / 2**20:.0f} MiB a {what} may be")
    try:
        with open(path, "rb") as handle:
            raw = handle.read(max_bytes + 1)  # the file may have grown since stat
    except OSError as err:
        raise FkBenchError(f"{what} {path}: cannot be read ({err.strerror or err})") from None
    if len(raw) > max_bytes:
        raise FkBenchError(f"{what} {path}: more than the {max_bytes / 2**20:.0f} MiB a {what} may be")
    return raw


def decode_utf8(raw: bytes, path: Path, what: str) -> str:
    """UTF-8 text (a byte-order mark is dropped); one line naming the first byte that is not UTF-8."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise FkBenchError(f"{what} {path}: is not UTF-8 text (byte {err.start}: {raw[err.start : err.start + 1]!r}); save it as UTF-8") from None


def read_json_file(path: str | Path, what: str, max_bytes: int = MAX_BYTES, max_depth: int = MAX_DEPTH) -> JsonValue:
    """The parsed strict JSON of ``path`` (limits in the module's docstring); one line naming ``what`` and ``path`` otherwise."""
    path = Path(path)
    text = decode_utf8(read_bytes_within(path, what, max_bytes), path, what)
    try:
        data: JsonValue = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except json.JSONDecodeError as err:
        raise FkBenchError(f"{what} {path}: not valid JSON ({err})") from None
    except RecursionError:
        raise FkBenchError(f"{what} {path}: nested deeper than {max_depth} levels; not a file fk-bench wrote") from None
    except ValueError as err:  # from the hooks above
        raise FkBenchError(f"{what} {path}: {err}") from None
    if _too_deep(data, max_depth):
        raise FkBenchError(f"{what} {path}: nested deeper than {max_depth} levels; not a file fk-bench wrote")
    return data


def first_error(err: ValidationError) -> str:
    """The first problem pydantic found, in one line (where, what, the value when it is short), and how many more."""
    first = err.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "top level"
    value = first.get("input")
    shown = "" if isinstance(value, dict | list) else f" (got {json.dumps(value) if isinstance(value, str) else value!r})"
    more = f"; {err.error_count() - 1} more problem(s)" if err.error_count() > 1 else ""
    return f"{where}: {first['msg']}{shown}{more}"


def parse_versioned(
    data: JsonValue,
    model: type[Model],
    version: int,
    where: str,
    what: str,
    redo: str,
    upgrades: dict[int | None, Callable[[dict[str, JsonValue]], dict[str, JsonValue]]] | None = None,
) -> Model:
    """``data`` as ``model``, whose ``schema_version`` is ``version``. ``upgrades`` turns an older version's data
    (None: a file of before versions) into this one's; any other version is refused naming it and ``redo`` (the
    command that writes a current file)."""
    if not isinstance(data, dict):
        raise FkBenchError(f"{where}: holds a JSON {type(data).__name__}, not a {what}")
    found = data.get("schema_version")
    if found != version:
        known = found is None or (isinstance(found, int) and not isinstance(found, bool))
        upgrade = (upgrades or {}).get(found) if known else None  # type: ignore[arg-type]  # found is int | None here
        if upgrade is None:
            shown = "no schema_version (written before they were versioned)" if found is None else f"schema version {found!r}"
            newer = isinstance(found, int) and not isinstance(found, bool) and found > version
            todo = "upgrade fk-bench to read it" if newer else f"rerun {redo}"
            raise FkBenchError(f"{where}: a {what} of {shown}; this fk-bench reads version {version}: {todo}")
        data = upgrade(data)
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise FkBenchError(f"{where}: not a valid {what}: {first_error(err)}") from None
    except (FkBenchError, TypeError) as err:  # from a dataclass field's own checks, which pydantic does not wrap
        raise FkBenchError(f"{where}: not a valid {what}: {err}") from None
