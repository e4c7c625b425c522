"""Causal tracing and attention knockout over pairs, by token role: means with bootstrap intervals and the roles
(and layers) that carry the fact. Pure numpy, tested by hand-computed numbers (tests/unit/test_interp_aggregate.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from interp.core.bootstrap import DEFAULT_SEED, N_RESAMPLES, interval, intervals_json, json_ready, mean_intervals, pair_intervals
from interp.study.aggregate import carrying_with_intervals


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
    from interp.study.pair_studies import ROLE_COLUMNS, TRACE_GRID_NAMES

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
