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
:func:`interp.patching.patch_method`; every sweep also carries an unedited row that its caller
checks against the model's own forward.

How each site is read and written lives in one table, :data:`SITE_TABLE` (TransformerLens's
``patching.py`` keeps its setters the same way): patching, tracing and knockout all go through it.
"""

from __future__ import annotations

import copy
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import torch
from transformer_lens.model_bridge.exceptions import StopAtLayerException

from fk_bench.errors import FkBenchError
from interp.model import SITES, InterpModel, site_hook

AnswerMetric = Callable[[torch.Tensor], torch.Tensor]
"""Answer-word logits ``[rows, n_words]`` -> one differentiable number per row ``[rows]``."""

Hook = tuple[str, Callable[..., Any]]
"""A forward hook as TransformerLens takes it: (hook name, function of (activation, hook))."""

DEFAULT_MAX_ROWS = 96
"""Edited runs per forward pass of :func:`run_patched`: bounds memory (each row holds the prefix's keys and values)."""
SWEEP_ROWS = 1024
"""Edited runs per :func:`sweep` (the last layers hold them all): about 1,000 on a 1.5B model with a chat prompt."""


# --------------------------------------------------------------------------------------------------
# The site table: how each site is read from a recorded run and written into an edited one


def _position_values(acts: torch.Tensor, index: torch.Tensor, start: int) -> torch.Tensor:
    """``acts`` ``[pos - start, d_model]`` -> the rows to write ``[n, d_model]``."""
    return acts[index - start]


def _position_setter(x: torch.Tensor, rows: torch.Tensor, index: torch.Tensor, values: torch.Tensor, start: int) -> None:
    """``x`` ``[rows, pos - start, d_model]``: each row's position ``index``."""
    x[rows, index - start] = values


def _head_values(acts: torch.Tensor, index: torch.Tensor, start: int) -> torch.Tensor:
    """``acts`` ``[pos - start, head, d_head]`` -> each head at every position ``[n, pos - start, d_head]``."""
    return acts[:, index].transpose(0, 1)


def _head_setter(x: torch.Tensor, rows: torch.Tensor, index: torch.Tensor, values: torch.Tensor, start: int) -> None:
    """``x`` ``[rows, pos - start, head, d_head]``: each row's head ``index`` at every position."""
    x[rows, :, index] = values


@dataclass(frozen=True)
class Site:
    """One patching site: its hook, what a cell indexes, and how its values are read and written.

    ``per_head`` sites have cells = heads (each written at every position); the others have cells =
    positions. ``values(acts, index, start)`` reads the values of cells ``index`` from one layer of
    recorded activations (positions from ``start`` on); ``setter(x, rows, index, values, start)``
    writes them into rows of the edited run's activation ``x`` (positions from ``start`` on).
    ``reduce`` is the einops pattern that sums a per-element attribution to one number per cell.
    """

    name: str
    per_head: bool
    values: Callable[[torch.Tensor, torch.Tensor, int], torch.Tensor]
    setter: Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, int], None]
    reduce: str

    def hook(self, layer: int) -> str:
        return site_hook(self.name, layer)

    def indices(self, positions: Sequence[int], n_heads: int) -> Sequence[int]:
        """The cells of one layer: ``positions``, or every head."""
        return range(n_heads) if self.per_head else positions


SITE_TABLE: dict[str, Site] = {
    name: Site(name, per_head=False, values=_position_values, setter=_position_setter, reduce="layer pos d -> layer pos")
    for name in ("resid_pre", "attn_out", "mlp_out")
}
SITE_TABLE["head_out"] = Site("head_out", per_head=True, values=_head_values, setter=_head_setter, reduce="layer pos head d -> layer head")
"""Every patching site (the keys are :data:`interp.model.SITES`)."""
assert tuple(SITE_TABLE) == SITES


def site(name: str) -> Site:
    """The :class:`Site` of ``name``; a ValueError naming the choices for any other name."""
    try:
        return SITE_TABLE[name]
    except KeyError:
        raise ValueError(f"patching site {name!r}: choose one of {', '.join(SITE_TABLE)}") from None


# --------------------------------------------------------------------------------------------------
# Edits: what one row of an edited run changes


@dataclass(frozen=True)
class Cell:
    """One activation written into the edited run: ``site`` at ``layer``, at position ``index`` (or, for
    head_out, head ``index`` at every position), with the value of the run named by ``source``
    (``"clean"``: the clean run's, what patching and tracing restore; ``"corrupted"``: the corrupted
    run's own, to freeze a site when something upstream of it was restored, as ROME's severed traces do)."""

    site: str
    layer: int
    index: int
    source: str = "clean"


@dataclass(frozen=True)
class Knockout:
    """Attention knockout at ``layer``: the last position may not attend to the (absolute) positions
    ``keys``. Their scores become -inf before the softmax, so the other keys' weights renormalize."""

    layer: int
    keys: tuple[int, ...]


Edit = Cell | Knockout
RowSpec = Edit | Sequence[Edit] | None
"""One row of an edited run: one edit, several (applied together), or None (the unedited run)."""


def _as_row(spec: RowSpec) -> tuple[Edit, ...]:
    if spec is None:
        return ()
    if isinstance(spec, (Cell, Knockout)):
        return (spec,)
    return tuple(spec)


def _join_layer(row: tuple[Edit, ...]) -> int:
    """The first layer a row changes: before it the row is the corrupted run."""
    return min((edit.layer for edit in row), default=0)


def _check_rows(rows: Sequence[tuple[Edit, ...]], start: int) -> None:
    for row in rows:
        for edit in row:
            if isinstance(edit, Cell) and not site(edit.site).per_head and edit.index < start:
                raise ValueError(f"cell {edit} lies in the shared prefix (positions < {start}): its effect is exactly zero")


def _knockout_hook(members: list[tuple[int, tuple[int, ...]]], n_positions: int) -> Callable[..., torch.Tensor]:
    """A ``hook_attn_scores`` hook (``[rows, head, query, key]``) that sets the last query's scores of each
    member row's blocked keys to -inf. Keys are absolute positions; the score's key axis ends at the
    last position (it may start later where a sliding-window cache dropped early keys)."""

    def hook(x: torch.Tensor, hook: Any) -> torch.Tensor:
        offset = n_positions - x.shape[-1]
        blocked = torch.zeros(x.shape[0], x.shape[-1], dtype=torch.bool, device=x.device)
        for row, keys in members:
            kept = [key - offset for key in keys if key >= offset]
            blocked[row, kept] = True
        x[:, :, -1] = x[:, :, -1].masked_fill(blocked[:, None, :], float("-inf"))
        return x

    return hook


def _write_hook(spec: Site, rows: torch.Tensor, index: torch.Tensor, values: torch.Tensor, start: int) -> Callable[..., torch.Tensor]:
    """A hook that writes ``values`` into batch rows ``rows`` at cells ``index`` of its activation (the site's setter)."""

    def write(x: torch.Tensor, hook: Any) -> torch.Tensor:
        spec.setter(x, rows.to(x.device), index.to(x.device), values.to(device=x.device, dtype=x.dtype), start)
        return x

    return write


def edit_hooks(
    rows: Sequence[RowSpec],
    sources: Mapping[str, Mapping[str, torch.Tensor]],
    start: int,
    n_positions: int,
    layer: int | None = None,
) -> list[Hook]:
    """The forward hooks that apply each row's edits to its own batch row: one hook per (site, layer,
    source) and one per knockout layer. ``sources[name][site]`` holds that run's activations
    ``[layer, pos - start, ...]``; ``n_positions`` is the full prompt's length (knockout keys are
    absolute positions). ``layer``: only the edits at that layer (a sweep's block call)."""
    writes: dict[tuple[str, int, str], list[tuple[int, int]]] = defaultdict(list)
    knockouts: dict[int, list[tuple[int, tuple[int, ...]]]] = defaultdict(list)
    for row, spec in enumerate(rows):
        for edit in _as_row(spec):
            if layer is not None and edit.layer != layer:
                continue
            if isinstance(edit, Cell):
                writes[edit.site, edit.layer, edit.source].append((row, edit.index))
            else:
                knockouts[edit.layer].append((row, edit.keys))
    hooks: list[Hook] = []
    for (name, at, source), members in writes.items():
        spec_ = site(name)
        row_index = torch.tensor([row for row, _ in members])
        cell_index = torch.tensor([i for _, i in members])
        values = spec_.values(sources[source][name][at], cell_index.to(sources[source][name].device), start)
        hooks.append((spec_.hook(at), _write_hook(spec_, row_index, cell_index, values, start)))
    for at, blocked in knockouts.items():
        hooks.append((f"blocks.{at}.attn.hook_attn_scores", _knockout_hook(blocked, n_positions)))
    return hooks


def _site_names(n_layers: int, sites: Sequence[str]) -> list[str]:
    return [site_hook(name, layer) for name in sites for layer in range(n_layers)]


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
    unembedded. ``fwd_hooks`` run too (e.g. :meth:`interp.corruption.Noise.hook`).
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

    names = _site_names(model.n_layers, sites)
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
        wanted = [recorded[name] for name in _site_names(model.n_layers, sites)]
        grads = torch.autograd.grad(metric(answer_logits).sum(), wanted)
    activations, gradients = {}, {}
    for s, name in enumerate(sites):
        chunk = slice(s * model.n_layers, (s + 1) * model.n_layers)
        activations[name] = torch.stack([a.detach() for a in wanted[chunk]], dim=1)
        gradients[name] = torch.stack(list(grads[chunk]), dim=1)
    return answer_logits.detach(), activations, gradients


# --------------------------------------------------------------------------------------------------
# Edited runs


def _stop_at_final_norm(x: torch.Tensor, hook: Any) -> None:
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
    model.bridge.run_with_hooks(tokens[:, begin:end], fwd_hooks=[*fwd_hooks, ("ln_final.hook_in", _stop_at_final_norm)], cache=cache, use_cache=True)


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
    every forward (e.g. the noise of a noised run, :meth:`interp.corruption.Noise.hook` at offset ``start``).
    """
    rows = [_as_row(spec) for spec in cells]
    _check_rows(rows, start)
    sources = {"clean": clean, "corrupted": corrupted_acts or {}}
    suffix = corrupted[start:]
    out = []
    for first in range(0, len(rows), max_rows):
        chunk = rows[first : first + max_rows]
        kwargs: dict[str, Any] = {"logits_to_keep": 1}
        if prefix is not None and start > 0:
            kv = copy.deepcopy(prefix)
            kv.batch_repeat_interleave(len(chunk))
            kwargs.update(cache=kv, use_cache=True)  # transformers' name; interp.model hands it on to the attention bridge
        hooks = [*fwd_hooks, *edit_hooks(chunk, sources, start, len(corrupted))]
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
# Layer sweeps: rows join at their first edited layer


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
            suffix[None], fwd_hooks=[*fwd_hooks, *site_hooks, ("ln_final.hook_in", _stop_at_final_norm)], cache=cache, use_cache=True
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
    rows = [_as_row(spec) for spec in cells]
    _check_rows(rows, start)
    sources = {"clean": clean, "corrupted": corrupted_acts or {}}
    n_positions = start + corrupted_resid.shape[1]
    joining: dict[int, list[int]] = defaultdict(list)  # layer -> rows joining there
    for index, row in enumerate(rows):
        joining[_join_layer(row)].append(index)
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


def layer_window(centre: int, size: int, n_layers: int) -> range:
    """The ``size`` layers around ``centre`` (clipped to the model), as Geva et al.'s and ROME's code take
    them: ``centre - size // 2`` to ``centre + ceil(size / 2)`` exclusive (9 -> centre - 4 .. centre + 4)."""
    return range(max(0, centre - size // 2), min(n_layers, centre - (-size // 2)))


def grid_cells(site_name: str, n_layers: int, n_heads: int, positions: Sequence[int]) -> list[Cell]:
    """Every cell of one grid, layer-major: ``positions`` for resid_pre/attn_out/mlp_out, every head for head_out."""
    indices = site(site_name).indices(positions, n_heads)
    return [Cell(site_name, layer, index) for layer in range(n_layers) for index in indices]
