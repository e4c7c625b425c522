"""Forward passes through the bridge's hooks: recorded runs, gradient runs and batched patched runs.

Every run here is the bridge's own forward (any architecture it supports); what makes the patched
runs fast is what they leave out, never a different forward:

- one batch row per patched cell (:class:`Cell`), so a whole grid is one or a few forward passes
  instead of one pass per cell as in ``transformer_lens.patching``;
- the shared prefix: positions before the first token where the clean and corrupted prompts differ
  hold identical activations in both runs (the model is causal), so patching them changes nothing.
  Their keys and values are computed once (:func:`prefix_cache`) and every row runs only the
  positions from the first difference on;
- only the last position is unembedded, and only on the answer words: the forward stops at the
  final norm (the bridge's own stop-at-layer exception, raised from a hook) and the answer columns
  of the unembedding are applied to that position alone.

:func:`sweep` goes further, with no per-architecture code: a row patched at layer L is the
corrupted run up to there, so it joins the batch only at layer L, with the corrupted residual.
The bridge's blocks are called one by one with the arguments the model's own forward gave them
(recorded by :func:`record_layer_calls`: masks, rotary tables, cache positions, whatever the
architecture passes). Every sweep carries an unpatched row that :mod:`interp.patching` checks
against the model's own forward; a model where that fails (an architecture that does work between
its blocks) falls back to :func:`run_patched`, the plain batched forward.
"""

from __future__ import annotations

import copy
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from transformer_lens.model_bridge.exceptions import StopAtLayerException

from interp.model import SITES, InterpModel, site_hook

AnswerMetric = Callable[[torch.Tensor], torch.Tensor]
"""Answer-word logits ``[rows, n_words]`` -> one differentiable number per row ``[rows]``."""

DEFAULT_MAX_ROWS = 96
"""Patched runs per forward pass of :func:`run_patched`: bounds memory (each row holds the prefix's keys and values)."""
SWEEP_ROWS = 1024
"""Patched runs per :func:`sweep` (the last layers hold them all): about 1,000 on a 1.5B model with a chat prompt."""


@dataclass(frozen=True)
class Cell:
    """One patched run: the clean activation of ``site`` at ``layer``, at position ``index`` (or, for
    head_out, head ``index`` at every position), written into the corrupted run."""

    site: str
    layer: int
    index: int


def _site_names(n_layers: int, sites: Sequence[str]) -> list[str]:
    return [site_hook(site, layer) for site in sites for layer in range(n_layers)]


# --------------------------------------------------------------------------------------------------
# Recorded runs


def _stop_at_unembedding(x: torch.Tensor, hook: Any) -> None:
    """End the forward after the final norm, handing back the last position's normalized residual."""
    raise StopAtLayerException(x[:, -1])


def _answer_logits(model: InterpModel, normalized: torch.Tensor, answer_ids: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Answer logits from the final norm's output at the last position: (after any final soft-cap, before it).
    ``answer_ids`` None: every word of the vocabulary."""
    W_U = model.bridge.W_U  # [d_model, d_vocab], a view of the unembedding: index its columns, never copy it whole
    b_U = getattr(model.bridge, "b_U", None)
    if answer_ids is None:
        logits = normalized @ W_U
    else:
        logits = normalized @ W_U[:, answer_ids]
    if b_U is not None:
        logits = logits + (b_U if answer_ids is None else b_U[answer_ids])
    cap = getattr(model.bridge.cfg, "output_logits_soft_cap", None)
    return (cap * torch.tanh(logits / cap) if cap is not None and cap > 0 else logits), logits


def _after(prefix: Any) -> dict:
    """Forward keyword arguments that continue after ``prefix`` (a :func:`prefix_cache`; a copy, so it stays reusable)."""
    return {} if prefix is None else {"cache": copy.deepcopy(prefix), "use_cache": True}


@torch.no_grad()
def record(
    model: InterpModel, tokens: torch.Tensor, names: Callable[[str], bool], answer_ids: torch.Tensor, prefix: Any = None
) -> tuple[torch.Tensor, Any, torch.Tensor]:
    """One forward of ``tokens`` ``[rows, pos]`` (after ``prefix``, when given) caching the hooks that ``names`` accepts.

    Returns the answer-word logits at the last position ``[rows, n_words]``, the ActivationCache and
    the same answer logits before any final soft-cap (what the unembedding itself gives, which direct
    logit attribution decomposes). The forward stops after the final norm: only the answer words are unembedded.
    """
    with model.bridge.hooks(fwd_hooks=[("unembed.hook_in", _stop_at_unembedding)]):
        normalized, cache = model.bridge.run_with_cache(tokens, names_filter=names, logits_to_keep=1, **_after(prefix))
    capped, unembedded = _answer_logits(model, normalized, answer_ids)
    return capped, cache, unembedded


def site_activations(cache: Any, n_layers: int, site: str) -> torch.Tensor:
    """A site at every layer from a cache: ``[rows, layer, pos, d_model]`` (``[rows, layer, pos, head, d_head]`` for head_out)."""
    return torch.stack([cache[site_hook(site, layer)] for layer in range(n_layers)], dim=1)


def gradient_run(
    model: InterpModel, tokens: torch.Tensor, answer_ids: torch.Tensor, metric: AnswerMetric, sites: Sequence[str] = SITES, prefix: Any = None
) -> tuple[torch.Tensor, dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """Forward ``tokens`` ``[rows, pos]`` (after ``prefix``, whose keys and values are constants here) and
    backward ``metric`` summed over rows (rows are independent).

    Returns the answer logits ``[rows, n_words]`` and, per site, the activations and the gradient
    of each row's metric with respect to them, both shaped as :func:`site_activations`.
    """
    recorded: dict[str, torch.Tensor] = {}
    first = site_hook("resid_pre", 0)

    def keeper(name: str) -> Callable:  # keyed by our name: the hook may report its alias's canonical name
        def keep(x: torch.Tensor, hook: Any) -> torch.Tensor:
            if name == first:
                # A leaf here makes every later site depend on it, whether or not the weights require grad.
                x = x.detach().requires_grad_(True)
            recorded[name] = x
            return x

        return keep

    names = _site_names(model.n_layers, sites)
    if first not in names:
        names.append(first)
    with torch.enable_grad():
        normalized = model.bridge.run_with_hooks(
            tokens,
            fwd_hooks=[*((name, keeper(name)) for name in names), ("unembed.hook_in", _stop_at_unembedding)],
            logits_to_keep=1,
            **_after(prefix),
        )
        answer_logits, _ = _answer_logits(model, normalized, answer_ids)
        wanted = [recorded[name] for name in _site_names(model.n_layers, sites)]
        grads = torch.autograd.grad(metric(answer_logits).sum(), wanted)
    activations, gradients = {}, {}
    for s, site in enumerate(sites):
        chunk = slice(s * model.n_layers, (s + 1) * model.n_layers)
        activations[site] = torch.stack([a.detach() for a in wanted[chunk]], dim=1)
        gradients[site] = torch.stack(list(grads[chunk]), dim=1)
    return answer_logits.detach(), activations, gradients


# --------------------------------------------------------------------------------------------------
# Patched runs


def _stop_at_final_norm(x: torch.Tensor, hook: Any) -> None:
    """End the forward at the final norm's input, handing back the last position's residual."""
    raise StopAtLayerException(x[:, -1])


def answer_logits_from_final(model: InterpModel, final_resid: torch.Tensor, answer_ids: torch.Tensor | None) -> torch.Tensor:
    """The model's logits of the answer words only, from the last position's final residual ``[rows, d_model]``:
    final norm, the answer columns of the unembedding (+ bias), and the final soft-cap where the model has one."""
    return _answer_logits(model, model.bridge.ln_final(final_resid[:, None])[:, 0], answer_ids)[0]


@torch.no_grad()
def prefix_cache(model: InterpModel, tokens: torch.Tensor, length: int) -> Any:
    """The keys and values of the first ``length`` tokens of ``tokens`` (``[pos]``, or ``[rows, pos]`` for a
    batch) as a Hugging Face cache (empty for length 0)."""
    from transformers import DynamicCache

    cache = DynamicCache(config=model.bridge.original_model.config)
    if length > 0:
        rows = tokens if tokens.dim() == 2 else tokens[None]
        model.bridge.run_with_hooks(rows[:, :length], fwd_hooks=[("ln_final.hook_in", _stop_at_final_norm)], cache=cache, use_cache=True)
    return cache


def cache_row(cache: Any, row: int) -> Any:
    """One row of a batched cache, as a cache of its own."""
    one = copy.deepcopy(cache)
    one.batch_select_indices(torch.tensor([row]))
    return one


def _patch_hooks(cells: Sequence[Cell | None], clean: dict[str, torch.Tensor], start: int) -> list[tuple[str, Callable]]:
    """One hook per (site, layer) that writes each row's clean activation into its own cell (``clean``: positions ``start..``)."""
    groups: dict[tuple[str, int], list[tuple[int, int]]] = defaultdict(list)
    for row, cell in enumerate(cells):
        if cell is not None:
            groups[cell.site, cell.layer].append((row, cell.index))
    hooks = []
    for (site, layer), members in groups.items():
        rows = torch.tensor([row for row, _ in members])
        index = torch.tensor([i for _, i in members])
        source = clean[site][layer]  # [pos - start, ...]

        def hook(
            x: torch.Tensor, hook: Any, site: str = site, rows: torch.Tensor = rows, index: torch.Tensor = index, source: torch.Tensor = source
        ) -> torch.Tensor:
            rows_, index_ = rows.to(x.device), index.to(x.device)
            if site == "head_out":  # x: [rows, pos, head, d_head]; the head at every position
                x[rows_, :, index_] = source[:, index_].transpose(0, 1).to(x.dtype)
            else:  # x: [rows, pos, d_model]; positions counted from ``start``
                x[rows_, index_ - start] = source[index_ - start].to(x.dtype)
            return x

        hooks.append((site_hook(site, layer), hook))
    return hooks


@torch.no_grad()
def run_patched(
    model: InterpModel,
    corrupted: torch.Tensor,
    clean: dict[str, torch.Tensor],
    cells: Sequence[Cell | None],
    answer_ids: torch.Tensor | None,
    start: int = 0,
    prefix: Any = None,
    max_rows: int = DEFAULT_MAX_ROWS,
) -> torch.Tensor:
    """Answer logits ``[rows, n_words]`` of the corrupted run ``corrupted`` (``[pos]``) with one cell patched per row.

    ``clean`` holds the clean run's activations per site at positions ``start..``, ``[layer, pos - start, ...]``; a ``None`` cell is
    the unpatched corrupted run. ``start`` is the shared prefix length and ``prefix`` its cache
    (:func:`prefix_cache` of the corrupted tokens): rows then run only positions ``start..``, and
    positional cells must lie there (earlier ones are identical in both runs, so patching is a no-op).
    ``answer_ids`` None keeps the whole vocabulary.
    """
    for cell in cells:
        if cell is not None and cell.site != "head_out" and cell.index < start:
            raise ValueError(f"cell {cell} lies in the shared prefix (positions < {start}): its effect is exactly zero")
    suffix = corrupted[start:]
    out = []
    for first in range(0, len(cells), max_rows):
        chunk = cells[first : first + max_rows]
        kwargs: dict[str, Any] = {"logits_to_keep": 1}
        if prefix is not None and start > 0:
            kv = copy.deepcopy(prefix)
            kv.batch_repeat_interleave(len(chunk))
            kwargs.update(cache=kv, use_cache=True)  # transformers' name; interp.model hands it on to the attention bridge
        hooks = _patch_hooks(chunk, clean, start)
        if answer_ids is None:
            logits = model.bridge.run_with_hooks(suffix[None].expand(len(chunk), -1), fwd_hooks=hooks, **kwargs)[:, -1]
        else:
            final = model.bridge.run_with_hooks(
                suffix[None].expand(len(chunk), -1), fwd_hooks=[*hooks, ("ln_final.hook_in", _stop_at_final_norm)], **kwargs
            )
            logits = answer_logits_from_final(model, final, answer_ids)
        out.append(logits.float())
    return torch.cat(out)


# --------------------------------------------------------------------------------------------------
# Layer sweeps: rows join at their patched layer


@dataclass
class LayerCalls:
    """The positional and keyword arguments the model's forward passed to each block, and the cache object among them."""

    calls: list[tuple[tuple, dict]]
    cache: Any
    final: torch.Tensor  # the model's own final residual at the last position [1, d_model]

    def resid_pre(self) -> torch.Tensor:
        """What each block received: the run's resid_pre ``[layer, pos, d_model]``."""
        return torch.stack([(args[0] if args else kwargs["hidden_states"])[0] for args, kwargs in self.calls])


@torch.no_grad()
def record_layer_calls(model: InterpModel, suffix: torch.Tensor, cache: Any) -> LayerCalls:
    """Run ``suffix`` (``[pos]``, batch of one) after ``cache`` and record every block's call arguments."""
    calls: list[tuple[tuple, dict] | None] = [None] * model.n_layers
    handles = []
    for layer, block in enumerate(model.bridge.blocks):

        def keep(module: Any, args: tuple, kwargs: dict, layer: int = layer) -> None:
            if args:
                calls[layer] = ((args[0].clone(), *args[1:]), dict(kwargs))
            else:
                calls[layer] = ((), {**kwargs, "hidden_states": kwargs["hidden_states"].clone()})

        handles.append(block.register_forward_pre_hook(keep, with_kwargs=True))
    try:
        final = model.bridge.run_with_hooks(suffix[None], fwd_hooks=[("ln_final.hook_in", _stop_at_final_norm)], cache=cache, use_cache=True)
    finally:
        for handle in handles:
            handle.remove()
    if any(call is None for call in calls):
        raise RuntimeError("a block was not called in order")
    return LayerCalls(calls, cache, final)  # type: ignore[arg-type]


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
    clean: dict[str, torch.Tensor],
    cells: Sequence[Cell | None],
    start: int,
    answer_ids: torch.Tensor | None,
) -> torch.Tensor:
    """Answer logits ``[rows, n_words]`` (every word for ``answer_ids`` None) of patched corrupted runs,
    one cell per row, each row joining the batch at its cell's layer.

    ``corrupted_resid`` is the corrupted run's resid_pre ``[layer, pos, d_model]`` at positions
    ``start..``; ``prefix`` the corrupted keys and values of positions < ``start`` (:func:`prefix_cache`,
    batch of one, not modified); ``calls`` the block arguments for this suffix (:func:`record_layer_calls`).
    Positional cells lie at positions ``start..``; head cells patch every position from ``start``. A
    ``None`` cell is the unpatched corrupted run.
    """
    for cell in cells:
        if cell is not None and cell.site != "head_out" and cell.index < start:
            raise ValueError(f"cell {cell} lies in the shared prefix (positions < {start}): its effect is exactly zero")
    joining: dict[int, list[int]] = defaultdict(list)  # layer -> rows joining there
    for row, cell in enumerate(cells):
        joining[0 if cell is None else cell.layer].append(row)
    cache = copy.deepcopy(prefix)
    order: list[int] = []  # batch row -> cell row
    hidden = corrupted_resid.new_zeros((0, *corrupted_resid.shape[1:]))
    for layer in range(model.n_layers):
        if joining[layer]:
            hidden = torch.cat([hidden, corrupted_resid[layer].expand(len(joining[layer]), -1, -1)])
            order += joining[layer]
        if not order:
            continue
        if cache.layers[layer].is_initialized:
            cache.layers[layer].batch_repeat_interleave(len(order))
        local = [cells[row] if cells[row] is not None and cells[row].layer == layer else None for row in order]
        with model.bridge.hooks(fwd_hooks=_patch_hooks(local, clean, start)):
            hidden = _call_block(model, layer, calls, hidden, cache)
    logits = answer_logits_from_final(model, hidden[:, -1], answer_ids).float()
    out = torch.empty_like(logits)
    out[torch.tensor(order, device=logits.device)] = logits
    return out


def grid_cells(site: str, n_layers: int, n_heads: int, positions: Sequence[int]) -> list[Cell]:
    """Every cell of one grid, layer-major: ``positions`` for resid_pre/attn_out/mlp_out, every head for head_out."""
    indices = range(n_heads) if site == "head_out" else positions
    return [Cell(site, layer, index) for layer in range(n_layers) for index in indices]
