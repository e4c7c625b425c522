"""Causal tracing (Meng et al. 2022, "Locating and Editing Factual Associations in GPT"): restore one
clean state at a time into a noised run.

The clean run is the true question; the noised run is the same prompt with Gaussian noise on the
embeddings of one span (:class:`interp.core.corruption.Noise`). Each cell of a grid restores the clean
value of one site at one layer and one position into the noised run and reads the answer again:
``resid_pre`` (the residual entering the layer), ``attn_out`` and ``mlp_out`` (the layer's
attention and MLP outputs), optionally over a window of layers around the cell's layer for the two
outputs (ROME restores 10). ROME's *severed* variant restores ``resid_pre`` while freezing the MLP
(or attention) output at that position, from that layer on, at its noised value: what is left of the
restored effect is what does not go through those MLPs. :meth:`TraceGrids.normalized` puts every
cell on 0 = the noised run, 1 = the clean run; restoring every noised position's embedding gives the
clean run exactly (:attr:`TraceGrids.restored`, the closure).

Exact and batched: every cell is one batch row (:mod:`interp.core.runner`). Positions before the noise
are identical in both runs and not computed (exactly 0). With layer sweeps
(:func:`interp.patching.activation_patching.patch_method`), the cells of each position ``p`` run as one sweep that
starts at ``p`` from the noised run's keys and values of the positions before it (a cell at ``p``
changes nothing before ``p``), each row joining at its layer: a cell costs the positions ``p..``
from its layer on, not the whole prompt. With full forwards, every row runs the positions from the
noise on, batched.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from fk_bench.errors import FkBenchError
from interp.core.corruption import Noise
from interp.core.edits import Cell, RowSpec, layer_window
from interp.core.model import InterpModel, site_hook
from interp.core.runner import (
    DEFAULT_MAX_ROWS,
    answer_logits_from_final,
    extend_cache,
    prefix_cache,
    prefix_up_to,
    record,
    run_patched,
    site_activations,
)
from interp.core.sweep import record_layer_calls, sweep
from interp.defaults import TRACE_SITES
from interp.patching.activation_patching import FULL_FORWARDS, PatchMethod, as_method, replay_tolerance, swept_rows

SEVERABLE: tuple[str, ...] = ("mlp_out", "attn_out")


def severed_key(frozen: str) -> str:
    """The name of a severed grid in :meth:`TraceGrids.normalized`: ``"resid_pre, mlp_out severed"``."""
    return f"resid_pre, {frozen} severed"


@dataclass
class TraceGrids:
    """Answer logits of every restored run of one pair.

    ``grids[site]`` and ``severed[frozen_site]`` are ``[layer, position, n_words]`` over the traced
    ``layers`` (every layer by default) and the absolute ``positions``; ``clean``, ``noised`` and
    ``restored`` (every noised embedding restored: the clean run, the closure) are ``[n_words]``.
    ``window``: layers restored per attn_out/mlp_out cell (centred on the cell's layer).
    ``method``/``reason``: how the rows ran (:class:`interp.patching.activation_patching.PatchMethod`).
    """

    positions: tuple[int, ...]
    grids: dict[str, torch.Tensor]
    severed: dict[str, torch.Tensor]
    clean: torch.Tensor
    noised: torch.Tensor
    restored: torch.Tensor
    noise: Noise
    window: int
    method: str
    reason: str
    layers: tuple[int, ...] = ()

    def normalized(self, metric: Callable[[torch.Tensor], torch.Tensor]) -> dict[str, np.ndarray]:
        """Every grid as ``[layer, position]`` float64, 0 = the noised run, 1 = the clean run, under ``metric``
        (answer logits ``[..., n_words]`` -> ``[...]``, e.g. :meth:`interp.core.answer_tokens.AnswerTokens.log_odds`).
        Keys: the sites, and :func:`severed_key` of each frozen site."""
        clean, noised = float(metric(self.clean.double())), float(metric(self.noised.double()))
        scale = lambda logits: ((metric(logits.double()) - noised) / (clean - noised)).cpu().numpy()
        out = {name: scale(grid) for name, grid in self.grids.items()}
        out.update({severed_key(frozen): scale(grid) for frozen, grid in self.severed.items()})
        return out

    def to_json(self) -> dict:
        return {
            "positions": list(self.positions),
            "layers": list(self.layers),
            "noise": self.noise.to_json(),
            "window": self.window,
            "method": self.method,
            "reason": self.reason,
        }


def _rows(
    model: InterpModel, sites: Sequence[str], sever: Sequence[str], window: int, position: int, layers: Sequence[int]
) -> list[tuple[str, int, RowSpec]]:
    """(grid, row of the grid, edits) of every cell at ``position``: one per site and traced layer, and per frozen site and traced layer."""
    out: list[tuple[str, int, RowSpec]] = []
    n = model.n_layers
    for name in sites:
        for row, layer in enumerate(layers):
            restored = [layer] if name == "resid_pre" else list(layer_window(layer, window, n))
            out.append((name, row, [Cell(name, at, position) for at in restored]))
    for frozen in sever:
        for row, layer in enumerate(layers):
            frozen_cells = [Cell(frozen, at, position, "corrupted") for at in range(layer, n)]
            out.append((severed_key(frozen), row, [Cell("resid_pre", layer, position), *frozen_cells]))
    return out


@dataclass
class CleanRun:
    """What tracing needs of the clean run: the answer logits at the last position ``[n_words]`` and the
    activations of the traced sites, ``{site: [layer, pos - start, ...]}`` from position ``start`` on
    (a caller that has recorded the clean run already, e.g. for DLA, passes it instead of a second run)."""

    logits: torch.Tensor
    acts: dict[str, torch.Tensor]
    start: int

    def from_position(self, position: int) -> dict[str, torch.Tensor]:
        if position < self.start:
            raise FkBenchError(f"causal tracing: the clean activations start at position {self.start}, after the noise ({position})")
        return {name: values[:, position - self.start :] for name, values in self.acts.items()}


@torch.no_grad()
def clean_run(
    model: InterpModel, tokens: Sequence[int], answer_ids: torch.Tensor, start: int, prefix: Any = None, sites: Sequence[str] = TRACE_SITES
) -> CleanRun:
    """Record the clean run of ``tokens`` from position ``start`` (after ``prefix``, its first ``start``
    positions' cache, computed when not given): one forward."""
    tokens_t = model.tensor(list(tokens))
    prefix = prefix if prefix is not None else prefix_cache(model, tokens_t, start)
    names = {site_hook(name, layer) for name in sites for layer in range(model.n_layers)}
    logits, cache, _ = record(model, tokens_t[None, start:], names.__contains__, answer_ids, prefix)
    return CleanRun(logits[0].float(), {name: site_activations(cache, model.n_layers, name)[0] for name in sites}, start)


@torch.no_grad()
def trace(
    model: InterpModel,
    tokens: Sequence[int],
    noise: Noise,
    answer_ids: torch.Tensor,
    sites: Sequence[str] = TRACE_SITES,
    positions: Sequence[int] | None = None,
    sever: Sequence[str] = ("mlp_out",),
    layers: Sequence[int] | None = None,
    window: int = 1,
    method: PatchMethod | str | None = None,
    prefix: Any = None,
    clean: CleanRun | None = None,
    by_position: bool | None = None,
    max_rows: int = DEFAULT_MAX_ROWS,
) -> TraceGrids:
    """Causal tracing grids of one prompt (``tokens``, the clean prompt's ids) under ``noise``.

    ``sites``: any of :data:`TRACE_SITES`; ``positions``: the absolute positions to trace (default:
    every position from the first noised one to the last; earlier ones are exactly 0 and refused);
    ``sever``: the sites to freeze for ROME's severed ``resid_pre`` grids (:data:`SEVERABLE`, or none);
    ``layers``: the layers to trace (default every one; a cell costs its layer and the ones after it);
    ``window``: layers restored per attn_out/mlp_out cell. ``method``: None = the model's
    :func:`interp.patching.activation_patching.patch_method`. ``prefix``: the keys and values of the positions before the
    noise (:func:`interp.core.runner.prefix_cache` of ``tokens``, at most ``noise.start`` long) and
    ``clean``: the clean run (:func:`clean_run`, with resid_pre and ``sites``), when the caller has
    them; both are computed otherwise.

    Cost, with layer sweeps: one forward of the noised run (recording the block calls) and one
    sweep of every row over the positions from the noise on (+ one forward each for the prefix and the
    clean run when not given). ``by_position``: one sweep per traced position instead, each over the
    positions from its own on (fewer rows x positions, three forwards more per position: worth it
    when many positions follow the noise); None decides by an estimate of both costs (:func:`_by_position_pays`).
    """
    tokens_t = model.tensor(list(tokens))
    n, start = tokens_t.shape[0], noise.start
    wanted, traced_layers = _checked(model, n, noise, positions, sites, sever, window, layers)
    chosen = as_method(model, method)
    ids = answer_ids
    prefix = prefix_up_to(model, tokens_t, start, prefix, "causal tracing")  # up to the noise's first position
    needed = sorted(set(sites) | {"resid_pre"})  # resid_pre: the closure row restores the noised embeddings
    clean = clean if clean is not None else clean_run(model, tokens, ids, start, prefix, needed)
    if missing := [name for name in needed if name not in clean.acts]:
        raise FkBenchError(f"causal tracing: the clean run given lacks the sites {missing}")
    clean_acts = clean.from_position(start)
    restore_all: RowSpec = [Cell("resid_pre", 0, p) for p in sorted(noise.positions)]
    cells = {p: _rows(model, sites, sever, window, p, traced_layers) for p in wanted}
    every = [row for p in wanted for _, _, row in cells[p]]

    if chosen.name == FULL_FORWARDS:
        frozen_names = {site_hook(name, layer) for name in sever for layer in range(model.n_layers)}
        noised_logits, cache, _ = record(model, tokens_t[None, start:], frozen_names.__contains__, ids, prefix, [noise.hook(start)])
        frozen = {name: site_activations(cache, model.n_layers, name)[0] for name in sever}
        logits = run_patched(model, tokens_t, clean_acts, [None, restore_all, *every], ids, start, prefix, max_rows, frozen, [noise.hook(start)])
        noised = noised_logits[0].float()
        _check(model, logits[0], noised, n)
        rows, restored = logits[2:], logits[1]
    elif not (by_position if by_position is not None else _by_position_pays(model.n_layers, start, n, wanted, len(cells[wanted[0]]))):
        logits, noised = swept_rows(model, tokens_t, start, prefix, [*every, restore_all], ids, clean_acts, None, [noise.hook(start)], sever)
        rows, restored = logits[:-1], logits[-1]
    else:
        rows, restored, noised = _by_position(model, tokens_t, noise, ids, prefix, clean, cells, restore_all, sever)

    stacked, severed = _by_grid(cells, wanted, traced_layers, rows, sever)
    return TraceGrids(
        tuple(wanted), stacked, severed, clean.logits.float(), noised, restored, noise, window, chosen.name, chosen.reason, tuple(traced_layers)
    )


def _checked(
    model: InterpModel,
    n: int,
    noise: Noise,
    positions: Sequence[int] | None,
    sites: Sequence[str],
    sever: Sequence[str],
    window: int,
    layers: Sequence[int] | None,
) -> tuple[list[int], list[int]]:
    """The positions and layers :func:`trace` traces (of a prompt of ``n`` tokens), every argument checked."""
    start = noise.start
    wanted = list(range(start, n)) if positions is None else sorted(set(int(p) for p in positions))
    if not wanted or wanted[0] < start or wanted[-1] >= n or max(noise.positions) >= n:
        raise FkBenchError(
            f"causal tracing: positions {wanted} must lie in the noised run's positions {start}..{n - 1} (the noise is at {list(noise.positions)})"
        )
    bad = [name for name in sites if name not in TRACE_SITES] + [name for name in sever if name not in SEVERABLE]
    if bad or window < 1:
        raise FkBenchError(
            f"causal tracing: sites {list(sites)}, severed {list(sever)}, window {window}: choose from {TRACE_SITES}, {SEVERABLE}, window >= 1"
        )
    traced_layers = list(range(model.n_layers)) if layers is None else sorted(set(int(layer) for layer in layers))
    if not traced_layers or traced_layers[0] < 0 or traced_layers[-1] >= model.n_layers:
        raise FkBenchError(f"causal tracing: layers {traced_layers} outside the model's {model.n_layers} layers")
    return wanted, traced_layers


def _by_grid(
    cells: dict[int, list[tuple[str, int, RowSpec]]], wanted: list[int], traced_layers: list[int], rows: torch.Tensor, sever: Sequence[str]
) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """The rows' answer logits as grids ``[layer, position, ...]`` per grid name, and the severed grids apart."""
    grids: dict[str, list[list[torch.Tensor]]] = {}
    offset = 0
    for p in wanted:
        for (grid, layer, _), values in zip(cells[p], rows[offset : offset + len(cells[p])]):
            grids.setdefault(grid, [[] for _ in traced_layers])[layer].append(values)
        offset += len(cells[p])
    stacked = {grid: torch.stack([torch.stack(column) for column in per_layer]) for grid, per_layer in grids.items()}
    severed = {frozen: stacked.pop(severed_key(frozen)) for frozen in sever}
    return stacked, severed


def _by_position(
    model: InterpModel,
    tokens: torch.Tensor,
    noise: Noise,
    ids: torch.Tensor,
    prefix: Any,
    clean: CleanRun,
    cells: dict[int, list[tuple[str, int, RowSpec]]],
    restore_all: RowSpec,
    sever: Sequence[str],
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One sweep per traced position ``p``, from ``p`` on, after the noised run's keys and values of the
    positions before it: (rows in :func:`trace`'s order, the closure row, the noised run's logits)."""
    start, n = noise.start, tokens.shape[0]
    kv = copy.deepcopy(prefix)
    out: list[torch.Tensor] = []
    restored: torch.Tensor | None = None
    noised: torch.Tensor | None = None
    frozen: dict[str, torch.Tensor] = {}
    for p in range(start, max(cells) + 1):
        if p == start or p in cells:
            calls = record_layer_calls(model, tokens[p:], copy.deepcopy(kv), [noise.hook(p)], sever if p == start else ())
            own = answer_logits_from_final(model, calls.final, ids)[0].float()
            if p == start:
                noised, frozen = own, calls.acts
            assert noised is not None
            _check(model, own, noised, n)
            rows = [None, *(row for _, _, row in cells.get(p, [])), *([restore_all] if p == start else [])]
            values = sweep(model, calls, kv, calls.resid_pre(), clean.from_position(p), rows, p, ids, _from(frozen, p - start))
            _check(model, values[0], own, n)
            out.append(values[1 : 1 + len(cells.get(p, []))])
            if p == start:
                restored = values[-1]
        extend_cache(model, kv, tokens[None], p, p + 1, [noise.hook(p)])
    assert restored is not None and noised is not None
    return torch.cat(out), restored, noised


CALL_COST = 16
"""What one block call costs beyond its rows, in rows of one position through one block (reading the
block's weights): the unit of :func:`_by_position_pays`'s estimate."""


def _by_position_pays(n_layers: int, start: int, n: int, wanted: Sequence[int], rows_per_position: int) -> bool:
    """Whether one sweep per position is estimated cheaper than one sweep of every row: rows x positions
    x layers (half the layers on average: a row joins at its layer) plus the block calls of each pass."""
    half = n_layers / 2
    single = rows_per_position * len(wanted) * (n - start) * half + n_layers * (2 * CALL_COST + n - start)
    per_position = sum(rows_per_position * (n - p) * half + n_layers * (3 * CALL_COST + n - p + 1) for p in wanted)
    return per_position < single


def _from(acts: dict[str, torch.Tensor], begin: int) -> dict[str, torch.Tensor]:
    """Activations ``[layer, pos, ...]`` from position ``begin`` on."""
    return {name: values[:, begin:] for name, values in acts.items()}


def _check(model: InterpModel, row: torch.Tensor, reference: torch.Tensor, n: int) -> None:
    """An unedited row must be the noised run itself: anything else is a replay error, said out loud."""
    if not torch.allclose(row, reference, rtol=1e-3, atol=replay_tolerance(model)):
        raise FkBenchError(
            f"{model.name}: causal tracing's unedited row differs from the noised forward by {float((row - reference).abs().max()):.2e} "
            f"on a prompt of {n} tokens; run with method={FULL_FORWARDS!r}"
        )
