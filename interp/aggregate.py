"""Statistics over pairs: means of grids of different lengths, correlations and the report's findings.

Pure numpy; every function here is tested by hand-computed numbers (tests/unit/test_interp_aggregate.py).
Every mean over pairs carries a bootstrap 95% interval over the pairs (:mod:`interp.bootstrap`), and
every headline (where the answer direction jumps, the MLPs' share, the top heads, the positions that
carry the fact) an :class:`interp.bootstrap.Interval` that says whether it is wide.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from interp.bootstrap import DEFAULT_SEED, N_RESAMPLES, interval, intervals_json, json_ready, mean_intervals, pair_intervals


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
    from interp.bootstrap import Interval

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
    from interp.answers import METRICS
    from interp.model import SITES

    first = studies[0].dla
    per_layer = np.stack([s.dla.per_layer for s in studies])
    per_head = np.stack([s.dla.per_head for s in studies])
    per_head_mean = per_head.mean(0)
    heads = top_heads(per_head_mean, top_k)
    head_ci = mean_intervals(per_head, seed, n_resamples)
    dla = {
        "n_pairs": len(studies),
        "lens_labels": first.lens_labels,
        "layer_labels": first.layer_labels,
        "logit_lens": mean_std([s.dla.logit_lens for s in studies], seed, n_resamples),
        "per_layer": mean_std(list(per_layer), seed, n_resamples),
        "per_head_mean": per_head_mean.tolist(),
        "per_head_std": per_head.std(0).tolist(),
        "per_head_ci": head_ci,
        "attention_vs_mlp": attention_vs_mlp(per_layer, first.layer_labels),
        "attention_vs_mlp_all_layers": attention_vs_mlp(per_layer, first.layer_labels, skip_first_layer=False),
        "largest_increase": largest_increase(per_layer.mean(0), first.layer_labels),
        "top_heads": heads,
    }

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
    resid, resid_ci, n_resid, columns = None, None, 0, []
    if patched:
        width = max(s.pair.n_tokens - s.pair.shared_prefix for s in patched)
        reference = exact[0] if exact else patched[0]
        exact_means, n_exact_in_mean, exact_ci = {}, {}, {}
        for metric in METRICS:
            exact_means[metric], n_exact_in_mean[metric], exact_ci[metric] = (
                _weighted_grids(exact, [s.exact[metric] for s in exact], metric, SITES, width, seed if metric == "log_odds" else None, n_resamples)
                if exact
                else ({}, 0, {})
            )
        attribution_mean, n_attr, attribution_ci = _weighted_grids(
            patched, [s.attribution for s in patched], "log_odds", SITES, width, seed, n_resamples
        )
        correlation = {}
        if exact:  # on changes in nats: normalizing by small drops would let noisy pairs dominate
            for site in SITES:
                exact_nats = np.concatenate([(s.exact["log_odds"][site] * s.drop()).ravel() for s in exact])
                attribution_nats = np.concatenate([(s.attribution[site] * s.drop()).ravel() for s in exact])
                correlation[site] = pearson(exact_nats, attribution_nats)
        prefixes = [s.pair.shared_prefix for s in patched]
        columns = _position_labels(model, reference, width)
        patching.update(
            {
                "exact_methods": sorted({s.exact_method for s in exact}),
                "exact_fallback_reason": getattr(model, "replay_note", "") or None,
                "columns": columns,
                "column_reference_pair": reference.pair.pair_id,
                "shared_prefix_tokens": {"min": int(min(prefixes)), "max": int(max(prefixes))},
                "exact_mean": exact_means,
                "exact_ci": exact_ci.get("log_odds", {}),
                "n_exact_in_mean": n_exact_in_mean,
                "attribution_mean": attribution_mean,
                "attribution_ci": attribution_ci,
                "n_attribution_in_mean": n_attr,
                "correlation": correlation,
                "full_pair": reference.pair.pair_id if exact else None,
                "mean_positions": "aligned on the last token: column -k is k positions before the end; a pair's shared-prefix positions count as 0",
            }
        )
        if exact and exact_means["log_odds"]:
            resid, resid_ci, n_resid = exact_means["log_odds"]["resid_pre"], exact_ci["log_odds"].get("resid_pre"), n_exact_in_mean["log_odds"]
        elif attribution_mean:
            resid, resid_ci, n_resid = attribution_mean["resid_pre"], attribution_ci.get("resid_pre"), n_attr
    n_layers = model.n_layers
    findings = {
        "largest_increase": dla["largest_increase"],
        "jump": jump(per_layer, first.layer_labels, n_layers, seed, n_resamples),
        "mlp_share": dla["attention_vs_mlp"]["mlp_share"],
        "mlp_share_interval": mlp_share_interval(per_layer, first.layer_labels, seed, n_resamples),
        "top_heads": heads["positive"],
        "top_heads_intervals": head_intervals(per_head, heads["positive"], seed, n_resamples),
        "positions_from": "exact patching" if exact else "attribution patching" if patched else None,
        "carrying_positions": carrying_with_intervals(np.array(resid, dtype=float), columns, resid_ci, n_resid) if resid is not None else [],
    }
    return {"dla": dla, "patching": patching, "findings": findings}


# --------------------------------------------------------------------------------------------------
# Causal tracing and attention knockout, by token role


def _weighted_nanmean(stack: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted mean over axis 0 that skips NaN (a role a pair's prompt does not have); NaN where no pair has it."""
    present = np.isfinite(stack)
    w = weights.reshape((-1,) + (1,) * (stack.ndim - 1)) * present
    with np.errstate(invalid="ignore", divide="ignore"):
        total = np.where(present, stack, 0.0) * w
        return np.where(w.sum(0) > 0, total.sum(0) / w.sum(0), np.nan)


def tracing_summary(traces: Sequence[Any], corruption: dict, seed: int = DEFAULT_SEED, n_resamples: int = N_RESAMPLES) -> dict | None:
    """Causal tracing over pairs by token role: per grid the drop-weighted mean ``[layer, role]`` (total restored over
    total drop, as the patching means) and its bootstrap interval; the roles whose residual restores >= 50%."""
    from interp.study import ROLE_COLUMNS, TRACE_GRID_NAMES

    if not traces:
        return None
    keep = [t for t in traces if t.drop > 0]
    base = {
        "corruption": corruption.get("kind"),
        "n_pairs_traced": len(traces),
        "n_pairs": len(keep),
        "pairs": [t.pair_id for t in keep],
        "excluded_no_drop": [t.pair_id for t in traces if t.drop <= 0],
        "mean": "drop-weighted (total restored over total drop), by token role: each role the mean of its positions",
    }
    if not keep:
        return {**base, "roles": [], "sites": {}, "carrying_roles": []}
    tables = [t.by_role() for t in keep]
    weights = np.array([t.drop for t in keep])
    present = [j for j in range(len(ROLE_COLUMNS)) if any(np.isfinite(table["resid_pre"][:, j]).any() for table in tables)]
    roles = [ROLE_COLUMNS[j] for j in present]
    sites: dict[str, dict[str, Any]] = {}
    for site, name in TRACE_GRID_NAMES.items():
        if site not in tables[0]:
            continue
        stack = np.stack([table[site][:, present] for table in tables])

        def mean(index: np.ndarray, stack: np.ndarray = stack) -> np.ndarray:
            return _weighted_nanmean(stack[index], weights[index])

        found = pair_intervals(mean, len(keep), seed, n_resamples)
        sites[name] = {
            "mean": json_ready(mean(np.arange(len(keep)))),
            "ci": intervals_json(found),
        }
    resid = np.array(sites["resid"]["mean"], dtype=object).astype(float)
    carrying = carrying_with_intervals(resid, roles, sites["resid"]["ci"], len(keep))
    for entry in carrying:
        entry["role"] = entry.pop("position")
    return {**base, "roles": roles, "sites": sites, "carrying_roles": carrying}


def knockout_summary(knockouts: Sequence[Any], n_layers: int, seed: int = DEFAULT_SEED, n_resamples: int = N_RESAMPLES) -> dict | None:
    """Attention knockout over pairs: per target role the mean relative drop of p(True) per window centre with its
    interval, and the peak (the role and layer of the largest mean drop) with the intervals of its drop and its layer."""
    from interp.bootstrap import interval

    if not knockouts:
        return None
    roles = [role for role in ("subject", "object", "relation") if any(role in k.drop for k in knockouts)]
    stacks = {role: np.stack([k.drop.get(role, np.full(n_layers, np.nan)) for k in knockouts]).astype(float) for role in roles}
    n = len(knockouts)
    drop: dict[str, dict[str, Any]] = {}
    for role, stack in stacks.items():
        with np.errstate(all="ignore"):
            mean = np.nanmean(stack, axis=0)
        drop[role] = {"mean": json_ready(mean), "ci": mean_intervals(stack, seed, n_resamples), "n_pairs": int(np.isfinite(stack).all(1).sum())}
    peak = None
    means = {role: np.array(entry["mean"], dtype=object).astype(float) for role, entry in drop.items()}
    finite = {role: m for role, m in means.items() if np.isfinite(m).any()}
    if finite:
        role = max(finite, key=lambda r: np.nanmax(finite[r]))
        layer = int(np.nanargmax(finite[role]))
        stack = stacks[role]

        def peak_layer(index: np.ndarray) -> float | None:
            with np.errstate(all="ignore"):
                values = np.nanmean(stack[index], axis=0)
            return float(np.nanargmax(values)) if np.isfinite(values).any() else None

        def peak_drop(index: np.ndarray) -> float | None:
            values = stack[index, layer]
            values = values[np.isfinite(values)]
            return float(values.mean()) if values.size else None

        peak = {
            "role": role,
            "layer": layer,
            "fraction_of_depth": (layer + 1) / n_layers,
            "drop": interval(peak_drop, n, "magnitude", None, seed, n_resamples).to_json(),
            "layer_interval": interval(peak_layer, n, "layer", n_layers, seed, n_resamples).to_json(),
        }
    return {
        "window": knockouts[0].window,
        "n_pairs": n,
        "roles": roles,
        "drop": drop,
        "peak": peak,
        "quantity": "relative drop of p(True answer group), (clean - knocked) / clean, per window centre",
    }
