"""Shared setup for the interp tests: a tiny Gemma 3 whose RMSNorm gains are not all one.

The tiny model initialises every RMSNorm weight to zero (gain 1), which would hide a
missing norm gain in the DLA directions or the per-head decomposition; these helpers perturb them.
"""

from __future__ import annotations

import functools
from pathlib import Path

import torch

from support import build_tiny_model
from fk_bench.answers import DEFAULT_GROUPS
from fk_bench.models import LoadedModel
from interp.attribution import AnswerTokens, single_token_answers

CLEAN = "Is Paris the capital of France?\n"
CORRUPTED = "Is Paris the capital of Italy?\n"


def perturbed_tiny_model(path: Path, seed: int = 1, sliding_window: int | None = None) -> LoadedModel:
    """The tiny Gemma 3 with random RMSNorm gains (and optionally a short sliding window)."""
    loaded = build_tiny_model(path, seed=seed)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in loaded.model.named_parameters():
            if "norm" in name:
                param.add_(0.5 * torch.randn(param.shape, generator=generator))
    if sliding_window is not None:
        loaded.model.config.sliding_window = sliding_window
        for layer in loaded.model.model.layers:
            if layer.self_attn.sliding_window is not None:
                layer.self_attn.sliding_window = sliding_window
    return loaded


def tiny_answers(loaded: LoadedModel) -> AnswerTokens:
    return single_token_answers(loaded.tokenizer, [CLEAN, CORRUPTED], DEFAULT_GROUPS)


@functools.lru_cache(maxsize=1)
def private_embedded_model() -> LoadedModel:
    """An embedded model of the interp tests' own: booting a bridge folds and centers the unembedding and
    wraps the modules in place, which other tests sharing the session's ``embedded_model`` should not see."""
    from fk_bench.models import load_model

    return load_model("embedded", device="cpu")
