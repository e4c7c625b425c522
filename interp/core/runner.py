"""Forward passes through the bridge's hooks: recorded runs, gradient runs and batched edited runs.

Every run here is the bridge's own forward (any architecture it supports); what makes the edited
runs fast is what they leave out, never a different forward:

- one batch row per edited run (a :class:`Cell` written with a clean activation, a :class:`Knockout`
  of attention edges, or several of them together), so a whole grid is one or a few forward passes
  instead of one pass per cell as in ``transformer_lens.patching``;
- the shared prefix: positions before the first token where the clean and corrupted runs differ
  hold identical activations in both runs (the model is causal), so editing them changes nothing.
  Their keys and values are computed once (:func:`prefix_cache`) and every row runs only the
  positions from the first difference on;
- only the last position is unembedded, and only on the answer words: the forward stops at the
  final norm (the bridge's own stop-at-layer exception, raised from a hook) and the answer columns
  of the unembedding are applied to that position alone.

:func:`sweep` goes further, with no per-architecture code: a row edited from layer L on is the
corrupted run up to there, so it joins the batch only at layer L, with the corrupted residual.
The bridge's blocks are called one by one with the arguments the model's own forward gave them
(recorded by :func:`record_layer_calls`: masks, rotary tables, cache positions, whatever the
architecture passes). Whether a model's blocks replay exactly is decided once, up front, by
:func:`interp.patching.activation_patching.patch_method`; every sweep also carries an unedited row that its caller
checks against the model's own forward.

How each site is read and written, and what a row changes, live in :mod:`interp.core.edits`; layer
sweeps in :mod:`interp.core.sweep`.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from transformer_lens.model_bridge.exceptions import StopAtLayerException

from fk_bench.errors import FkBenchError
from interp.core.edits import Hook, RowSpec, as_row, check_rows, edit_hooks, site_names
from interp.core.model import SITES, InterpModel, site_hook

AnswerMetric = Callable[[torch.Tensor], torch.Tensor]
"""Answer-word logits ``[rows, n_words]`` -> one differentiable number per row ``[rows]``."""

DEFAULT_MAX_ROWS = 96
"""Edited runs per forward pass of :func:`run_patched`: bounds memory (each row holds the prefix's keys and values)."""


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
    model: InterpModel,
    tokens: torch.Tensor,
    names: Callable[[str], bool],
    answer_ids: torch.Tensor,
    prefix: Any = None,
    fwd_hooks: Sequence[Hook] = (),
) -> tuple[torch.Tensor, Any, torch.Tensor]:
    """One forward of ``tokens`` ``[rows, pos]`` (after ``prefix``, when given) caching the hooks that ``names`` accepts.

    Returns the answer-word logits at the last position ``[rows, n_words]``, the ActivationCache and
    the same answer logits before any final soft-cap (what the unembedding itself gives, which direct
    logit attribution decomposes). The forward stops after the final norm: only the answer words are
    unembedded. ``fwd_hooks`` run too (e.g. :meth:`interp.core.corruption.Noise.hook`).
    """
    with model.bridge.hooks(fwd_hooks=[*fwd_hooks, ("unembed.hook_in", _stop_at_unembedding)]):
        normalized, cache = model.bridge.run_with_cache(tokens, names_filter=names, logits_to_keep=1, **_after(prefix))
    capped, unembedded = _answer_logits(model, normalized, answer_ids)
    return capped, cache, unembedded


def site_activations(cache: Any, n_layers: int, site: str) -> torch.Tensor:
    """A site at every layer from a cache: ``[rows, layer, pos, d_model]`` (``[rows, layer, pos, head, d_head]`` for head_out)."""
    return torch.stack([cache[site_hook(site, layer)] for layer in range(n_layers)], dim=1)


def gradient_run(
    model: InterpModel,
    tokens: torch.Tensor,
    answer_ids: torch.Tensor,
    metric: AnswerMetric,
    sites: Sequence[str] = SITES,
    prefix: Any = None,
    fwd_hooks: Sequence[Hook] = (),
) -> tuple[torch.Tensor, dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """Forward ``tokens`` ``[rows, pos]`` (after ``prefix``, whose keys and values are constants here) and
    backward ``metric`` summed over rows (rows are independent). ``fwd_hooks`` run too (e.g. noise).

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

    names = site_names(model.n_layers, sites)
    if first not in names:
        names.append(first)
    with torch.enable_grad():
        normalized = model.bridge.run_with_hooks(
            tokens,
            fwd_hooks=[*fwd_hooks, *((name, keeper(name)) for name in names), ("unembed.hook_in", _stop_at_unembedding)],
            logits_to_keep=1,
            **_after(prefix),
        )
        answer_logits, _ = _answer_logits(model, normalized, answer_ids)
        wanted = [recorded[name] for name in site_names(model.n_layers, sites)]
        grads = torch.autograd.grad(metric(answer_logits).sum(), wanted)
    activations, gradients = {}, {}
    for s, name in enumerate(sites):
        chunk = slice(s * model.n_layers, (s + 1) * model.n_layers)
        activations[name] = torch.stack([a.detach() for a in wanted[chunk]], dim=1)
        gradients[name] = torch.stack(list(grads[chunk]), dim=1)
    return answer_logits.detach(), activations, gradients


# --------------------------------------------------------------------------------------------------
# Edited runs


def stop_at_final_norm(x: torch.Tensor, hook: Any) -> None:
    """End the forward at the final norm's input, handing back the last position's residual."""
    raise StopAtLayerException(x[:, -1])


def answer_logits_from_final(model: InterpModel, final_resid: torch.Tensor, answer_ids: torch.Tensor | None) -> torch.Tensor:
    """The model's logits of the answer words only, from the last position's final residual ``[rows, d_model]``:
    final norm, the answer columns of the unembedding (+ bias), and the final soft-cap where the model has one."""
    return _answer_logits(model, model.bridge.ln_final(final_resid[:, None])[:, 0], answer_ids)[0]


@torch.no_grad()
def prefix_cache(model: InterpModel, tokens: torch.Tensor, length: int, fwd_hooks: Sequence[Hook] = ()) -> Any:
    """The keys and values of the first ``length`` tokens of ``tokens`` (``[pos]``, or ``[rows, pos]`` for a
    batch) as a Hugging Face cache (empty for length 0). ``fwd_hooks`` run too (e.g. noise)."""
    from transformers import DynamicCache

    cache = DynamicCache(config=model.bridge.original_model.config)
    if length > 0:
        extend_cache(model, cache, tokens if tokens.dim() == 2 else tokens[None], 0, length, fwd_hooks)
    return cache


@torch.no_grad()
def extend_cache(model: InterpModel, cache: Any, tokens: torch.Tensor, begin: int, end: int, fwd_hooks: Sequence[Hook] = ()) -> None:
    """Run positions ``begin..end`` of ``tokens`` ``[rows, pos]`` into ``cache`` (which holds positions < ``begin``), in place."""
    model.bridge.run_with_hooks(tokens[:, begin:end], fwd_hooks=[*fwd_hooks, ("ln_final.hook_in", stop_at_final_norm)], cache=cache, use_cache=True)


def prefix_up_to(model: InterpModel, tokens: torch.Tensor, end: int, prefix: Any = None, what: str = "prefix") -> Any:
    """The keys and values of the first ``end`` positions of ``tokens`` (``[pos]``): computed when ``prefix`` is
    None, else ``prefix`` (a cache of the first positions a caller already has, not modified) completed up
    to ``end``. A ``prefix`` longer than ``end`` is an error naming ``what``."""
    if prefix is None:
        return prefix_cache(model, tokens, end)
    have = prefix.get_seq_length()
    if have > end:
        raise FkBenchError(f"{what}: the prefix cache holds {have} positions, past position {end}")
    if have == end:
        return prefix
    completed = copy.deepcopy(prefix)
    extend_cache(model, completed, tokens[None], have, end)
    return completed


def cache_row(cache: Any, row: int) -> Any:
    """One row of a batched cache, as a cache of its own."""
    one = copy.deepcopy(cache)
    one.batch_select_indices(torch.tensor([row]))
    return one


@torch.no_grad()
def run_patched(
    model: InterpModel,
    corrupted: torch.Tensor,
    clean: Mapping[str, torch.Tensor],
    cells: Sequence[RowSpec],
    answer_ids: torch.Tensor | None,
    start: int = 0,
    prefix: Any = None,
    max_rows: int = DEFAULT_MAX_ROWS,
    corrupted_acts: Mapping[str, torch.Tensor] | None = None,
    fwd_hooks: Sequence[Hook] = (),
) -> torch.Tensor:
    """Answer logits ``[rows, n_words]`` of the corrupted run ``corrupted`` (``[pos]``) with one row per entry of ``cells``.

    Each entry is a :class:`Cell`, a :class:`Knockout`, a sequence of them (applied together) or
    ``None`` (the unedited corrupted run). ``clean`` holds the clean run's activations per site at
    positions ``start..``, ``[layer, pos - start, ...]``; ``corrupted_acts`` the corrupted run's,
    likewise, for cells whose source is ``"corrupted"``. ``start`` is the shared prefix length and
    ``prefix`` its cache (:func:`prefix_cache` of the corrupted tokens): rows then run only positions
    ``start..``, and positional cells must lie there (earlier ones are identical in both runs, so
    patching them is a no-op). ``answer_ids`` None keeps the whole vocabulary. ``fwd_hooks`` run on
    every forward (e.g. the noise of a noised run, :meth:`interp.core.corruption.Noise.hook` at offset ``start``).
    """
    rows = [as_row(spec) for spec in cells]
    check_rows(rows, start)
    sources = {"clean": clean, "corrupted": corrupted_acts or {}}
    suffix = corrupted[start:]
    out = []
    for first in range(0, len(rows), max_rows):
        chunk = rows[first : first + max_rows]
        kwargs: dict[str, Any] = {"logits_to_keep": 1}
        if prefix is not None and start > 0:
            kv = copy.deepcopy(prefix)
            kv.batch_repeat_interleave(len(chunk))
            kwargs.update(cache=kv, use_cache=True)  # transformers' name; interp.core.model hands it on to the attention bridge
        hooks = [*fwd_hooks, *edit_hooks(chunk, sources, start, len(corrupted))]
        if answer_ids is None:
            logits = model.bridge.run_with_hooks(suffix[None].expand(len(chunk), -1), fwd_hooks=hooks, **kwargs)[:, -1]
        else:
            final = model.bridge.run_with_hooks(
                suffix[None].expand(len(chunk), -1), fwd_hooks=[*hooks, ("ln_final.hook_in", stop_at_final_norm)], **kwargs
            )
            logits = answer_logits_from_final(model, final, answer_ids)
        out.append(logits.float())
    return torch.cat(out)
