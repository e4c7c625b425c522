"""The model cache (zoo models dequantized once into Hugging Face directories) and cheap checks of any
model directory.

A cached directory holds a manifest (format, the size and content hash of every file, where the weights
came from), written last inside the staging folder that :func:`fk_bench.files.atomic_dir` renames into
place. Two checks, both leading to a rebuild with a message on stderr:

- :func:`cache_problem`, cheap (milliseconds): the manifest's sizes, the safetensors headers, config.json;
- :func:`content_problem`, every file's hash against the manifest's; ``load_model`` runs it beside the
  loading, so a zeroed tensor or a same-size corrupt tokenizer.json never gives numbers that
  results.json attributes to the GGUF file it cites.

The hash is XXH3-128 (the ``xxhash`` package, which ``datasets`` requires): the file is read once at
memory speed (0.2-0.4 s for the embedded model's 1.1 GB, against 1.5-2 s for sha256; BENCHMARKS.md). It
detects any accidental change; a cryptographic hash would add nothing here, as whoever can rewrite
the files can rewrite the manifest beside them. The GGUF files themselves are checked by sha256
against the zoo's registry before they are dequantized (:mod:`fk_bench.models.gguf`).

One build at a time in the cache (the cache folder's writer lock), so processes started together do
not dequantize the same model twice.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from fk_bench.errors import FkBenchError
from fk_bench.files import atomic_dir, check_writable_dir, folder_lock, remove_stale_staging

MANIFEST = ".fk-bench-complete"
CACHE_FORMAT = 4
"""Bump when a cached directory's layout or contents change: older caches are rebuilt (4: a content hash per file)."""
CONTENT_HASH = "xxh3_128"
"""The hash the manifest records for each file (its key in the file's entry); ``sha256`` is read too."""
TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json", "vocab.txt", "spiece.model", "sentencepiece.bpe.model", "tekken.json")
_MAX_HEADER_BYTES = 100 * 1024 * 1024  # the safetensors format's own limit
_HASH_CHUNK_BYTES = 8 * 1024 * 1024


def cache_root() -> Path:
    """Where fk-bench keeps dequantized models (``FK_BENCH_CACHE`` overrides)."""
    if "FK_BENCH_CACHE" in os.environ:
        return Path(os.environ["FK_BENCH_CACHE"])
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("fk-bench"))


def models_dir() -> Path:
    return cache_root() / "models"


def safetensors_problem(path: Path) -> str | None:
    """Why ``path`` is not a complete safetensors file (bad header, or size not what the header says), or None."""
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            raw = handle.read(8)
            if len(raw) < 8:
                return f"{path.name} is {size} bytes, too short for a safetensors header"
            (header_bytes,) = struct.unpack("<Q", raw)
            if header_bytes > min(_MAX_HEADER_BYTES, size - 8):
                return f"{path.name}: safetensors header length {header_bytes:,} does not fit the file ({size:,} bytes)"
            header = json.loads(handle.read(header_bytes))
    except OSError as err:
        return f"{path.name} cannot be read ({err.strerror})"
    except (ValueError, UnicodeDecodeError):
        return f"{path.name}: the safetensors header is not valid JSON"
    if not isinstance(header, dict):
        return f"{path.name}: the safetensors header is not a JSON object"
    try:
        data_end = max((int(entry["data_offsets"][1]) for key, entry in header.items() if key != "__metadata__"), default=0)
    except (TypeError, KeyError, IndexError, ValueError):
        return f"{path.name}: the safetensors header has a tensor without data_offsets"
    expected = 8 + header_bytes + data_end
    if size != expected:
        return f"{path.name} is {size:,} bytes, its header describes {expected:,} (truncated or damaged)"
    return None


def model_dir_problems(path: Path) -> list[str]:
    """What is wrong with the Hugging Face model directory ``path``, cheaply: config.json parseable, every
    safetensors file (and every shard its index names) complete per its header, tokenizer files present."""
    problems = []
    config = path / "config.json"
    try:
        if not isinstance(json.loads(config.read_text(encoding="utf-8")), dict):
            problems.append("config.json is not a JSON object")
    except FileNotFoundError:
        problems.append("no config.json")
    except (OSError, ValueError, UnicodeDecodeError):
        problems.append("config.json is not valid JSON")
    index = path / "model.safetensors.index.json"
    shards = set(path.glob("*.safetensors"))
    if index.exists():
        try:
            names = set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values())
        except (OSError, ValueError, KeyError, TypeError, UnicodeDecodeError):
            problems.append(f"{index.name} is not a valid safetensors index")
            names = set()
        problems.extend(f"{name} (named in {index.name}) is missing" for name in sorted(names) if not (path / name).exists())
    problems.extend(problem for shard in sorted(shards) if (problem := safetensors_problem(shard)))
    if not any((path / name).is_file() for name in TOKENIZER_FILES):
        problems.append(f"no tokenizer files (none of {', '.join(TOKENIZER_FILES)})")
    return problems


def read_manifest(path: Path) -> dict[str, Any] | None:
    try:
        manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    return manifest if isinstance(manifest, dict) else None


def cache_problem(path: Path) -> str | None:
    """Why the cached model at ``path`` cannot be used as it is (absent, older format, damaged), or None."""
    if not path.is_dir():
        return "not built yet"
    manifest = read_manifest(path)
    if manifest is None:
        return "incomplete (no valid manifest)"
    if manifest.get("format") != CACHE_FORMAT:
        return f"of an older cache format ({manifest.get('format')}, now {CACHE_FORMAT})"
    files = manifest.get("files")
    if not isinstance(files, dict) or not all(_valid_entry(entry) for entry in files.values()):
        return "incomplete (no valid manifest)"
    for name, entry in files.items():
        file = path / name
        if not file.is_file():
            return f"damaged: {name} is missing"
        if file.stat().st_size != entry["bytes"]:
            return f"damaged: {name} is {file.stat().st_size:,} bytes, expected {entry['bytes']:,}"
    extra = sorted(item.name for item in path.iterdir() if item.name not in files and not item.name.startswith("."))
    if extra:  # an added tokenizer.json, added_tokens.json or *.safetensors changes what loads, unhashed
        return f"changed: it holds {', '.join(extra[:3])}{' ...' if len(extra) > 3 else ''}, which it was not built with"
    problems = model_dir_problems(path)
    return f"damaged: {problems[0]}" if problems else None


class _Digest(Protocol):
    """What :func:`file_hash` uses of a hash object (hashlib's sha256 and xxhash's xxh3_128 both have it)."""

    def update(self, data: memoryview, /) -> None: ...

    def hexdigest(self) -> str: ...


def _new_hash(algorithm: str) -> _Digest:
    if algorithm == "sha256":
        return hashlib.sha256()
    import xxhash

    return xxhash.xxh3_128()


def _valid_entry(entry: object) -> bool:
    """A manifest's file entry: its size and one known hash, ``{"bytes": n, "xxh3_128": hex}``."""
    return isinstance(entry, dict) and isinstance(entry.get("bytes"), int) and any(isinstance(entry.get(a), str) for a in (CONTENT_HASH, "sha256"))


def file_hash(path: Path, algorithm: str = CONTENT_HASH) -> str:
    """The file's hash (``xxh3_128`` or ``sha256``), read in chunks into one buffer (reads release the GIL:
    this runs beside a load). Not mmap: a file truncated meanwhile is an OSError here, not a crash."""
    digest = _new_hash(algorithm)
    buffer = memoryview(bytearray(_HASH_CHUNK_BYTES))
    with path.open("rb", buffering=0) as handle:
        while size := handle.readinto(buffer):
            digest.update(buffer[:size])
    return digest.hexdigest()


def _file_problem(path: Path, name: str, entry: dict[str, Any]) -> str | None:
    algorithm = CONTENT_HASH if CONTENT_HASH in entry else "sha256"
    expected = entry[algorithm]
    try:
        digest = file_hash(path / name, algorithm)
    except OSError as err:
        return f"damaged: {name} cannot be read ({err.strerror or err})"
    if digest != expected:
        return f"damaged: the contents of {name} changed since it was built ({algorithm} {digest[:12]}..., built as {str(expected)[:12]}...)"
    return None


def content_problem(path: Path) -> str | None:
    """Why the cached files at ``path`` are not the bytes that were built (each file's hash against the
    manifest's), or None. Reads every file once, the files side by side (threads). Run after
    :func:`cache_problem` passed (it checks the manifest's form)."""
    from concurrent.futures import ThreadPoolExecutor

    files = (read_manifest(path) or {}).get("files") or {}
    largest_first = sorted(files, key=lambda name: -int(files[name].get("bytes", 0)))
    with ThreadPoolExecutor(max_workers=max(1, min(len(files), os.cpu_count() or 1))) as pool:
        problems = list(pool.map(lambda name: _file_problem(path, name, files[name]), largest_first))
    return next((problem for problem in problems if problem), None)


def cached_model(name: str, build: Callable[[Path], dict[str, Any]], what: str, verify: bool = True) -> Path:
    """The cached directory ``models_dir()/name``, built by ``build(staging)`` when absent or damaged.

    ``build`` writes the model files into the staging folder and returns what to record about their
    source (package, version, sha256...). The manifest is written last; the folder appears whole or not
    at all. ``what`` names the work for the message printed before building. ``verify`` checks every
    file's content too (:func:`content_problem`); ``load_model`` passes False and checks it beside the load.
    """
    target = models_dir() / name
    remove_stale_staging(target.parent)  # leftovers of killed builds, of any model (only while no build runs)

    def problem_now() -> str | None:
        return cache_problem(target) or (content_problem(target) if verify else None)

    problem = problem_now()
    if problem is None:
        return target
    check_writable_dir(target.parent, "model cache folder (FK_BENCH_CACHE sets another)")
    target.parent.mkdir(parents=True, exist_ok=True)
    with folder_lock(target.parent):
        problem = problem_now()  # another process may have built it while we waited
        if problem is None:
            return target
        if problem == "not built yet":
            print(f"fk-bench: {what} into {target} (once)", file=sys.stderr)
        else:
            print(f"fk-bench: the cached model {target} is {problem}; rebuilding it ({what})", file=sys.stderr)
        try:
            _build_into(target, build)
        except OSError as err:  # a full disk, most likely: the staging folder is already gone
            raise FkBenchError(f"building the cached model {name} in {target.parent}: {err.strerror or err}") from None
    return target


def _build_into(target: Path, build: Callable[[Path], dict[str, Any]]) -> None:
    """Run ``build`` in a staging folder, write the manifest last, check the result, rename it over ``target``."""
    with atomic_dir(target) as staging:
        source = build(staging)
        problems = model_dir_problems(staging)
        if problems:
            raise FkBenchError(f"building the cached model {target.name}: {'; '.join(problems)}")
        files = {item.name: {"bytes": item.stat().st_size, CONTENT_HASH: file_hash(item)} for item in sorted(staging.iterdir()) if item.is_file()}
        manifest = {"format": CACHE_FORMAT, "name": target.name, "source": source, "files": files}
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        for item in staging.iterdir():
            os.chmod(item, 0o666 & ~_umask())


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def directory_size(path: Path) -> int:
    return sum(item.stat().st_size for item in path.rglob("*") if item.is_file())
