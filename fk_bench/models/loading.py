"""Loading a model by zoo name, local Hugging Face directory or Hub id, with every bad input caught up front.

The device and dtype are checked before any work by :mod:`fk_bench.torch_settings` (a missing CUDA, an
unknown device, float16 on the CPU, which gives all-NaN scores there). A zoo model is dequantized once into the cache (see
:mod:`fk_bench.models.cache`); a local directory is checked cheaply (safetensors headers, config.json,
tokenizer files) so a damaged one fails naming the file, not deep inside transformers.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fk_bench.errors import FkBenchError
from fk_bench.files import atomic_dir, check_writable_dir
from fk_bench.hub import require_hub
from fk_bench.models.cache import MANIFEST, cache_problem, cached_model, content_problem, model_dir_problems, models_dir, read_manifest
from fk_bench.models.gguf import SPECIAL_TOKENS
from fk_bench.models.zoo_catalog import EMBEDDED, ZooModel, part_paths, require_zoo_model, zoo_model

# Device and dtype live in fk_bench.torch_settings; re-exported for the callers that import them from here.
from fk_bench.torch_settings import default_device as default_device
from fk_bench.torch_settings import default_dtype as default_dtype
from fk_bench.torch_settings import dtype_name as dtype_name
from fk_bench.torch_settings import parse_dtype as parse_dtype
from fk_bench.torch_settings import resolve
from fk_bench.torch_settings import resolve_device as resolve_device
from fk_bench.torch_settings import resolve_dtype as resolve_dtype

if TYPE_CHECKING:
    import torch

    from fk_bench.spec import RunSpec

CACHE_DTYPE = "float32"
"""The dtype of the weights in the cache: the dequantized values exactly, so any compute dtype rounds
them once (BENCHMARKS.md, "Model cache: float32 vs bfloat16 on disk")."""

GENERIC_TOKENIZER_FAMILIES = ("Gemma 3",)
"""Zoo families whose cached tokenizer is saved as (and read back as) the generic fast class, for speed."""


# ---- zoo models in the cache ----------------------------------------------------------------------


def _package_versions(entry: ZooModel) -> list[str]:
    assert entry.gguf is not None
    return list(dict.fromkeys(f"{part.distribution}=={metadata.version(part.distribution)}" for part in entry.gguf.parts))


def _build_from_gguf(entry: ZooModel, staging: Path) -> dict[str, Any]:
    import torch

    from fk_bench.models.gguf import dequantize_gguf, verified_gguf

    assert entry.gguf is not None
    parts = part_paths(entry)
    scratch = staging / "assembled.gguf.tmp"
    gguf_path = verified_gguf(entry.name, parts, entry.gguf.size, entry.gguf.sha256, entry.gguf.pip_command, scratch)
    try:
        dequantize_gguf(
            gguf_path, staging, entry.display_name, getattr(torch, CACHE_DTYPE), generic_tokenizer=entry.family in GENERIC_TOKENIZER_FAMILIES
        )
    finally:
        scratch.unlink(missing_ok=True)
    return {"packages": _package_versions(entry), "gguf_bytes": entry.gguf.size, "gguf_sha256": entry.gguf.sha256, "stored_dtype": CACHE_DTYPE}


def _build_random(entry: ZooModel, staging: Path) -> dict[str, Any]:
    import torch
    import transformers

    from fk_bench.models.gguf import write_random_model

    base = require_zoo_model(entry.random_weights_of or "")
    write_random_model(zoo_model_dir(base), staging, entry.random_seed, entry.display_name, getattr(torch, CACHE_DTYPE))
    return {
        "random_weights_of": base.name,
        "random_seed": entry.random_seed,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "stored_dtype": CACHE_DTYPE,
    }


def zoo_model_dir(entry: ZooModel, verify: bool = True) -> Path:
    """The cached Hugging Face directory of a zoo model, built on first use (and rebuilt when damaged).

    A sound cache is used even when the packages it was built from are gone (they only feed the build).
    ``verify`` checks every file's content hash (:func:`~fk_bench.models.cache.content_problem`, a read of
    the files: 0.8 s for the embedded model, BENCHMARKS.md); ``load_model`` passes False and runs it beside the loading.
    """
    if entry.gguf is not None:
        if cache_problem(models_dir() / entry.display_name) is not None:
            part_paths(entry)  # not installed: the pip command, before any lock or message
        return cached_model(entry.display_name, lambda staging: _build_from_gguf(entry, staging), f"dequantizing {entry.name}", verify)
    return cached_model(entry.display_name, lambda staging: _build_random(entry, staging), f"drawing the random weights of {entry.name}", verify)


def embedded_model_dir() -> Path:
    """The cached Hugging Face directory of the embedded model (Gemma 3 270M)."""
    return zoo_model_dir(require_zoo_model(EMBEDDED))


# ---- any model spec ------------------------------------------------------------------------------


def resolve_model_dir(spec: str) -> Path:
    """A local directory holding the model ``spec``: a zoo name, a local directory, or a Hub id."""
    entry = zoo_model(spec)
    if entry is not None:
        return zoo_model_dir(entry)
    path = Path(spec).expanduser()
    if path.is_dir():
        if not (path / "config.json").exists():
            raise FkBenchError(f"{path}: not a Hugging Face model directory (no config.json)")
        return path
    if path.exists() or spec.startswith((".", "/", "~")) or spec.count("/") > 1:
        raise FkBenchError(f"model {spec!r}: no such model directory, and not a zoo name (see 'fk-bench models')")
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError, RepositoryNotFoundError

    try:
        return Path(snapshot_download(spec, local_files_only=True))
    except (LocalEntryNotFoundError, FileNotFoundError, ValueError):
        pass
    require_hub(f"model {spec!r}", "a zoo name ('fk-bench models' lists them) nor a local path", "a zoo name or a local model directory")
    try:
        return Path(snapshot_download(spec, allow_patterns=["*.json", "*.safetensors", "*.model", "*.txt"]))
    except RepositoryNotFoundError:
        raise FkBenchError(f"model {spec!r}: not found on the Hugging Face Hub (or gated)") from None
    except HfHubHTTPError as err:
        raise FkBenchError(f"model {spec!r}: download failed ({err})") from None


def model_display_name(spec: str) -> str:
    """A short, path-safe name for results folders and leaderboards, distinct for distinct models.

    Zoo models keep their names (the embedded one ``gemma-3-270m-q4_k_m``, as results before the zoo);
    a local directory is its folder name plus 8 hex digits of its resolved path (``a/model`` and
    ``b/model`` differ; ``.`` is named after the folder); a Hub id is ``org__name``.
    """
    entry = zoo_model(spec)
    if entry is not None:
        return entry.display_name
    path = Path(spec).expanduser()
    if path.is_dir():
        resolved = path.resolve()
        return f"{resolved.name or 'root'}-{hashlib.sha256(str(resolved).encode()).hexdigest()[:8]}"
    return spec.replace("/", "__")


def _source(spec: str, entry: ZooModel | None, path: Path) -> dict[str, Any]:
    """Where the weights came from, as results.json records it."""
    if entry is not None:
        manifest = read_manifest(path) or {}
        return {"zoo": entry.name, **manifest.get("source", {})}
    if "snapshots" in path.parts:  # a Hub snapshot: the folder name is the commit
        return {"hub_id": spec, "revision": path.name}
    return {"local_dir": str(path.resolve())}


@dataclass
class LoadedModel:
    """A Hugging Face causal LM with its tokenizer, and where it came from."""

    spec: str
    name: str
    path: Path
    model: Any
    tokenizer: Any
    device: str
    dtype: torch.dtype
    """The compute dtype (the cache may store another one)."""
    source: dict[str, Any] = field(default_factory=dict)
    """Zoo name, source packages and versions, GGUF sha256 (zoo models); Hub revision; local path."""

    def describe(self) -> dict[str, Any]:
        """What results.json records about the model."""
        return {
            "spec": self.spec,
            "name": self.name,
            "path": str(self.path),
            "device": self.device,
            "dtype": dtype_name(self.dtype),
            "source": self.source,
        }


def _load_generic_tokenizer(path: Path) -> Any:
    """A tokenizer saved as the generic fast class (the Gemma zoo models), read straight from
    tokenizer.json: AutoTokenizer parses Gemma's 33 MB file twice, once in Python (4 s instead of 1.5 s)."""
    from transformers import PreTrainedTokenizerFast

    config = json.loads((path / "tokenizer_config.json").read_text())
    special = {name: config[name] for name in SPECIAL_TOKENS if name in config}
    tokenizer = PreTrainedTokenizerFast(tokenizer_file=str(path / "tokenizer.json"), **special)  # type: ignore[no-untyped-call]  # transformers leaves it untyped
    tokenizer.init_kwargs["name_or_path"] = str(path)  # as from_pretrained records it (TransformerLens reads it)
    return tokenizer


def _load_tokenizer(path: Path, generic: bool) -> Any:
    from transformers import AutoTokenizer

    try:
        return _load_generic_tokenizer(path) if generic else AutoTokenizer.from_pretrained(path)
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise FkBenchError(f"model at {path}: its tokenizer could not be loaded ({err})") from None


def _load_files(spec: str, path: Path, torch_dtype: torch.dtype, generic: bool, pool: ThreadPoolExecutor) -> tuple[Any, Any]:
    """The model and its tokenizer from ``path``; the tokenizer (a 33 MB JSON for Gemma) loads in a thread beside the weights."""
    from transformers import AutoModelForCausalLM

    tokenizer_future = pool.submit(_load_tokenizer, path, generic)
    try:
        model = AutoModelForCausalLM.from_pretrained(path, dtype=torch_dtype)
    except (OSError, ValueError, KeyError, RuntimeError) as err:
        raise FkBenchError(f"model {spec!r} at {path}: could not be loaded ({err})") from None
    finally:
        tokenizer_future.exception()  # wait for it either way: never two loads of one folder at once
    return model, tokenizer_future.result()


def load_run_model(spec: RunSpec) -> LoadedModel:
    """The model of a run spec, on its device in its dtype (:func:`fk_bench.torch_settings.resolve`, once)."""
    device, dtype = resolve(spec)
    return load_model(spec.model, device, dtype)


def load_model(spec: str = EMBEDDED, device: str | torch.device | None = None, dtype: str | torch.dtype | None = None) -> LoadedModel:
    """Load ``spec`` (a zoo name, a local HF directory or a Hub id) with transformers, in eval mode.

    ``dtype`` is the compute dtype (None: :func:`default_dtype`); device and dtype are checked before any work.
    A zoo model's cached files are checked against the hashes recorded when they were built, in a thread
    beside the loading: files changed since (a zeroed tensor, a corrupt tokenizer of the same size) are
    rebuilt and loaded again, never used, whatever error loading them raised.
    """
    device = resolve_device(device)
    torch_dtype = resolve_dtype(dtype, device)
    entry = zoo_model(spec)
    path = zoo_model_dir(entry, verify=False) if entry is not None else resolve_model_dir(spec)
    if entry is None:
        problems = model_dir_problems(path)
        if problems:
            raise FkBenchError(f"model directory {path}: {'; '.join(problems)}")

    generic = entry is not None and entry.family in GENERIC_TOKENIZER_FAMILIES
    with ThreadPoolExecutor(max_workers=2) as pool:
        if entry is None:
            model, tokenizer = _load_files(spec, path, torch_dtype, generic, pool)
        else:
            content = pool.submit(content_problem, path)
            try:
                model, tokenizer = _load_files(spec, path, torch_dtype, generic, pool)
            except Exception:
                if content.result() is None:
                    raise  # the files are as built: the error is not the cache's
            if content.result() is not None:  # the files changed since they were built: rebuild (it says so), load again
                model = tokenizer = None
                path = zoo_model_dir(entry)
                model, tokenizer = _load_files(spec, path, torch_dtype, generic, pool)
    model.to(device).eval()
    return LoadedModel(spec, model_display_name(spec), path, model, tokenizer, device, torch_dtype, _source(spec, entry, path))


def export_model(spec: str, out_dir: str | Path) -> Path:
    """Write ``spec`` as a plain Hugging Face directory (for ``lm_eval --model hf --model_args pretrained=DIR``)."""
    out_dir = Path(out_dir)
    check_writable_dir(out_dir, "export folder")
    check_writable_dir(out_dir.parent, "export folder's parent")
    if out_dir.exists() and any(out_dir.iterdir()):
        raise FkBenchError(f"export folder {out_dir}: exists and is not empty")
    source = resolve_model_dir(spec)
    if zoo_model(spec) is None:
        problems = model_dir_problems(source)
        if problems:
            raise FkBenchError(f"model directory {source}: {'; '.join(problems)}")
    with atomic_dir(out_dir) as staging:
        for item in source.iterdir():
            if item.is_file() and item.name != MANIFEST:
                shutil.copy2(item, staging / item.name)
    return out_dir
