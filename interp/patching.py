"""Activation patching, exact and attribution, clean -> corrupted, through the bridge's hooks.

Exact patching writes one clean activation into the corrupted run and reads the answer again; the
grids are ``resid_pre``, ``attn_out`` and ``mlp_out`` by layer x position and ``head_out`` (each
head's ``z`` at every position) by layer x head, the four grids of ``transformer_lens.patching``.
:func:`exact_grids` runs every cell of every grid as one batch row of a layer sweep
(:func:`interp.runner.sweep`: each row joins at its patched layer), positions from the first
clean/corrupted difference on: the shared prefix before it is identical in both runs, so its cells
are exactly zero and are not computed. Where a sweep does not reproduce the model's own forward,
the rows run as batched full forwards instead (:func:`interp.runner.run_patched`), never an error.

Attribution patching (:func:`attribution_grids`) estimates every cell from one forward and one
backward of the corrupted run: (clean - corrupted activation) · d metric / d activation, the
first-order change. The report runs it on every pair and exact patching on the pairs with the
largest evaluator margin, and says which grid is which.

:func:`act_patch` (and the ``get_act_patch_*`` partials) is a drop-in for the ``transformer_lens.patching``
function of the same name, equal within 1e-4 on every family tested.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import einops
import numpy as np
import torch

from interp.model import SITES, InterpModel, site_hook
from interp.runner import (
    DEFAULT_MAX_ROWS,
    SWEEP_ROWS,
    Cell,
    answer_logits_from_final,
    grid_cells,
    prefix_cache,
    record_layer_calls,
    run_patched,
    sweep,
)


def clean_sites(cache: Any, n_layers: int, start: int = 0, row: int = 0, sites: Sequence[str] = SITES) -> dict[str, torch.Tensor]:
    """One row's activations at every site and layer from position ``start`` on, ``{site: [layer, pos - start, ...]}``,
    from an ActivationCache of the whole prompt."""
    return {site: torch.stack([cache[site_hook(site, layer)][row, start:] for layer in range(n_layers)]) for site in sites}


@dataclass
class ExactGrids:
    """Answer logits of every patched run, ``{site: [layer, cell, n_words]}``, of the unpatched
    corrupted run ``[n_words]``, and how they were computed (``"layer sweeps"`` or ``"full forwards"``)."""

    grids: dict[str, torch.Tensor]
    corrupted: torch.Tensor
    method: str


def _cells(model: InterpModel, sites: Sequence[str], positions: Sequence[int]) -> dict[str, list[Cell]]:
    return {site: grid_cells(site, model.n_layers, model.n_heads, positions) for site in sites}


def _sweep_all(
    model: InterpModel,
    corrupted: torch.Tensor,
    clean: dict[str, torch.Tensor],
    start: int,
    answer_ids: torch.Tensor | None,
    cells: list[Cell],
    prefix: Any,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Every cell in one layer sweep from the shared prefix's end; raises ``_ReplayMismatch`` when the
    sweep's unpatched row differs from the model's own forward of the corrupted prompt."""
    calls = record_layer_calls(model, corrupted[start:], copy.deepcopy(prefix))
    own = answer_logits_from_final(model, calls.final, answer_ids)[0].float()
    resid, out = calls.resid_pre(), []
    for first in range(0, len(cells), SWEEP_ROWS):  # each sweep carries its own unpatched row
        rows = sweep(model, calls, prefix, resid, clean, [None, *cells[first : first + SWEEP_ROWS]], start, answer_ids)
        if not torch.allclose(rows[0], own, rtol=1e-3, atol=_replay_tolerance(model)):
            raise _ReplayMismatch(f"the unpatched sweep row differs from the forward by {float((rows[0] - own).abs().max()):.2e}")
        out.append(rows[1:])
    return torch.cat(out), own


class _ReplayMismatch(RuntimeError):
    pass


def _replay_tolerance(model: InterpModel) -> float:
    return 1e-3 if model.dtype == torch.float32 else 5e-2


@torch.no_grad()
def exact_grids(
    model: InterpModel,
    corrupted_tokens: Sequence[int],
    clean: dict[str, torch.Tensor],
    start: int,
    answer_ids: torch.Tensor | None,
    sites: Sequence[str] = SITES,
    prefix: Any = None,
    max_rows: int = DEFAULT_MAX_ROWS,
) -> ExactGrids:
    """Every cell of the grids of ``sites``: positions ``start..`` (``start`` = the shared prefix length)
    for the positional sites, every head for head_out. ``clean`` holds the clean run's activations at
    positions ``start..`` (:func:`clean_sites`); ``prefix`` the keys and values of the shared prefix
    (:func:`interp.runner.prefix_cache`; computed when not given). ``answer_ids`` None keeps the whole vocabulary.

    One layer sweep (:func:`interp.runner.sweep`) when the model replays its blocks exactly (checked
    on every sweep), else one batched forward per chunk of cells (:func:`interp.runner.run_patched`).
    """
    corrupted = model.tensor(list(corrupted_tokens))
    grids = _cells(model, sites, range(start, corrupted.shape[0]))
    every = [cell for site in sites for cell in grids[site]]
    prefix = prefix if prefix is not None else prefix_cache(model, corrupted, start)
    if model.replay_ok is not False:
        try:
            rows, baseline = _sweep_all(model, corrupted, clean, start, answer_ids, every, prefix)
            model.replay_ok = True
            return ExactGrids(_by_site(model, rows, grids, sites), baseline, "layer sweeps")
        except Exception as err:  # an architecture the sweeps do not cover: the plain batched forward, never an error
            model.replay_ok = False
            model.replay_note = f"{type(err).__name__}: {err}"
    logits = run_patched(model, corrupted, clean, [None, *every], answer_ids, start=start, prefix=prefix, max_rows=max_rows)
    return ExactGrids(_by_site(model, logits[1:], grids, sites), logits[0], "full forwards")


def _by_site(model: InterpModel, rows: torch.Tensor, grids: dict[str, list[Cell]], sites: Sequence[str]) -> dict[str, torch.Tensor]:
    out, offset = {}, 0
    for site in sites:
        n = len(grids[site])
        out[site] = einops.rearrange(rows[offset : offset + n], "(layer cell) word -> layer cell word", layer=model.n_layers)
        offset += n
    return out


def attribution_grids(clean: dict[str, torch.Tensor], corrupted: dict[str, torch.Tensor], grads: dict[str, torch.Tensor]) -> dict[str, np.ndarray]:
    """First-order change of the metric per cell, ``{site: [layer, cell]}``: (clean - corrupted) · gradient,
    summed over d_model (over positions and d_head for head_out). All three hold the positions from
    the shared prefix's end on, the cells of :func:`exact_grids` (before it, clean - corrupted is exactly zero)."""
    out = {}
    for site in grads:
        product = (clean[site] - corrupted[site]) * grads[site]
        if site == "head_out":
            out[site] = einops.reduce(product, "layer pos head d -> layer head", "sum")
        else:
            out[site] = einops.reduce(product, "layer pos d -> layer pos", "sum")
        out[site] = out[site].double().cpu().numpy()
    return out


# --------------------------------------------------------------------------------------------------
# transformer_lens.patching's interface


@torch.no_grad()
def act_patch(
    model: InterpModel, corrupted_tokens: torch.Tensor, clean_cache: Any, patching_metric: Any, site: str, max_rows: int = DEFAULT_MAX_ROWS
) -> torch.Tensor:
    """The batched counterpart of ``transformer_lens.patching.get_act_patch_<site>``: ``[layer, pos]`` or ``[layer, head]``.

    ``corrupted_tokens`` is ``[pos]`` or ``[1, pos]``, ``clean_cache`` the clean run's ActivationCache
    (batch of one). ``patching_metric`` maps last-position logits ``[rows, 1, d_vocab]`` to ``[rows]``
    (``transformer_lens.patching`` calls it once per run on ``[1, pos, d_vocab]``). Cells in the shared
    prefix get the unpatched run's value, which is what patching them gives.
    """
    if site not in SITES:
        raise ValueError(f"patching site {site!r}: choose one of {', '.join(SITES)}")
    tokens = corrupted_tokens.reshape(-1).tolist()
    # The first position where the clean run's input to block 0 differs from the corrupted run's.
    _, corrupted_cache = model.bridge.run_with_cache(model.tensor(tokens)[None], names_filter=site_hook("resid_pre", 0), stop_at_layer=1)
    differs = (clean_cache[site_hook("resid_pre", 0)][0] != corrupted_cache[site_hook("resid_pre", 0)][0]).any(-1)
    start = int(differs.float().argmax()) if bool(differs.any()) else len(tokens)
    start = min(start, len(tokens) - 1)  # the last position always runs: it is where the metric is read
    exact = exact_grids(model, tokens, clean_sites(clean_cache, model.n_layers, start, sites=(site,)), start, None, sites=(site,), max_rows=max_rows)
    grids, baseline = exact.grids, exact.corrupted
    values = patching_metric(grids[site].reshape(-1, 1, grids[site].shape[-1])).reshape(model.n_layers, -1)
    if site == "head_out":
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
