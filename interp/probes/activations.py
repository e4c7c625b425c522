"""The residual stream of every question at two positions and every layer, in one batched pass, float16 on disk.

Layer ``L < n_layers`` is ``blocks.L.hook_resid_pre`` (layer 0: the token embeddings, as the model
scales them), layer ``n_layers`` the final residual (``ln_final.hook_in``): ``n_layers + 1`` layers.
Positions: the prompt's last token (where the answer is read) and the object's last token.

Fast and bounded (the scoring pipeline's ideas, on the bridge's own forward):

- the token prefix shared by most prompts (:func:`fk_bench.scoring.shared_prefix`: "<bos>Is", a chat
  template's system prompt, few-shot examples) runs once; its keys and values serve every batch;
- prompts of one length (after the prefix) form batches without padding;
- the forward stops at the final norm (nothing is unembedded); hooks copy only the two positions;
- every value goes straight into a memory-mapped ``[layer, question, d_model]`` float16 ``.npy`` per
  position, so memory holds one batch, and the fitting reads one layer at a time (:class:`Activations`).
  Values beyond float16's range are clipped and counted (``n_clipped``).
"""

from __future__ import annotations

import copy
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformer_lens.model_bridge.exceptions import StopAtLayerException

from interp.core.model import InterpModel
from interp.core.runner import prefix_cache
from interp.probes.probe_defaults import GATHER_BATCH, POSITIONS

FLOAT16_MAX = float(np.finfo(np.float16).max)
BatchHooks = Callable[[Sequence[int]], Sequence[tuple[str, Any]]]
"""Question indices of one batch (one batch row each, in order) -> forward hooks for that batch."""


@dataclass
class Activations:
    """The gathered residual stream: one memory-mapped array ``[layer, question, d_model]`` per position."""

    folder: Path
    n_layers: int  # layers stored: the model's blocks + 1 (the final residual)
    n_clipped: int = 0

    def path(self, position: str) -> Path:
        return self.folder / f"{position}.npy"

    def layer(self, position: str, layer: int) -> np.ndarray:
        """One layer's activations as float32 ``[question, d_model]`` (read from disk, the rest stays there)."""
        return np.asarray(np.load(self.path(position), mmap_mode="r")[layer], dtype=np.float32)


def _batches(tokens: Sequence[Sequence[int]], starts: Sequence[int], size: int) -> list[list[int]]:
    """Question indices in batches of one (start, length), at most ``size`` each."""
    by_shape: dict[tuple[int, int], list[int]] = defaultdict(list)
    for i, ids in enumerate(tokens):
        by_shape[starts[i], len(ids)].append(i)
    return [members[k : k + size] for _, members in sorted(by_shape.items()) for k in range(0, len(members), size)]


@torch.no_grad()
def gather(
    model: InterpModel,
    tokens: Sequence[Sequence[int]],
    object_positions: Sequence[int] | np.ndarray,
    folder: Path,
    batch_size: int = GATHER_BATCH,
    batch_hooks: BatchHooks | None = None,
) -> Activations:
    """Run every prompt once and store the residual stream at the last and object positions (module docstring).

    ``batch_hooks(questions)`` gives extra forward hooks for a batch of those question indices (the tests
    plant a truth direction with them)."""
    from fk_bench.scoring import shared_prefix

    folder.mkdir(parents=True, exist_ok=True)
    n, d_model, n_layers = len(tokens), int(model.bridge.cfg.d_model), model.n_layers
    stores = {
        name: np.lib.format.open_memmap(folder / f"{name}.npy", mode="w+", dtype=np.float16, shape=(n_layers + 1, n, d_model)) for name in POSITIONS
    }
    prefix, starts_with = shared_prefix([list(t) for t in tokens])
    # A prompt whose object lies inside the prefix runs in full (its object position must be computed).
    starts = [len(prefix) if starts_with[i] and object_positions[i] >= len(prefix) else 0 for i in range(n)]
    cache = prefix_cache(model, torch.tensor(prefix, device=model.device), len(prefix)) if prefix and any(starts) else None
    clipped = 0
    for batch in _batches(tokens, starts, batch_size):
        start = starts[batch[0]]
        ids = model.tensor([list(tokens[i][start:]) for i in batch])
        where = torch.tensor([object_positions[i] - start for i in batch], device=model.device)
        rows = np.asarray(batch)
        taken: dict[int, torch.Tensor] = {}

        def keep(x: torch.Tensor, hook: Any, layer: int, taken: dict[int, torch.Tensor] = taken, where: torch.Tensor = where) -> torch.Tensor:
            taken[layer] = torch.stack([x[:, -1], x[torch.arange(x.shape[0], device=x.device), where]]).float().cpu()
            return x

        def stop(x: torch.Tensor, hook: Any, keep: Any = keep) -> None:
            keep(x, hook, n_layers)
            raise StopAtLayerException(x[:, -1])

        extra = batch_hooks(batch) if batch_hooks is not None else ()
        hooks = [*extra, *((f"blocks.{layer}.hook_resid_pre", lambda x, hook, layer=layer: keep(x, hook, layer)) for layer in range(n_layers))]
        kwargs: dict[str, Any] = {}
        if start and cache is not None:
            kv = copy.deepcopy(cache)
            kv.batch_repeat_interleave(len(batch))
            kwargs = {"cache": kv, "use_cache": True}
        model.bridge.run_with_hooks(ids, fwd_hooks=[*hooks, ("ln_final.hook_in", stop)], **kwargs)
        for layer, values in taken.items():
            array = values.numpy()
            clipped += int((np.abs(array) > FLOAT16_MAX).sum())
            array = np.clip(array, -FLOAT16_MAX, FLOAT16_MAX)
            for p, name in enumerate(POSITIONS):
                stores[name][layer, rows] = array[p]
    for store in stores.values():
        store.flush()
    del stores
    return Activations(folder, n_layers + 1, clipped)
