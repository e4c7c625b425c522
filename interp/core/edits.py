"""Edits of a run and the sites they touch: how each site is read from a recorded run and written into an edited one.

How each site is read and written lives in one table, :data:`SITE_TABLE` (TransformerLens's
``patching.py`` keeps its setters the same way): patching, tracing and knockout all go through it.
A row of an edited run is a :class:`Cell` written with a clean (or corrupted) activation, a
:class:`Knockout` of attention edges, several of them together, or None; :func:`edit_hooks` turns
a batch of rows into the forward hooks that apply them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from interp.core.model import SITES, site_hook

Hook = tuple[str, Callable[..., Any]]
"""A forward hook as TransformerLens takes it: (hook name, function of (activation, hook))."""


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
"""Every patching site (the keys are :data:`interp.core.model.SITES`)."""
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


def as_row(spec: RowSpec) -> tuple[Edit, ...]:
    if spec is None:
        return ()
    if isinstance(spec, (Cell, Knockout)):
        return (spec,)
    return tuple(spec)


def join_layer(row: tuple[Edit, ...]) -> int:
    """The first layer a row changes: before it the row is the corrupted run."""
    return min((edit.layer for edit in row), default=0)


def check_rows(rows: Sequence[tuple[Edit, ...]], start: int) -> None:
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
        for edit in as_row(spec):
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


def site_names(n_layers: int, sites: Sequence[str]) -> list[str]:
    return [site_hook(name, layer) for name in sites for layer in range(n_layers)]


def layer_window(centre: int, size: int, n_layers: int) -> range:
    """The ``size`` layers around ``centre`` (clipped to the model), as Geva et al.'s and ROME's code take
    them: ``centre - size // 2`` to ``centre + ceil(size / 2)`` exclusive (9 -> centre - 4 .. centre + 4)."""
    return range(max(0, centre - size // 2), min(n_layers, centre - (-size // 2)))


def grid_cells(site_name: str, n_layers: int, n_heads: int, positions: Sequence[int]) -> list[Cell]:
    """Every cell of one grid, layer-major: ``positions`` for resid_pre/attn_out/mlp_out, every head for head_out."""
    indices = site(site_name).indices(positions, n_heads)
    return [Cell(site_name, layer, index) for layer in range(n_layers) for index in indices]
