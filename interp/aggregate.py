"""Statistics over pairs: means of grids of different lengths, correlations and the report's findings.

Pure numpy; every function here is tested by hand-computed numbers (tests/unit/test_interp_aggregate.py).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np


def mean_std(rows: Sequence[np.ndarray]) -> dict[str, list[float]]:
    """Mean, standard deviation, min and max over rows (one row per pair), element-wise."""
    stack = np.stack([np.asarray(r, dtype=np.float64) for r in rows])
    return {"mean": stack.mean(0).tolist(), "std": stack.std(0).tolist(), "min": stack.min(0).tolist(), "max": stack.max(0).tolist()}


def aligned_mean(grids: Sequence[np.ndarray], n_tokens: Sequence[int], weights: Sequence[float], width: int | None = None) -> np.ndarray:
    """Weighted mean of ``[layer, cell]`` grids over the positions from the first clean/corrupted
    difference to the end, aligned on the last position: ``[layer, width]`` (default: the longest grid's).

    A grid of ``k`` columns from a prompt of ``n`` tokens covers its last ``k`` positions; its
    earlier positions are its shared prefix, where the effect is exactly zero, and count as 0.
    Columns before a prompt's first token do not exist for it and do not count (NaN where no
    grid has the column).
    """
    width = width or max(g.shape[1] for g in grids)
    total, weight = np.zeros((grids[0].shape[0], width)), np.zeros(width)
    for grid, n, w in zip(grids, n_tokens, weights):
        covered = min(width, n)  # columns this prompt has at all
        padded = np.zeros((grid.shape[0], covered))
        padded[:, covered - grid.shape[1] :] = grid
        total[:, width - covered :] += w * padded
        weight[width - covered :] += w
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(weight > 0, total / weight, np.nan)


def pearson(x: np.ndarray, y: np.ndarray) -> float | None:
    """Pearson's r over the finite entries, None when undefined (fewer than 2 points or a constant side)."""
    x, y = np.ravel(x), np.ravel(y)
    keep = np.isfinite(x) & np.isfinite(y)
    if keep.sum() < 2 or np.std(x[keep]) == 0 or np.std(y[keep]) == 0:
        return None
    return float(np.corrcoef(x[keep], y[keep])[0, 1])


_COMPONENT = re.compile(r"^(\d+)_(attn_out|mlp_out)$")


def attention_vs_mlp(per_layer: np.ndarray, labels: Sequence[str], skip_first_layer: bool = True) -> dict:
    """The notebook's summary: the DLA summed over attention outputs vs over MLP outputs (mean over
    pairs), and the MLPs' share of their sum. ``per_layer`` is ``[pairs, component]`` with the labels
    of ``ActivationCache.decompose_resid``; layer 0 is skipped by default, as the notebook did."""
    per_layer = np.atleast_2d(per_layer)
    sums = {"attn_out": 0.0, "mlp_out": 0.0}
    for column, label in enumerate(labels):
        match = _COMPONENT.match(label)
        if match and not (skip_first_layer and match.group(1) == "0"):
            sums[match.group(2)] += float(per_layer[:, column].mean())
    total = sums["attn_out"] + sums["mlp_out"]
    return {
        "attention": sums["attn_out"],
        "mlp": sums["mlp_out"],
        "mlp_share": sums["mlp_out"] / total if total != 0 else None,
        "skipped_layer_0": skip_first_layer,
    }


def component_name(label: str) -> str:
    """``"13_mlp_out"`` -> ``"MLP 13"``, ``"2_attn_out"`` -> ``"attention 2"``; other labels unchanged."""
    match = _COMPONENT.match(label)
    if not match:
        return label
    return f"{'MLP' if match.group(2) == 'mlp_out' else 'attention'} {match.group(1)}"


def largest_increase(per_layer_mean: np.ndarray, labels: Sequence[str]) -> dict:
    """The attention or MLP output that raises the answer direction most (the jump in the logit lens)."""
    candidates = [i for i, label in enumerate(labels) if _COMPONENT.match(label)]
    best = max(candidates, key=lambda i: per_layer_mean[i])
    return {"label": labels[best], "name": component_name(labels[best]), "value": float(per_layer_mean[best])}


def top_heads(per_head: np.ndarray, k: int) -> dict[str, list[tuple[int, int, float]]]:
    """The ``k`` most positive and most negative heads of a ``[layer, head]`` map: (layer, head, value)."""
    flat = per_head.ravel()
    order = np.argsort(flat, kind="stable")
    k = min(k, flat.size)
    as_cells = lambda idx: [(int(i // per_head.shape[1]), int(i % per_head.shape[1]), float(flat[i])) for i in idx]
    return {"positive": as_cells(order[::-1][:k]), "negative": as_cells(order[:k])}


def carrying_positions(resid_grid: np.ndarray, labels: Sequence[str], threshold: float = 0.5) -> list[dict]:
    """Positions whose clean residual restores at least ``threshold`` of the clean answer at some layer
    (``resid_grid`` normalized, ``[layer, position]``), with the layers where it does."""
    found = []
    for column, label in enumerate(labels):
        values = resid_grid[:, column]
        layers = np.flatnonzero(np.nan_to_num(values, nan=-np.inf) >= threshold)
        if layers.size:
            found.append({"position": label, "max": float(np.nanmax(values)), "from_layer": int(layers.min()), "to_layer": int(layers.max())})
    return found


# --------------------------------------------------------------------------------------------------
# The report's aggregates


def _position_labels(model: Any, study: Any, width: int) -> list[str]:
    """Labels of the last ``width`` positions, from one pair's tokens: ``-k tok`` (``clean/corrupted`` where they differ)."""
    clean, corrupted = model.str_tokens(study.pair.clean_tokens), model.str_tokens(study.pair.corrupted_tokens)
    n = len(clean)
    labels = []
    for k in range(width, 0, -1):
        i = n - k
        if i < 0:
            labels.append(f"-{k}")
            continue
        token = shown_token(clean[i]) if clean[i] == corrupted[i] else f"{shown_token(clean[i])}/{shown_token(corrupted[i])}"
        labels.append(f"-{k} {token}")
    return labels


def shown_token(token: str) -> str:
    """A token as an axis label: the tokenizers' space and newline markers as text, newlines and tabs visible."""
    token = token.replace("▁", " ").replace("Ġ", " ").replace("Ċ", "\n").replace("ĉ", "\t")
    return token.replace("\n", "\\n").replace("\t", "\\t")


def _weighted_grids(
    studies: Sequence[Any], grids: Sequence[dict[str, np.ndarray]], metric: str, sites: Sequence[str], width: int
) -> tuple[dict[str, list], int]:
    """Drop-weighted means (total recovered over total drop) of each site's grid over the pairs the corruption lowers."""
    keep = [i for i, study in enumerate(studies) if study.drop(metric) > 0]
    if not keep:
        return {}, 0
    weights = [studies[i].drop(metric) for i in keep]
    out = {}
    for site in sites:
        chosen = [grids[i][site] for i in keep]
        if site == "head_out":
            out[site] = (np.tensordot(weights, np.stack(chosen), axes=1) / sum(weights)).tolist()
        else:
            out[site] = aligned_mean(chosen, [studies[i].pair.n_tokens for i in keep], weights, width).tolist()
    return out, len(keep)


def summarize_studies(model: Any, studies: Sequence[Any], top_k: int) -> dict:
    """The report's aggregates over the studied pairs: ``{"dla", "patching", "findings"}`` (JSON-ready)."""
    from interp.answers import METRICS
    from interp.model import SITES

    first = studies[0].dla
    per_layer = np.stack([s.dla.per_layer for s in studies])
    per_head = np.stack([s.dla.per_head for s in studies])
    per_head_mean = per_head.mean(0)
    heads = top_heads(per_head_mean, top_k)
    dla = {
        "n_pairs": len(studies),
        "lens_labels": first.lens_labels,
        "layer_labels": first.layer_labels,
        "logit_lens": mean_std([s.dla.logit_lens for s in studies]),
        "per_layer": mean_std(list(per_layer)),
        "per_head_mean": per_head_mean.tolist(),
        "per_head_std": per_head.std(0).tolist(),
        "attention_vs_mlp": attention_vs_mlp(per_layer, first.layer_labels),
        "attention_vs_mlp_all_layers": attention_vs_mlp(per_layer, first.layer_labels, skip_first_layer=False),
        "largest_increase": largest_increase(per_layer.mean(0), first.layer_labels),
        "top_heads": heads,
    }

    exact = [s for s in studies if s.exact is not None]
    width = max(s.pair.n_tokens - s.pair.shared_prefix for s in studies)
    reference = exact[0] if exact else studies[0]
    exact_means, n_exact_in_mean = {}, {}
    for metric in METRICS:
        exact_means[metric], n_exact_in_mean[metric] = (
            _weighted_grids(exact, [s.exact[metric] for s in exact], metric, SITES, width) if exact else ({}, 0)
        )
    attribution_mean, n_attr = _weighted_grids(studies, [s.attribution for s in studies], "log_odds", SITES, width)
    correlation = {}
    if exact:  # on changes in nats: normalizing by small drops would let noisy pairs dominate
        for site in SITES:
            exact_nats = np.concatenate([(s.exact["log_odds"][site] * s.drop()).ravel() for s in exact])
            attribution_nats = np.concatenate([(s.attribution[site] * s.drop()).ravel() for s in exact])
            correlation[site] = pearson(exact_nats, attribution_nats)
    prefixes = [s.pair.shared_prefix for s in studies]
    patching = {
        "exact_pairs": [s.pair.pair_id for s in exact],
        "exact_methods": sorted({s.exact_method for s in exact}),
        "exact_fallback_reason": getattr(model, "replay_note", "") or None,
        "n_attribution_pairs": len(studies),
        "columns": _position_labels(model, reference, width),
        "column_reference_pair": reference.pair.pair_id,
        "shared_prefix_tokens": {"min": int(min(prefixes)), "max": int(max(prefixes))},
        "exact_mean": exact_means,
        "n_exact_in_mean": n_exact_in_mean,
        "attribution_mean": attribution_mean,
        "n_attribution_in_mean": n_attr,
        "correlation": correlation,
        "full_pair": reference.pair.pair_id if exact else None,
        "mean_positions": "aligned on the last token: column -k is k positions before the end; a pair's shared-prefix positions count as 0",
    }
    resid = exact_means["log_odds"].get("resid_pre") if exact else attribution_mean.get("resid_pre")
    findings = {
        "largest_increase": dla["largest_increase"],
        "mlp_share": dla["attention_vs_mlp"]["mlp_share"],
        "top_heads": heads["positive"],
        "positions_from": "exact patching" if exact else "attribution patching",
        "carrying_positions": carrying_positions(np.array(resid, dtype=float), patching["columns"]) if resid is not None else [],
    }
    return {"dla": dla, "patching": patching, "findings": findings}
