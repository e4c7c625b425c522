"""Reading a versioned JSON file that fk-bench wrote (report.json, did_not_pass.json, probe.json): one line
naming the file and why, for any bad file.

:func:`read_json_file` is :func:`fk_bench.files.read_json` (the one strict reader: a regular file only,
bounded size, UTF-8 with or without a byte-order mark, no duplicate keys, no ``NaN``, bounded nesting)
within interp's limits; :func:`parse_versioned` turns the parsed data into a pydantic model of one schema
version, naming an unknown, older or newer version and what to do about it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, JsonValue, ValidationError

from fk_bench.errors import FkBenchError
from fk_bench.files import read_json
from fk_bench.results import first_error

MAX_BYTES = 64 * 1024 * 1024
"""The largest file read (a report of a 1.5B model with every pair's grids is a few MB)."""
MAX_DEPTH = 64
"""The deepest nesting read (report.json nests about 8 deep)."""

Model = TypeVar("Model", bound=BaseModel)


def read_json_file(path: str | Path, what: str, max_bytes: int = MAX_BYTES, max_depth: int = MAX_DEPTH) -> JsonValue:
    """The parsed strict JSON of ``path`` within interp's limits (:func:`fk_bench.files.read_json`, the one strict
    reader); one line naming ``what`` and ``path`` otherwise."""
    data: JsonValue = read_json(path, what, max_bytes=max_bytes, max_depth=max_depth)
    return data


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
