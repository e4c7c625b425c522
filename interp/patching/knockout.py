"""Attention knockout (Geva et al. 2023, "Dissecting Recall of Factual Associations in Auto-Regressive
Language Models"): how the fact reaches the last position.

For each target (the subject, object or relation tokens, :func:`knockout_targets`) and each layer
``l``, the last position may not attend to the target's positions in the window of ``k`` layers
around ``l`` (:func:`interp.core.edits.layer_window`: ``l - k // 2`` to ``l + ceil(k / 2)`` exclusive,
clipped). The block is pre-softmax: the blocked keys' scores become -inf in the bridge's
``attn.hook_attn_scores`` (which every attention bridge of the families tested applies inside its
own softmax; :func:`check_scores_hookable` probes it once per model) and the other keys'
weights renormalize. The effect is read at the last position: :meth:`KnockoutGrids.relative_change`,
the paper's ``(knocked - clean) / clean``, per window centre.

Window size (:func:`default_window`): 9 as in the paper (GPT-J, 28 layers; GPT-2 XL, 48) for models
of 28 layers or more; shallower models keep the same share of their depth, 9/28, rounded to the
nearest odd number, at least 1 (18 layers -> 5, 2 layers -> 1).

Cheap: blocking the last position's attention changes no other position (the model is causal), so
every row runs the last position alone, after the clean run's keys and values of the positions
before it, joining at its window's first layer (a layer sweep, :mod:`interp.core.runner`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from fk_bench.errors import FkBenchError
from interp.core.corruption import TokenRoles
from interp.core.edits import Knockout, RowSpec, edit_hooks, layer_window
from interp.core.model import InterpModel
from interp.core.runner import DEFAULT_MAX_ROWS, prefix_up_to, run_patched
from interp.patching.activation_patching import FULL_FORWARDS, PROBE_PROMPT, PatchMethod, as_method, swept_rows

KNOCKOUT_TARGETS: tuple[str, ...] = ("subject", "object", "relation")
PAPER_WINDOW = 9
PAPER_DEPTH = 28
"""Geva et al.'s window, and the depth of the shallowest model they used it on (GPT-J)."""


def default_window(n_layers: int) -> int:
    """9 for models of 28 layers or more; else the nearest odd number to 9 x n_layers / 28, at least 1."""
    if n_layers >= PAPER_DEPTH:
        return PAPER_WINDOW
    share = PAPER_WINDOW * n_layers / PAPER_DEPTH
    return max(1, 2 * round((share - 1) / 2) + 1)


def knockout_targets(roles: TokenRoles, names: Sequence[str] = KNOCKOUT_TARGETS) -> dict[str, tuple[int, ...]]:
    """The positions of each target role (the last position itself is never a target of these roles)."""
    return {name: roles.positions(name) for name in names}


@dataclass
class KnockoutGrids:
    """Answer logits with each target blocked around each layer: ``logits[target]`` ``[centre, n_words]``
    (row ``i``: the window centred on layer ``centres[i]``, every layer by default), and the clean run's ``[n_words]``. Targets without
    positions are listed in ``missing`` and have no grid."""

    targets: dict[str, tuple[int, ...]]
    window: int
    logits: dict[str, torch.Tensor]
    clean: torch.Tensor
    missing: tuple[str, ...]
    method: str
    reason: str
    centres: tuple[int, ...] = ()

    def relative_change(self, metric: Callable[[torch.Tensor], torch.Tensor]) -> dict[str, np.ndarray]:
        """``(knocked - clean) / |clean|`` of ``metric`` (answer logits -> value) per target and window centre
        (the paper's quantity on its probability; negative = the answer drops). A clean value of 0 gives NaN."""
        clean = float(metric(self.clean.double()))
        with np.errstate(divide="ignore", invalid="ignore"):
            return {name: (metric(grid.double()).cpu().numpy() - clean) / abs(clean) for name, grid in self.logits.items()}

    def to_json(self) -> dict:
        return {
            "targets": {name: list(p) for name, p in self.targets.items()},
            "window": self.window,
            "centres": list(self.centres),
            "missing": list(self.missing),
            "method": self.method,
            "reason": self.reason,
        }


@torch.no_grad()
def check_scores_hookable(model: InterpModel) -> None:
    """Make sure an edit of ``attn.hook_attn_scores`` reaches the softmax on this model (once per model):
    block the probe prompt's last position from key 1 at layer 0 and read the pattern. An FkBenchError
    naming the architecture otherwise (an attention bridge that fires the hook after the fact)."""
    if getattr(model, "_scores_hookable", False):
        return
    tokens = model.tensor(model.tokens(PROBE_PROMPT))[None]
    hooks = edit_hooks([Knockout(0, (1,))], {}, 0, tokens.shape[1])
    pattern_name = "blocks.0.attn.hook_pattern"
    with model.bridge.hooks(fwd_hooks=hooks):
        _, cache = model.bridge.run_with_cache(tokens, names_filter=pattern_name, stop_at_layer=1)
    last = cache[pattern_name][0, :, -1].float()
    if not (bool((last[:, 1] == 0).all()) and torch.allclose(last.sum(-1), torch.ones_like(last[:, 0]), atol=1e-4)):
        raise FkBenchError(
            f"attention knockout: {model.architecture}'s attention bridge does not apply hook_attn_scores before its softmax; "
            "edges cannot be blocked on this model"
        )
    object.__setattr__(model, "_scores_hookable", True)


@torch.no_grad()
def knockout(
    model: InterpModel,
    tokens: Sequence[int],
    targets: Mapping[str, Sequence[int]],
    answer_ids: torch.Tensor,
    window: int | None = None,
    method: PatchMethod | str | None = None,
    max_rows: int = DEFAULT_MAX_ROWS,
    prefix: Any = None,
    centres: Sequence[int] | None = None,
) -> KnockoutGrids:
    """Attention knockout on the prompt ``tokens`` (the clean question): for each target (name -> absolute
    key positions, e.g. :func:`knockout_targets`) and each window centre, the answer logits with the last
    position's attention to the target blocked over the window. ``window``: None = :func:`default_window`;
    ``centres``: the window centres (default every layer; the grids' rows follow them).

    ``prefix``: a cache of the clean prompt's first positions the caller already has (e.g. the shared
    prefix of a report's batch, :func:`interp.core.runner.prefix_cache`), at most ``len(tokens) - 1`` long,
    not modified: only the positions after it run to complete it. Cost with layer sweeps: that
    completion, one forward of the last position, and one sweep of that position alone, each row
    joining at its window's first layer.
    """
    n_layers = model.n_layers
    size = default_window(n_layers) if window is None else int(window)
    tokens_t = model.tensor(list(tokens))
    n = tokens_t.shape[0]
    if n < 2 or size < 1:
        raise FkBenchError(f"attention knockout: a prompt of {n} tokens and a window of {size} layers (needs 2 tokens and 1 layer)")
    outside = {name: [p for p in keys if not 0 <= p < n] for name, keys in targets.items()}
    if any(outside.values()):
        raise FkBenchError(f"attention knockout: target positions outside the prompt of {n} tokens: {outside}")
    middles = list(range(n_layers)) if centres is None else [int(c) for c in centres]
    if any(not 0 <= c < n_layers for c in middles):
        raise FkBenchError(f"attention knockout: window centres {middles} outside the model's {n_layers} layers")
    check_scores_hookable(model)
    chosen = as_method(model, method)
    kept = {name: tuple(sorted(set(int(p) for p in keys))) for name, keys in targets.items() if len(keys) > 0}
    window_of = lambda centre, keys: [Knockout(layer, keys) for layer in layer_window(centre, size, n_layers)]
    rows: list[RowSpec] = [window_of(centre, keys) for keys in kept.values() for centre in middles]
    prefix = prefix_up_to(model, tokens_t, n - 1, prefix, "attention knockout")  # every position but the last
    if chosen.name == FULL_FORWARDS:
        logits = run_patched(model, tokens_t, {}, [None, *rows], answer_ids, n - 1, prefix, max_rows)
        values, clean = logits[1:], logits[0]
    else:
        values, clean = swept_rows(model, tokens_t, n - 1, prefix, rows, answer_ids, {})
    grids = {name: values[i * len(middles) : (i + 1) * len(middles)] for i, name in enumerate(kept)}
    missing = tuple(name for name in targets if name not in kept)
    return KnockoutGrids(dict(kept), size, grids, clean.float(), missing, chosen.name, chosen.reason, tuple(middles))
