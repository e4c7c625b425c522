"""The report's figures of causal tracing and attention knockout, drawn from report.json's data (intervals as in
:mod:`interp.pages.figures`; every text from data through :func:`fk_bench.pages.plain_text`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from fk_bench.pages import plain_text
from interp.pages.figures import COLORS, as_array, band, heatmap, hover_ci

TRACE_TITLES = {"resid": "residual stream (resid_pre)", "mlp": "MLP output", "attn": "attention output", "resid_mlp_severed": "resid, MLPs severed"}


def tracing_figures(section: dict, model: dict) -> list[tuple[str, str, Any]]:
    """Causal tracing: restored fraction per layer x role (heatmaps, hover intervals), and the resid line of each role with its band."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    tracing = section.get("tracing")
    if not tracing or not tracing.get("sites"):
        return []
    n_layers = model["n_layers"]
    roles = [plain_text(r) for r in tracing["roles"]]
    kinds = [k for k in TRACE_TITLES if k in tracing["sites"]]
    fig = make_subplots(rows=1, cols=len(kinds), subplot_titles=[TRACE_TITLES[k] for k in kinds], horizontal_spacing=0.06)
    layers = [f"L{layer}" for layer in range(n_layers)]
    for col, kind in enumerate(kinds, start=1):
        site = tracing["sites"][kind]
        z = as_array(site["mean"])
        ci = site.get("ci") or {}
        custom = hover_ci(ci.get("low"), ci.get("high"), z.shape)
        style = {"colorscale": "Purples", "zmin": 0, "zmax": 1, "showscale": col == len(kinds), "colorbar": {"title": "restored"}}
        fig.add_trace(heatmap(z, roles, layers, custom, **style), row=1, col=col)
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(tickangle=-45)
    corruption = tracing.get("corruption", "")
    fig.update_layout(
        title=f"Causal tracing ({plain_text(corruption)}): share of the clean answer restored by one clean state, by layer and token role "
        f"(mean of {tracing['n_pairs']} pair(s); hover: 95% interval)",
        height=max(460, 22 * n_layers + 220),
    )
    caption = (
        "EXACT: each cell restores one clean state (a layer at one token role's positions) into the corrupted run; "
        "0 = the corrupted run, 1 = the clean one. "
        "Columns are token roles, so pairs of different lengths share them."
    )
    figs = [("tracing", caption, fig)]
    resid = tracing["sites"].get("resid")
    if resid is not None:
        z, ci = as_array(resid["mean"]), resid.get("ci") or {}
        low, high = (as_array(ci["low"]), as_array(ci["high"])) if ci.get("low") is not None else (None, None)
        traces = []
        for j, role in enumerate(roles):
            if not np.isfinite(z[:, j]).any() or np.nanmax(np.abs(z[:, j])) < 0.1:
                continue
            traces += band(
                list(range(n_layers)),
                z[:, j],
                None if low is None else low[:, j],
                None if high is None else high[:, j],
                COLORS[j % len(COLORS)],
                role,
            )
        if traces:
            line = go.Figure(traces)
            line.update_layout(
                title="Causal tracing of the residual stream per role, with 95% intervals", xaxis_title="layer", yaxis_title="restored", height=400
            )
            figs.append(("tracing", "Roles whose residual restores at least 10% at some layer.", line))
    return figs


def knockout_figures(section: dict, model: dict) -> list[tuple[str, str, Any]]:
    import plotly.graph_objects as go

    knockout = section.get("knockout")
    if not knockout or not knockout.get("drop"):
        return []
    traces = []
    for j, (role, entry) in enumerate(knockout["drop"].items()):
        mean = as_array(entry["mean"])
        ci = entry.get("ci") or {}
        traces += band(list(range(len(mean))), mean, ci.get("low"), ci.get("high"), COLORS[j % len(COLORS)], plain_text(role))
    fig = go.Figure(traces)
    fig.update_layout(
        title=f"Attention knockout: relative drop of the answer when the last position cannot attend to each role, "
        f"window of {knockout.get('window')} layers "
        f"(mean of {knockout['n_pairs']} pair(s), 95% intervals)",
        xaxis_title="layer (the window's centre)",
        yaxis_title="relative drop of p(True)",
        height=420,
    )
    caption = (
        "Geva et al. 2023: the last position's attention to a role's tokens is blocked over a window of layers; "
        "a large drop there means the fact flows from that role at those layers."
    )
    return [("knockout", caption, fig)]
