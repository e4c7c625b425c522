"""Layer sweeps: a row edited from layer L on is the corrupted run up to there, so it joins the batch only at layer L.

No per-architecture code: the bridge's blocks are called one by one with the arguments the model's
own forward gave them (recorded by :func:`record_layer_calls`: masks, rotary tables, cache positions,
whatever the architecture passes), with the corrupted residual. Whether a model's blocks replay
exactly is decided once, up front, by :func:`interp.patching.activation_patching.patch_method`; every
sweep also carries an unedited row that its caller checks against the model's own forward.
"""

from __future__ import annotations

import copy
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import torch

from interp.core.edits import Hook, RowSpec, as_row, check_rows, edit_hooks, join_layer
from interp.core.model import InterpModel, site_hook
from interp.core.runner import answer_logits_from_final, stop_at_final_norm

SWEEP_ROWS = 1024
"""Edited runs per :func:`sweep` (the last layers hold them all): about 1,000 on a 1.5B model with a chat prompt."""


class ReplayUnsupported(RuntimeError):
    """The model's forward does not call each block once, in order, with the residual: layer sweeps cannot replay it."""


@dataclass
class LayerCalls:
    """The positional and keyword arguments the model's forward passed to each block, and the cache object among them."""

    calls: list[tuple[tuple, dict]]
    cache: Any
    final: torch.Tensor  # the model's own final residual at the last position [1, d_model]
    acts: dict[str, torch.Tensor] = field(default_factory=dict)  # the sites asked for, [layer, pos, ...]

    def resid_pre(self) -> torch.Tensor:
        """What each block received: the run's resid_pre ``[layer, pos, d_model]``."""
        return torch.stack([(args[0] if args else kwargs["hidden_states"])[0] for args, kwargs in self.calls])


@torch.no_grad()
def record_layer_calls(model: InterpModel, suffix: torch.Tensor, cache: Any, fwd_hooks: Sequence[Hook] = (), sites: Sequence[str] = ()) -> LayerCalls:
    """Run ``suffix`` (``[pos]``, batch of one) after ``cache`` and record every block's call arguments
    (``fwd_hooks`` run too), and the activations of ``sites`` at every layer. Raises
    :class:`ReplayUnsupported` when a block is not called exactly once."""
    calls: list[tuple[tuple, dict] | None] = [None] * model.n_layers
    kept: dict[str, torch.Tensor] = {}

    def keep_act(x: torch.Tensor, hook: Any, name: str) -> None:
        kept[name] = x[0].detach().clone()

    site_hooks = [(site_hook(name, layer), partial(keep_act, name=site_hook(name, layer))) for name in sites for layer in range(model.n_layers)]
    handles = []
    for layer, block in enumerate(model.bridge.blocks):

        def keep(module: Any, args: tuple, kwargs: dict, layer: int = layer) -> None:
            if calls[layer] is not None:
                raise ReplayUnsupported(f"block {layer} is called more than once per forward")
            if args:
                calls[layer] = ((args[0].clone(), *args[1:]), dict(kwargs))
            elif "hidden_states" in kwargs:
                calls[layer] = ((), {**kwargs, "hidden_states": kwargs["hidden_states"].clone()})
            else:
                raise ReplayUnsupported(f"block {layer} is called without the residual as its first argument or hidden_states")

        handles.append(block.register_forward_pre_hook(keep, with_kwargs=True))
    try:
        final = model.bridge.run_with_hooks(
            suffix[None], fwd_hooks=[*fwd_hooks, *site_hooks, ("ln_final.hook_in", stop_at_final_norm)], cache=cache, use_cache=True
        )
    finally:
        for handle in handles:
            handle.remove()
    missing = [layer for layer, call in enumerate(calls) if call is None]
    if missing:
        raise ReplayUnsupported(f"blocks {missing} are not called by the forward")
    acts = {name: torch.stack([kept[site_hook(name, layer)] for layer in range(model.n_layers)]) for name in sites}
    return LayerCalls(calls, cache, final, acts)  # type: ignore[arg-type]


def _call_block(model: InterpModel, layer: int, calls: LayerCalls, hidden: torch.Tensor, cache: Any) -> torch.Tensor:
    args, kwargs = calls.calls[layer]
    swap = lambda value: cache if value is calls.cache else value
    kwargs = {key: swap(value) for key, value in kwargs.items()}
    if args:
        args = (hidden, *(swap(a) for a in args[1:]))
    else:
        kwargs["hidden_states"] = hidden
    out = model.bridge.blocks[layer](*args, **kwargs)
    return out[0] if isinstance(out, tuple) else out


@torch.no_grad()
def sweep(
    model: InterpModel,
    calls: LayerCalls,
    prefix: Any,
    corrupted_resid: torch.Tensor,
    clean: Mapping[str, torch.Tensor],
    cells: Sequence[RowSpec],
    start: int,
    answer_ids: torch.Tensor | None,
    corrupted_acts: Mapping[str, torch.Tensor] | None = None,
) -> torch.Tensor:
    """Answer logits ``[rows, n_words]`` (every word for ``answer_ids`` None) of edited corrupted runs,
    one entry of ``cells`` per row (as :func:`run_patched` takes them), each row joining the batch at
    its first edited layer.

    ``corrupted_resid`` is the corrupted run's resid_pre ``[layer, pos, d_model]`` at positions
    ``start..``; ``prefix`` the corrupted keys and values of positions < ``start`` (:func:`prefix_cache`,
    batch of one, not modified); ``calls`` the block arguments for this suffix (:func:`record_layer_calls`).
    Positional cells lie at positions ``start..``; head cells patch every position from ``start``. A
    ``None`` entry is the unedited corrupted run.
    """
    rows = [as_row(spec) for spec in cells]
    check_rows(rows, start)
    sources = {"clean": clean, "corrupted": corrupted_acts or {}}
    n_positions = start + corrupted_resid.shape[1]
    joining: dict[int, list[int]] = defaultdict(list)  # layer -> rows joining there
    for index, row in enumerate(rows):
        joining[join_layer(row)].append(index)
    # Batch row -> entry of ``rows``: rows join in layer order and keep their batch row, so one set of
    # hooks, registered once, serves every layer.
    order = [index for layer in range(model.n_layers) for index in joining[layer]]
    cache = copy.deepcopy(prefix)
    hidden = corrupted_resid.new_zeros((0, *corrupted_resid.shape[1:]))
    with model.bridge.hooks(fwd_hooks=edit_hooks([rows[i] for i in order], sources, start, n_positions)):
        for layer in range(model.n_layers):
            if joining[layer]:
                hidden = torch.cat([hidden, corrupted_resid[layer].expand(len(joining[layer]), -1, -1)])
            if hidden.shape[0] == 0:
                continue
            if cache.layers[layer].is_initialized:
                cache.layers[layer].batch_repeat_interleave(hidden.shape[0])
            hidden = _call_block(model, layer, calls, hidden, cache)
    logits = answer_logits_from_final(model, hidden[:, -1], answer_ids).float()
    out = torch.empty_like(logits)
    out[torch.tensor(order, device=logits.device)] = logits
    return out
