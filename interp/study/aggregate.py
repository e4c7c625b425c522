"""Statistics over pairs: means of grids of different lengths, correlations and the report's findings.

Pure numpy; every function here is tested by hand-computed numbers (tests/unit/test_interp_aggregate.py).
Every mean over pairs carries a bootstrap 95% interval over the pairs (:mod:`interp.core.bootstrap`), and
every headline (where the answer direction jumps, the MLPs' share, the top heads, the positions that
carry the fact) an :class:`interp.core.bootstrap.Interval` that says whether it is wide.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from interp.core.bootstrap import DEFAULT_SEED, N_RESAMPLES, interval, intervals_json, mean_intervals, pair_intervals


def mean_std(rows: Sequence[np.ndarray], seed: int | None = None, n_resamples: int = N_RESAMPLES) -> dict[str, Any]:
    """Mean, standard deviation, min and max over rows (one row per pair), element-wise; with ``seed``,
    also the bootstrap 95% interval of the mean (``ci``: ``{"low", "high"}``, None for one pair)."""
    stack = np.stack([np.asarray(r, dtype=np.float64) for r in rows])
    out: dict[str, Any] = {"mean": stack.mean(0).tolist(), "std": stack.std(0).tolist(), "min": stack.min(0).tolist(), "max": stack.max(0).tolist()}
    if seed is not None:
        out["ci"] = mean_intervals(stack, seed, n_resamples)
    return out


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
    studies: Sequence[Any],
    grids: Sequence[dict[str, np.ndarray]],
    metric: str,
    sites: Sequence[str],
    width: int,
    seed: int | None = None,
    n_resamples: int = N_RESAMPLES,
) -> tuple[dict[str, list], int, dict[str, dict | None]]:
    """Drop-weighted means (total recovered over total drop) of each site's grid over the pairs the
    corruption lowers, their number, and (with ``seed``) each mean's bootstrap interval over those pairs."""
    keep = [i for i, study in enumerate(studies) if study.drop(metric) > 0]
    if not keep:
        return {}, 0, {}
    weights = np.array([studies[i].drop(metric) for i in keep])
    n_tokens = [studies[i].pair.n_tokens for i in keep]
    out, intervals = {}, {}
    for site in sites:
        chosen = [np.asarray(grids[i][site], dtype=np.float64) for i in keep]

        def mean(index: np.ndarray, chosen: list[np.ndarray] = chosen, site: str = site) -> np.ndarray:
            if site == "head_out":
                return np.tensordot(weights[index], np.stack([chosen[i] for i in index]), axes=1) / weights[index].sum()
            return aligned_mean([chosen[i] for i in index], [n_tokens[i] for i in index], weights[index], width)

        out[site] = mean(np.arange(len(keep))).tolist()
        if seed is not None:
            found = pair_intervals(mean, len(keep), seed, n_resamples)
            intervals[site] = intervals_json(found)
    return out, len(keep), intervals


def component_layer(label: str) -> int | None:
    """``"13_mlp_out"`` -> 13; None for the embeddings."""
    match = _COMPONENT.match(label)
    return int(match.group(1)) if match else None


def jump(per_layer: np.ndarray, labels: Sequence[str], n_layers: int, seed: int = DEFAULT_SEED, n_resamples: int = N_RESAMPLES) -> dict:
    """Where the answer direction jumps (:func:`largest_increase` of the mean over pairs), as a layer, a
    fraction of the depth (``(layer + 1) / n_layers``: the share of the blocks run once it has acted),
    with the bootstrap intervals of its layer and of its value over pairs."""
    per_layer = np.atleast_2d(per_layer)
    found = largest_increase(per_layer.mean(0), labels)
    column = list(labels).index(found["label"])
    layer = component_layer(found["label"])
    n = per_layer.shape[0]

    def layer_of(index: np.ndarray) -> int | None:
        return component_layer(largest_increase(per_layer[index].mean(0), labels)["label"])

    layer_interval = interval(layer_of, n, "layer", n_layers, seed, n_resamples)
    value_interval = interval(lambda i: float(per_layer[i, column].mean()), n, "magnitude", None, seed, n_resamples)
    return {
        **found,
        "layer": layer,
        "fraction_of_depth": None if layer is None else (layer + 1) / n_layers,
        "layer_interval": layer_interval.to_json(),
        "value_interval": value_interval.to_json(),
    }


def mlp_share_interval(per_layer: np.ndarray, labels: Sequence[str], seed: int = DEFAULT_SEED, n_resamples: int = N_RESAMPLES) -> dict:
    """The MLPs' share of the DLA summed over attention and MLP outputs (layers >= 1), with its interval over pairs."""
    per_layer = np.atleast_2d(per_layer)
    found = interval(lambda i: attention_vs_mlp(per_layer[i], labels)["mlp_share"], per_layer.shape[0], "magnitude", None, seed, n_resamples)
    return found.to_json()


def head_intervals(
    per_head: np.ndarray, cells: Sequence[tuple[int, int, float]], seed: int = DEFAULT_SEED, n_resamples: int = N_RESAMPLES
) -> list[dict]:
    """The interval over pairs of each listed head's mean DLA (``per_head``: ``[pair, layer, head]``)."""
    out = []
    for layer, head, _ in cells:
        cell = per_head[:, layer, head]

        def mean(index: np.ndarray, cell: np.ndarray = cell) -> float:
            return float(cell[index].mean())

        found = interval(mean, per_head.shape[0], "magnitude", None, seed, n_resamples)
        out.append({"layer": layer, "head": head, **found.to_json()})
    return out


def carrying_with_intervals(resid: np.ndarray, labels: Sequence[str], ci: dict | None, n_pairs: int, threshold: float = 0.5) -> list[dict]:
    """:func:`carrying_positions`, each with the interval of the restored fraction at its peak layer (``ci``: the grid's ``{"low", "high"}``)."""
    from interp.core.bootstrap import Interval

    found = carrying_positions(resid, labels, threshold)
    low = None if ci is None else np.array(ci["low"], dtype=float)
    high = None if ci is None else np.array(ci["high"], dtype=float)
    for entry in found:
        column = list(labels).index(entry["position"])
        peak = int(np.nanargmax(resid[:, column]))
        lo = None if low is None or not np.isfinite(low[peak, column]) else float(low[peak, column])
        hi = None if high is None or not np.isfinite(high[peak, column]) else float(high[peak, column])
        entry["peak_layer"] = peak
        entry["interval"] = Interval(entry["max"], lo, hi, n_pairs, "magnitude").to_json()
    return found


def summarize_studies(model: Any, studies: Sequence[Any], top_k: int, seed: int = DEFAULT_SEED, n_resamples: int = N_RESAMPLES) -> dict:
    """The report's aggregates over the studied pairs: ``{"dla", "patching", "findings"}`` (JSON-ready), every
    mean with its bootstrap 95% interval over pairs (``seed``: the resampling's, recorded in the report's settings)."""
    dla, per_layer, per_head = _dla_summary(studies, top_k, seed, n_resamples)
    patching, (resid, resid_ci, n_resid) = _patching_summary(model, studies, seed, n_resamples)
    labels, heads = dla["layer_labels"], dla["top_heads"]
    exact, patched = patching["exact_pairs"], patching["n_attribution_pairs"]
    carrying = carrying_with_intervals(np.array(resid, dtype=float), patching["columns"], resid_ci, n_resid) if resid is not None else []
    findings = {
        "largest_increase": dla["largest_increase"],
        "jump": jump(per_layer, labels, model.n_layers, seed, n_resamples),
        "mlp_share": dla["attention_vs_mlp"]["mlp_share"],
        "mlp_share_interval": mlp_share_interval(per_layer, labels, seed, n_resamples),
        "top_heads": heads["positive"],
        "top_heads_intervals": head_intervals(per_head, heads["positive"], seed, n_resamples),
        "positions_from": "exact patching" if exact else "attribution patching" if patched else None,
        "carrying_positions": carrying,
    }
    return {"dla": dla, "patching": patching, "findings": findings}


def _dla_summary(studies: Sequence[Any], top_k: int, seed: int, n_resamples: int) -> tuple[dict, np.ndarray, np.ndarray]:
    """DLA over pairs (JSON-ready), and the per-pair per-layer ``[pair, component]`` and per-head ``[pair, layer, head]`` stacks."""
    first = studies[0].dla
    per_layer = np.stack([s.dla.per_layer for s in studies])
    per_head = np.stack([s.dla.per_head for s in studies])
    per_head_mean = per_head.mean(0)
    dla = {
        "n_pairs": len(studies),
        "lens_labels": first.lens_labels,
        "layer_labels": first.layer_labels,
        "logit_lens": mean_std([s.dla.logit_lens for s in studies], seed, n_resamples),
        "per_layer": mean_std(list(per_layer), seed, n_resamples),
        "per_head_mean": per_head_mean.tolist(),
        "per_head_std": per_head.std(0).tolist(),
        "per_head_ci": mean_intervals(per_head, seed, n_resamples),
        "attention_vs_mlp": attention_vs_mlp(per_layer, first.layer_labels),
        "attention_vs_mlp_all_layers": attention_vs_mlp(per_layer, first.layer_labels, skip_first_layer=False),
        "largest_increase": largest_increase(per_layer.mean(0), first.layer_labels),
        "top_heads": top_heads(per_head_mean, top_k),
    }
    return dla, per_layer, per_head


def _patching_summary(model: Any, studies: Sequence[Any], seed: int, n_resamples: int) -> tuple[dict[str, Any], tuple[Any, Any, int]]:
    """Exact and attribution patching over pairs (JSON-ready), and the resid_pre grid the carrying positions are
    read from: (mean, interval, pairs in the mean), exact patching's where there is one, else attribution's."""
    from interp.core.model import SITES

    exact = [s for s in studies if s.exact is not None]
    patched = [s for s in studies if s.attribution is not None]
    patching: dict[str, Any] = {
        "exact_pairs": [s.pair.pair_id for s in exact],
        "n_attribution_pairs": len(patched),
        "exact_methods": [],
        "exact_fallback_reason": None,
        "columns": [],
        "column_reference_pair": None,
        "shared_prefix_tokens": None,
        "exact_mean": {},
        "exact_ci": {},
        "n_exact_in_mean": {},
        "attribution_mean": {},
        "attribution_ci": {},
        "n_attribution_in_mean": 0,
        "correlation": {},
        "full_pair": None,
    }
    if not patched:
        return patching, (None, None, 0)
    width = max(s.pair.n_tokens - s.pair.shared_prefix for s in patched)
    reference = exact[0] if exact else patched[0]
    exact_means, n_exact_in_mean, exact_ci = _exact_means(exact, width, seed, n_resamples)
    attribution_mean, n_attr, attribution_ci = _weighted_grids(patched, [s.attribution for s in patched], "log_odds", SITES, width, seed, n_resamples)
    prefixes = [s.pair.shared_prefix for s in patched]
    patching.update(
        {
            "exact_methods": sorted({s.exact_method for s in exact}),
            "exact_fallback_reason": getattr(model, "replay_note", "") or None,
            "columns": _position_labels(model, reference, width),
            "column_reference_pair": reference.pair.pair_id,
            "shared_prefix_tokens": {"min": int(min(prefixes)), "max": int(max(prefixes))},
            "exact_mean": exact_means,
            "exact_ci": exact_ci.get("log_odds", {}),
            "n_exact_in_mean": n_exact_in_mean,
            "attribution_mean": attribution_mean,
            "attribution_ci": attribution_ci,
            "n_attribution_in_mean": n_attr,
            "correlation": _exact_vs_attribution(exact),
            "full_pair": reference.pair.pair_id if exact else None,
            "mean_positions": "aligned on the last token: column -k is k positions before the end; a pair's shared-prefix positions count as 0",
        }
    )
    if exact and exact_means["log_odds"]:
        return patching, (exact_means["log_odds"]["resid_pre"], exact_ci["log_odds"].get("resid_pre"), n_exact_in_mean["log_odds"])
    if attribution_mean:
        return patching, (attribution_mean["resid_pre"], attribution_ci.get("resid_pre"), n_attr)
    return patching, (None, None, 0)


def _exact_means(exact: Sequence[Any], width: int, seed: int, n_resamples: int) -> tuple[dict, dict, dict]:
    """Per metric: exact patching's weighted mean grids, pairs in them and intervals (log_odds only)."""
    from interp.core.answer_tokens import METRICS
    from interp.core.model import SITES

    means: dict[str, Any] = {}
    counts: dict[str, Any] = {}
    intervals: dict[str, Any] = {}
    for metric in METRICS:
        means[metric], counts[metric], intervals[metric] = (
            _weighted_grids(exact, [s.exact[metric] for s in exact], metric, SITES, width, seed if metric == "log_odds" else None, n_resamples)
            if exact
            else ({}, 0, {})
        )
    return means, counts, intervals


def _exact_vs_attribution(exact: Sequence[Any]) -> dict[str, float | None]:
    """Pearson's r of exact vs attribution patching per site, on changes in nats: normalizing by small drops
    would let noisy pairs dominate."""
    from interp.core.model import SITES

    correlation = {}
    for site in SITES if exact else ():
        exact_nats = np.concatenate([(s.exact["log_odds"][site] * s.drop()).ravel() for s in exact])
        attribution_nats = np.concatenate([(s.attribution[site] * s.drop()).ravel() for s in exact])
        correlation[site] = pearson(exact_nats, attribution_nats)
    return correlation
