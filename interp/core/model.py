"""The one model object of the interp toolkit: the TransformerLens 4 bridge over a loaded model.

DLA, logit lens, attention patterns, exact and attribution patching all run through the bridge's
hooks (``blocks.L.hook_resid_pre``, ``hook_attn_out``, ``hook_mlp_out``, ``attn.hook_z``, ...), the
same names on every architecture the bridge supports, so there is no per-family forward to keep.

Booting wraps ``loaded.model``'s modules in place (the bridge's hook points around the Hugging Face
modules) and leaves its weights as they are: compatibility mode without weight processing, which
gives the legacy hook names and keeps the model's own numbers (raw logits included, tested against
the evaluator). Weight processing (folding norms, centring) is not needed: DLA reads the final
norm's gain off the module itself (:mod:`interp.attribution.dla`); and it would copy the weights several times
over (6.7 GB peak for the 270M model, 40 GB projected for a 1.5B one). After booting, use the
:class:`InterpModel`, not ``loaded.model``, so that one model object serves DLA and patching.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from fk_bench.models import LoadedModel
from fk_bench.prompts import encode

SITES: tuple[str, ...] = ("resid_pre", "attn_out", "mlp_out", "head_out")
"""The patching sites: layer x position for the first three, layer x head (all positions) for head_out."""

_SITE_HOOKS = {
    "resid_pre": "blocks.{}.hook_resid_pre",
    "attn_out": "blocks.{}.hook_attn_out",
    "mlp_out": "blocks.{}.hook_mlp_out",
    "head_out": "blocks.{}.attn.hook_z",
}


def site_hook(site: str, layer: int) -> str:
    """The bridge hook of a patching site (the names ``transformer_lens.patching`` patches)."""
    return _SITE_HOOKS[site].format(layer)


def _cache_kwarg_shim(module: Any, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
    """Hand the attention bridge the KV cache under the name it reads.

    transformers 5.2x passes a layer's cache as ``cache=``; TransformerLens 4.3's attention bridge
    reads ``past_key_values`` (or ``layer_past``) and, finding neither, attends to the new tokens
    alone. tests/unit/test_interp_patching.py checks that a prefix-cached run equals the full run.
    """
    if kwargs.get("past_key_values") is None and kwargs.get("cache") is not None:
        kwargs["past_key_values"] = kwargs["cache"]
    return args, kwargs


@dataclass
class InterpModel:
    """The bridge over the model, its tokenizer, and whether exact patching's layer sweeps work on it."""

    bridge: Any
    tokenizer: Any
    name: str
    device: str
    dtype: torch.dtype
    replay_ok: bool | None = None
    """Whether exact patching's layer sweeps reproduce the model's forward (None: not tried yet)."""
    replay_note: str = ""

    @classmethod
    def boot(cls, loaded: LoadedModel) -> InterpModel:
        """Boot the bridge over ``loaded`` (once: it takes ``loaded.model`` over, see the module docstring)."""
        from transformer_lens.model_bridge import TransformerBridge

        bridge = TransformerBridge.boot_transformers(
            str(loaded.path), hf_model=loaded.model, tokenizer=loaded.tokenizer, device=loaded.device, dtype=loaded.dtype
        )
        bridge.enable_compatibility_mode(disable_warnings=True, no_processing=True)
        bridge.eval()
        for block in bridge.blocks:
            block.attn.register_forward_pre_hook(_cache_kwarg_shim, with_kwargs=True)
        return cls(bridge, loaded.tokenizer, loaded.name, loaded.device, loaded.dtype)

    @property
    def n_layers(self) -> int:
        return int(self.bridge.cfg.n_layers)

    @property
    def n_heads(self) -> int:
        return int(self.bridge.cfg.n_heads)

    @property
    def architecture(self) -> str:
        return str(getattr(self.bridge.cfg, "architecture", None) or type(self.bridge.original_model).__name__)

    @property
    def parallel_blocks(self) -> bool:
        """Attention and MLP read the same residual (GPT-NeoX, GPT-J): there is no resid_mid."""
        return bool(getattr(self.bridge.cfg, "parallel_attn_mlp", False))

    def tokens(self, prompt: str) -> list[int]:
        """Token ids exactly as the evaluator encodes the prompt (BOS as lm-eval's HFLM adds it)."""
        return encode(self.tokenizer, prompt)

    def str_tokens(self, ids: Sequence[int]) -> list[str]:
        return [str(t) for t in self.tokenizer.convert_ids_to_tokens(list(ids))]

    def tensor(self, ids: Sequence[Sequence[int]] | Sequence[int]) -> torch.Tensor:
        return torch.tensor(ids, dtype=torch.long, device=self.device)
