"""Activation patching, exact and attribution, clean -> corrupted, through the bridge's hooks.

Exact patching writes one clean activation into the corrupted run and reads the answer again; the
grids are ``resid_pre``, ``attn_out`` and ``mlp_out`` by layer x position and ``head_out`` (each
head's ``z`` at every position) by layer x head, the four grids of ``transformer_lens.patching``.
Positions before the first clean/corrupted difference are identical in both runs, so their cells
are exactly zero and are not computed.

How the cells run is decided once per model, up front, by :func:`patch_method` (a capability
check, recorded with its reason): *layer sweeps* (:func:`interp.core.sweep.sweep`: every cell of
every grid is one batch row that joins at its patched layer) where the bridge's blocks, called one
by one, reproduce the model's forward; *full forwards* (:func:`interp.core.runner.run_patched`, batched
rows of the whole suffix) where they do not. Nothing switches silently: each sweep's unedited row
is still checked against the model's own forward, and a mismatch is an error naming the model.

Attribution patching (:func:`attribution_grids`) estimates every cell from one forward and one
backward of the corrupted run: (clean - corrupted activation) · d metric / d activation, the
first-order change. The report runs it on every pair and exact patching on the pairs with the
largest evaluator margin, and says which grid is which.

:func:`act_patch` (and the ``get_act_patch_*`` partials) is a drop-in for the ``transformer_lens.patching``
function of the same name, equal within 1e-4 on every family tested.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import einops
import numpy as np
import torch

from fk_bench.errors import FkBenchError
from interp.core.edits import Cell, RowSpec, grid_cells
from interp.core.edits import site as site_spec
from interp.core.model import SITES, InterpModel, site_hook
from interp.core.runner import DEFAULT_MAX_ROWS, answer_logits_from_final, prefix_cache, run_patched
from interp.core.sweep import SWEEP_ROWS, ReplayUnsupported, record_layer_calls, sweep

LAYER_SWEEPS = "layer sweeps"
FULL_FORWARDS = "full forwards"
PROBE_PROMPT = "Is Paris the capital of France?\n"
"""The capability check's prompt (any prompt of a few tokens does: it checks the model, not a fact)."""


@dataclass(frozen=True)
class PatchMethod:
    """How exact patching (and causal tracing, and knockout) runs its rows on a model, and why."""

    name: str  # LAYER_SWEEPS or FULL_FORWARDS
    reason: str

    def to_json(self) -> dict:
        return {"method": self.name, "reason": self.reason}


def replay_tolerance(model: InterpModel) -> float:
    """How far (log-probs, or answer logits) a replayed row may be from the forward: float rounding only."""
    return 1e-3 if model.dtype == torch.float32 else 5e-2


@torch.no_grad()
def patch_method(model: InterpModel, probe: Sequence[int] | None = None) -> PatchMethod:
    """Decide, once per model, whether exact patching runs as layer sweeps or as full forwards.

    The check: record the block calls of ``probe`` (default :data:`PROBE_PROMPT`'s tokens) after a
    prefix cache of its first half, replay them as a sweep with no edit, and compare the last
    position's log-probs with the model's own forward of the whole prompt. Layer sweeps where the
    forward calls every block once with the residual (:class:`interp.core.runner.ReplayUnsupported`
    otherwise) and the replay matches within float rounding; full forwards, with the reason, else.
    The decision is kept on the model (``replay_ok``, ``replay_note``) and reused.
    """
    if model.replay_ok is not None:
        return PatchMethod(LAYER_SWEEPS if model.replay_ok else FULL_FORWARDS, model.replay_note)
    tokens = model.tensor(list(probe) if probe is not None else model.tokens(PROBE_PROMPT))
    start = max(1, tokens.shape[0] // 2)
    prefix = prefix_cache(model, tokens, start)
    try:
        calls = record_layer_calls(model, tokens[start:], copy.deepcopy(prefix))
    except ReplayUnsupported as unsupported:
        method = PatchMethod(FULL_FORWARDS, f"the bridge's blocks cannot be replayed one by one: {unsupported}")
    else:
        replayed = sweep(model, calls, prefix, calls.resid_pre(), {}, [None], start, None)[0].log_softmax(-1)
        own = model.bridge(tokens[None])[0, -1].float().log_softmax(-1)
        gap = float((replayed - own).abs().max())
        if gap <= replay_tolerance(model):
            method = PatchMethod(LAYER_SWEEPS, f"the bridge's blocks, replayed one by one, reproduce the forward (log-probs within {gap:.1e})")
        else:
            method = PatchMethod(FULL_FORWARDS, f"a replay of the bridge's blocks differs from the forward by {gap:.2e} in log-probs")
    model.replay_ok, model.replay_note = method.name == LAYER_SWEEPS, method.reason
    return method


def clean_sites(cache: Any, n_layers: int, start: int = 0, row: int = 0, sites: Sequence[str] = SITES) -> dict[str, torch.Tensor]:
    """One row's activations at every site and layer from position ``start`` on, ``{site: [layer, pos - start, ...]}``,
    from an ActivationCache of the whole prompt."""
    return {name: torch.stack([cache[site_hook(name, layer)][row, start:] for layer in range(n_layers)]) for name in sites}


@dataclass
class ExactGrids:
    """Answer logits of every patched run, ``{site: [layer, cell, n_words]}``, of the unpatched
    corrupted run ``[n_words]``, and how they were computed (``method``: :data:`LAYER_SWEEPS` or
    :data:`FULL_FORWARDS`, and ``reason``: why, from :func:`patch_method`)."""

    grids: dict[str, torch.Tensor]
    corrupted: torch.Tensor
    method: str
    reason: str = ""


def _cells(model: InterpModel, sites: Sequence[str], positions: Sequence[int]) -> dict[str, list[Cell]]:
    return {name: grid_cells(name, model.n_layers, model.n_heads, positions) for name in sites}


def swept_rows(
    model: InterpModel,
    tokens: torch.Tensor,
    start: int,
    prefix: Any,
    rows: Sequence[RowSpec],
    answer_ids: torch.Tensor | None,
    clean: Mapping[str, torch.Tensor],
    corrupted_acts: Mapping[str, torch.Tensor] | None = None,
    fwd_hooks: Sequence[Any] = (),
    corrupted_sites: Sequence[str] = (),
) -> tuple[torch.Tensor, torch.Tensor]:
    """Every row in layer sweeps of ``SWEEP_ROWS`` from the shared prefix's end: (answer logits of the
    rows ``[rows, n_words]``, of the unedited run ``[n_words]``). ``fwd_hooks`` run on the recorded
    forward (e.g. noise at offset ``start``); ``corrupted_sites`` are recorded from it for the cells
    whose source is "corrupted" (else ``corrupted_acts`` holds them). Each sweep carries an unedited
    row, checked against the model's own forward: a mismatch is an FkBenchError naming the model
    (never a silent switch)."""
    calls = record_layer_calls(model, tokens[start:], copy.deepcopy(prefix), fwd_hooks, corrupted_sites)
    corrupted_acts = {**(corrupted_acts or {}), **calls.acts}
    own = answer_logits_from_final(model, calls.final, answer_ids)[0].float()
    resid, out = calls.resid_pre(), []
    for first in range(0, len(rows), SWEEP_ROWS):
        values = sweep(model, calls, prefix, resid, clean, [None, *rows[first : first + SWEEP_ROWS]], start, answer_ids, corrupted_acts)
        if not torch.allclose(values[0], own, rtol=1e-3, atol=replay_tolerance(model)):
            gap = float((values[0] - own).abs().max())
            raise FkBenchError(
                f"{model.name}: a layer sweep's unedited row differs from the forward by {gap:.2e} on a prompt of {tokens.shape[0]} tokens "
                f"although the capability check passed; run with method={FULL_FORWARDS!r}"
            )
        out.append(values[1:])
    return (torch.cat(out) if out else own.new_zeros((0, own.shape[-1]))), own


def as_method(model: InterpModel, method: PatchMethod | str | None) -> PatchMethod:
    """``method`` as a :class:`PatchMethod`: None asks :func:`patch_method`; a name is taken as the caller's choice."""
    if method is None:
        return patch_method(model)
    if isinstance(method, PatchMethod):
        return method
    if method not in (LAYER_SWEEPS, FULL_FORWARDS):
        raise ValueError(f"patching method {method!r}: choose {LAYER_SWEEPS!r} or {FULL_FORWARDS!r}")
    return PatchMethod(method, "chosen by the caller")


@torch.no_grad()
def exact_grids(
    model: InterpModel,
    corrupted_tokens: Sequence[int],
    clean: Mapping[str, torch.Tensor],
    start: int,
    answer_ids: torch.Tensor | None,
    sites: Sequence[str] = SITES,
    prefix: Any = None,
    max_rows: int = DEFAULT_MAX_ROWS,
    method: PatchMethod | str | None = None,
) -> ExactGrids:
    """Every cell of the grids of ``sites``: positions ``start..`` (``start`` = the shared prefix length)
    for the positional sites, every head for head_out. ``clean`` holds the clean run's activations at
    positions ``start..`` (:func:`clean_sites`; for prompts of different lengths, aligned to the
    corrupted positions by :func:`interp.core.corruption.align_sites`); ``prefix`` the keys and values of
    the shared prefix (:func:`interp.core.runner.prefix_cache`; computed when not given). ``answer_ids``
    None keeps the whole vocabulary. ``method``: None = :func:`patch_method`'s decision for the model.
    """
    chosen = as_method(model, method)
    corrupted = model.tensor(list(corrupted_tokens))
    grids = _cells(model, sites, range(start, corrupted.shape[0]))
    every: list[RowSpec] = [cell for name in sites for cell in grids[name]]
    prefix = prefix if prefix is not None else prefix_cache(model, corrupted, start)
    if chosen.name == LAYER_SWEEPS:
        rows, baseline = swept_rows(model, corrupted, start, prefix, every, answer_ids, clean)
    else:
        logits = run_patched(model, corrupted, clean, [None, *every], answer_ids, start=start, prefix=prefix, max_rows=max_rows)
        rows, baseline = logits[1:], logits[0]
    return ExactGrids(_by_site(model, rows, grids, sites), baseline, chosen.name, chosen.reason)


def _by_site(model: InterpModel, rows: torch.Tensor, grids: dict[str, list[Cell]], sites: Sequence[str]) -> dict[str, torch.Tensor]:
    out, offset = {}, 0
    for name in sites:
        n = len(grids[name])
        out[name] = einops.rearrange(rows[offset : offset + n], "(layer cell) word -> layer cell word", layer=model.n_layers)
        offset += n
    return out


def attribution_grids(
    clean: Mapping[str, torch.Tensor], corrupted: Mapping[str, torch.Tensor], grads: Mapping[str, torch.Tensor]
) -> dict[str, np.ndarray]:
    """First-order change of the metric per cell, ``{site: [layer, cell]}``: (clean - corrupted) · gradient,
    summed over d_model (over positions and d_head for head_out). All three hold the positions from
    the shared prefix's end on, the cells of :func:`exact_grids` (before it, clean - corrupted is exactly zero)."""
    return {
        name: einops.reduce((clean[name] - corrupted[name]) * grads[name], site_spec(name).reduce, "sum").double().cpu().numpy() for name in grads
    }


# --------------------------------------------------------------------------------------------------
# transformer_lens.patching's interface


@torch.no_grad()
def act_patch(
    model: InterpModel,
    corrupted_tokens: torch.Tensor,
    clean_cache: Any,
    patching_metric: Any,
    site: str,
    max_rows: int = DEFAULT_MAX_ROWS,
    method: PatchMethod | str | None = None,
) -> torch.Tensor:
    """The batched counterpart of ``transformer_lens.patching.get_act_patch_<site>``: ``[layer, pos]`` or ``[layer, head]``.

    ``corrupted_tokens`` is ``[pos]`` or ``[1, pos]``, ``clean_cache`` the clean run's ActivationCache
    (batch of one). ``patching_metric`` maps last-position logits ``[rows, 1, d_vocab]`` to ``[rows]``
    (``transformer_lens.patching`` calls it once per run on ``[1, pos, d_vocab]``). Cells in the shared
    prefix get the unpatched run's value, which is what patching them gives.
    """
    spec = site_spec(site)
    tokens = corrupted_tokens.reshape(-1).tolist()
    # The first position where the clean run's input to block 0 differs from the corrupted run's.
    _, corrupted_cache = model.bridge.run_with_cache(model.tensor(tokens)[None], names_filter=site_hook("resid_pre", 0), stop_at_layer=1)
    differs = (clean_cache[site_hook("resid_pre", 0)][0] != corrupted_cache[site_hook("resid_pre", 0)][0]).any(-1)
    start = int(differs.float().argmax()) if bool(differs.any()) else len(tokens)
    start = min(start, len(tokens) - 1)  # the last position always runs: it is where the metric is read
    clean = clean_sites(clean_cache, model.n_layers, start, sites=(site,))
    exact = exact_grids(model, tokens, clean, start, None, sites=(site,), max_rows=max_rows, method=method)
    grids, baseline = exact.grids, exact.corrupted
    values = patching_metric(grids[site].reshape(-1, 1, grids[site].shape[-1])).reshape(model.n_layers, -1)
    if spec.per_head:
        return values
    unpatched = patching_metric(baseline[None, None])
    full = torch.empty(model.n_layers, len(tokens), dtype=values.dtype)
    full[:, :start] = unpatched.reshape(()).to(values.dtype)
    full[:, start:] = values
    return full


get_act_patch_resid_pre = partial(act_patch, site="resid_pre")
get_act_patch_attn_out = partial(act_patch, site="attn_out")
get_act_patch_mlp_out = partial(act_patch, site="mlp_out")
get_act_patch_attn_head_out_all_pos = partial(act_patch, site="head_out")
