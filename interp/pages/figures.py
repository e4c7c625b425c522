"""The report's plotly figures of DLA, attention patterns and patching, drawn from report.json's data (so a page can be rebuilt from it).

Every mean over pairs is drawn with its bootstrap 95% interval (:mod:`interp.core.bootstrap`): bands on
lines, error bars on bars, the interval in the hover text of heatmaps. Every text that comes from data
or the model (questions, tokens, ids, relation and model names) reaches plotly through
:func:`fk_bench.pages.plain_text`, so plotly shows it literally and renders no markup from it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fk_bench.pages import plain_text
from interp.study.aggregate import shown_token

SITE_TITLES = {"resid_pre": "resid_pre", "attn_out": "attn_out", "mlp_out": "mlp_out", "head_out": "attention heads (all positions)"}
PREFIX_COLOR = "#d9d9d9"
PATTERN_COLUMNS = 4
"""Attention-pattern subplots per row (any ``--top-k`` wraps into more rows)."""
MAX_PATTERN_HEADS = 8
"""At most this many heads of each sign get a pattern subplot (the top-k list in the text names them all)."""


def _token(text: str) -> str:
    """A token as plotly shows it: visible newlines, no markup."""
    return plain_text(shown_token(text))


def _prefix_label(tokens: int | dict) -> str:
    if isinstance(tokens, dict):
        span = f"{tokens['min']}" if tokens["min"] == tokens["max"] else f"{tokens['min']}-{tokens['max']}"
        return f"shared prefix ({span} tok.)"
    return f"shared prefix ({tokens} tok.)"


def as_array(values: Any) -> np.ndarray:
    """JSON lists (None for a missing value) or an array, as a float array (NaN for None)."""
    if isinstance(values, np.ndarray):
        return values.astype(float)
    return np.array(values, dtype=object).astype(float) if values is not None else np.array([], dtype=float)


def hover_ci(low: Any, high: Any, shape: tuple[int, ...]) -> np.ndarray | None:
    """``[..., 2]`` custom data of an interval's ends for a heatmap's hover text."""
    if low is None or high is None:
        return None
    lo, hi = as_array(low), as_array(high)
    if lo.shape != shape:
        return None
    return np.stack([lo, hi], axis=-1)


def heatmap(z: np.ndarray, x: list[str], y: list[str], ci: np.ndarray | None, **style: Any) -> Any:
    import plotly.graph_objects as go

    cells = z.astype(object)
    cells[~np.isfinite(z)] = None
    trace: dict[str, Any] = {"z": cells.tolist(), "x": x, "y": y, **style}
    if ci is not None:
        custom = np.round(ci, 4).astype(object)
        custom[~np.isfinite(ci)] = None
        trace["customdata"] = custom.tolist()
        trace["hovertemplate"] = "%{y}, %{x}: %{z:.3f}<br>95% interval [%{customdata[0]:.3f}, %{customdata[1]:.3f}]<extra></extra>"
    return go.Heatmap(**trace)


def _grid_figure(
    title: str,
    grids: dict[str, Any],
    columns: list[str],
    prefix: str,
    n_layers: int,
    sites: tuple[str, ...],
    intervals: dict[str, Any] | None = None,
) -> Any:
    """Side-by-side heatmaps ``[layer, cell]``; positional grids get a grey first column for the shared prefix."""
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=len(sites), subplot_titles=[SITE_TITLES[s] for s in sites], horizontal_spacing=0.05)
    layers = [f"L{layer}" for layer in range(n_layers)]
    for col, site in enumerate(sites, start=1):
        grid = as_array(grids[site])
        ci = intervals.get(site) if intervals else None
        if site == "head_out":
            z, x = grid, [f"H{h}" for h in range(grid.shape[1])]
            custom = hover_ci(ci["low"], ci["high"], z.shape) if ci else None
        else:
            pad = np.full((grid.shape[0], 1), np.nan)
            z = np.concatenate([pad, grid], axis=1)
            x = [prefix, *columns[-grid.shape[1] :]]
            custom = None
            if ci:
                inner = hover_ci(ci["low"], ci["high"], grid.shape)
                if inner is not None:
                    custom = np.concatenate([np.full((grid.shape[0], 1, 2), np.nan), inner], axis=1)
        style = {
            "colorscale": "RdBu",
            "zmid": 0,
            "zmin": -1,
            "zmax": 1,
            "showscale": col == len(sites),
            "colorbar": {"title": "0 = corrupted, 1 = clean"},
        }
        fig.add_trace(heatmap(z, x, layers, custom, **style), row=1, col=col)
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(tickangle=-60)
    fig.update_layout(title=title, height=max(460, 22 * n_layers + 220), plot_bgcolor=PREFIX_COLOR)
    return fig


def band(x: list, mean: np.ndarray, low: Any, high: Any, color: str, name: str) -> list:
    """A line with its 95% interval as a shaded band (no band without an interval)."""
    import plotly.graph_objects as go

    traces = []
    if low is not None and high is not None:
        lo, hi = as_array(low), as_array(high)
        traces.append(
            go.Scatter(
                x=list(x) + list(x)[::-1],
                y=list(hi) + list(lo[::-1]),
                fill="toself",
                line={"width": 0},
                fillcolor=color.replace("rgb", "rgba").replace(")", ",0.18)"),
                name=f"{name}: 95% interval",
                hoverinfo="skip",
                showlegend=True,
            )
        )
    traces.append(go.Scatter(x=list(x), y=mean.tolist(), mode="lines+markers", line={"color": color}, name=name))
    return traces


COLORS = ["rgb(31,119,180)", "rgb(255,127,14)", "rgb(44,160,44)", "rgb(214,39,40)", "rgb(148,103,189)", "rgb(140,86,75)", "rgb(227,119,194)"]


def dla_figures(section: dict, model: dict) -> list[tuple[str, str, Any]]:
    """The logit lens, per-layer DLA, per-head DLA and the top heads with their intervals."""
    dla = section["dla"]
    return [*_lens_figure(dla), *_per_layer_figure(dla), *_head_figure(dla, model["n_layers"]), *_top_heads_figure(section)]


def _lens_figure(dla: dict) -> list[tuple[str, str, Any]]:
    import plotly.graph_objects as go

    n_pairs = dla["n_pairs"]
    figs: list[tuple[str, str, Any]] = []
    lens, x = dla["logit_lens"], dla["lens_labels"]
    ci = lens.get("ci") or {}
    traces = [
        *band(x, np.array(lens["mean"]), ci.get("low"), ci.get("high"), COLORS[0], "mean"),
        go.Scatter(x=x, y=lens["min"], mode="lines", line={"dash": "dot", "color": "gray"}, name="min"),
        go.Scatter(x=x, y=lens["max"], mode="lines", line={"dash": "dot", "color": "gray"}, name="max"),
    ]
    fig = go.Figure(traces)
    fig.update_layout(
        title=f"Logit lens: the residual stream at the last position on the answer direction ({n_pairs} true questions)",
        xaxis_title="residual stream point",
        yaxis_title="logit_diff (True - False)",
        height=420,
    )
    figs.append(
        (
            "dla",
            "Logit lens: mean over the studied pairs' true questions, its bootstrap 95% interval (band), min and max. "
            "Its last point is the model's own logit_diff.",
            fig,
        )
    )
    return figs


def _per_layer_figure(dla: dict) -> list[tuple[str, str, Any]]:
    import plotly.graph_objects as go

    figs: list[tuple[str, str, Any]] = []
    labels, per_layer = dla["layer_labels"], dla["per_layer"]
    mean = np.array(per_layer["mean"])
    ci = per_layer.get("ci") or {}
    error: dict[str, Any] = {"type": "data", "array": np.zeros_like(mean).tolist()}
    if ci.get("low") is not None:
        high, low = as_array(ci["high"]), as_array(ci["low"])
        error = {"type": "data", "symmetric": False, "array": (high - mean).tolist(), "arrayminus": (mean - low).tolist()}
    colors = ["#7f7f7f" if "embed" in lab else "#1f77b4" if "attn" in lab else "#ff7f0e" for lab in labels]
    fig = go.Figure(go.Bar(x=labels, y=mean.tolist(), error_y=error, marker_color=colors))
    fig.update_layout(title="Per-layer DLA: embeddings (grey), attention (blue) and MLP (orange) outputs", yaxis_title="logit_diff", height=420)
    figs.append(
        ("dla", "Per-layer decomposition (mean over pairs, bars: bootstrap 95% interval); the bars sum to the final residual's projection.", fig)
    )
    return figs


def _head_figure(dla: dict, n_layers: int) -> list[tuple[str, str, Any]]:
    import plotly.graph_objects as go

    figs: list[tuple[str, str, Any]] = []
    per_head = np.array(dla["per_head_mean"])
    head_ci = dla.get("per_head_ci") or {}
    custom = hover_ci(head_ci.get("low"), head_ci.get("high"), per_head.shape)
    fig = go.Figure(
        heatmap(per_head, [f"H{h}" for h in range(per_head.shape[1])], [f"L{layer}" for layer in range(n_layers)], custom, colorscale="RdBu", zmid=0)
    )
    fig.update_layout(
        title="Per-head DLA at the last position (mean over pairs; hover: 95% interval)",
        xaxis_title="head",
        yaxis_title="layer",
        yaxis={"autorange": "reversed"},
        height=max(420, 22 * n_layers + 160),
    )
    figs.append(("heads", "Direct logit attribution of each attention head (after any post-attention norm, at its cached scale).", fig))
    return figs


def _top_heads_figure(section: dict) -> list[tuple[str, str, Any]]:
    import plotly.graph_objects as go

    figs: list[tuple[str, str, Any]] = []
    tops = section["findings"].get("top_heads_intervals") or []
    if tops:
        names = [f"L{t['layer']}H{t['head']}" for t in tops]
        values = np.array([t["estimate"] for t in tops], dtype=float)
        plus = [0.0 if t["high"] is None else t["high"] - t["estimate"] for t in tops]
        minus = [0.0 if t["low"] is None else t["estimate"] - t["low"] for t in tops]
        fig = go.Figure(
            go.Bar(
                x=names,
                y=values.tolist(),
                error_y={"type": "data", "symmetric": False, "array": plus, "arrayminus": minus},
                marker_color=["#d62728" if t["wide"] else "#1f77b4" for t in tops],
            )
        )
        fig.update_layout(title="Top heads by DLA: mean and bootstrap 95% interval (red: wide)", yaxis_title="logit_diff", height=380)
        figs.append(("heads", "The top heads' DLA with their intervals; a wide interval (red) is not a finding on these pairs.", fig))
    return figs


def pattern_figures(section: dict) -> list[tuple[str, str, Any]]:
    """Attention patterns of the top heads on the pattern pairs; any number of heads wraps into rows."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    dla = section["dla"]
    positive = dla["top_heads"]["positive"][:MAX_PATTERN_HEADS]
    negative = dla["top_heads"]["negative"][:MAX_PATTERN_HEADS]
    heads = [("+", *cell) for cell in positive] + [("−", *cell) for cell in negative]
    if not heads:
        return []
    figs = []
    for pair in section["pairs"]:
        if pair["patterns"] is None:
            continue
        patterns = {tuple(h): values for h, values in zip(pair["patterns"]["heads"], pair["patterns"]["values"])}
        start = pair.get("patterns_start", pair["shared_prefix"])
        tokens = [f"{i}:{_token(t)}" for i, t in enumerate(pair["clean_str_tokens"])]
        cols = min(PATTERN_COLUMNS, len(heads))
        rows = -(-len(heads) // cols)
        fig = make_subplots(
            rows=rows,
            cols=cols,
            subplot_titles=[f"{sign} L{layer}H{head} ({value:+.2f})" for sign, layer, head, value in heads],
            horizontal_spacing=min(0.08, 0.5 / cols),
            vertical_spacing=min(0.2, 0.6 / rows),
        )
        for i, (_, layer, head, _) in enumerate(heads):
            fig.add_trace(
                go.Heatmap(z=patterns[layer, head], x=tokens, y=tokens[start:], colorscale="Blues", zmin=0, zmax=1, showscale=i == 0),
                row=i // cols + 1,
                col=i % cols + 1,
            )
        fig.update_yaxes(autorange="reversed")
        fig.update_layout(
            title=f"Attention of the top heads on {plain_text(pair['clean_id'])}: {plain_text(repr(pair['clean_question']))} "
            "(rows: queries; columns: keys)",
            height=max(500, 380 * rows),
        )
        caption = f"Top {len(positive)} positive and {len(negative)} negative heads by DLA, on pair {pair['pair_id']}'s true question."
        figs.append(("heads", caption, fig))
    return figs


def patching_figures(section: dict, model: dict) -> list[tuple[str, str, Any]]:
    """Exact and attribution patching's mean grids, one pair in full, and attribution vs exact."""

    patching, n_layers = section["patching"], model["n_layers"]
    figs: list[tuple[str, str, Any]] = []
    if not patching.get("columns"):
        return figs
    columns, prefix = [plain_text(c) for c in patching["columns"]], _prefix_label(patching["shared_prefix_tokens"])
    sites = ("resid_pre", "attn_out", "mlp_out", "head_out")
    if patching["exact_mean"].get("log_odds"):
        n = patching["n_exact_in_mean"]["log_odds"]
        fig = _grid_figure(
            f"Exact activation patching, clean → corrupted: normalized log_odds (drop-weighted mean of {n} pair(s); hover: 95% interval)",
            patching["exact_mean"]["log_odds"],
            columns,
            prefix,
            n_layers,
            sites,
            patching.get("exact_ci"),
        )
        caption = (
            f"EXACT: every cell is a patched forward pass. Positions aligned on the last token, labelled with the tokens of "
            f"{patching['column_reference_pair']}; the grey column is the shared prefix, identical in both runs: "
            "its effect is exactly 0 and it is not computed."
        )
        figs.append(("patching", caption, fig))
    if patching["attribution_mean"]:
        n = patching["n_attribution_in_mean"]
        fig = _grid_figure(
            f"Attribution patching (gradient estimate), clean → corrupted: normalized log_odds (drop-weighted mean of {n} pair(s))",
            patching["attribution_mean"],
            columns,
            prefix,
            n_layers,
            sites,
            patching.get("attribution_ci"),
        )
        figs.append(
            (
                "patching",
                "ESTIMATE: (clean − corrupted activation) · gradient at the corrupted run, one forward and one backward per pair, "
                "on every same-length pair.",
                fig,
            )
        )
    figs += _full_pair_figure(section, n_layers, sites)
    figs += _correlation_figure(section, sites)
    return figs


def _full_pair_figure(section: dict, n_layers: int, sites: tuple[str, ...]) -> list[tuple[str, str, Any]]:
    patching = section["patching"]
    figs: list[tuple[str, str, Any]] = []
    full = next((p for p in section["pairs"] if p["pair_id"] == patching.get("full_pair")), None)
    if full is not None:
        start = full["shared_prefix"]
        tokens = [
            f"{i}:{_token(a)}" if a == b else f"{i}:{_token(a)}/{_token(b)}"
            for i, (a, b) in enumerate(zip(full["clean_str_tokens"], full["corrupted_str_tokens"]))
        ][start:]
        drop = full["clean"]["log_odds"] - full["corrupted"]["log_odds"]
        fig = _grid_figure(
            f"Exact patching on {plain_text(full['pair_id'])}: {plain_text(repr(full['clean_question']))} "
            f"→ {plain_text(repr(full['corrupted_question']))} "
            f"(normalized log_odds; drop {drop:.2f} nats)",
            full["exact"]["log_odds"],
            tokens,
            _prefix_label(start),
            n_layers,
            sites[:3],
        )
        figs.append(
            ("patching", "One pair in full (EXACT), the pair with the largest evaluator margin; tokens shown clean/corrupted where they differ.", fig)
        )
    return figs


def _correlation_figure(section: dict, sites: tuple[str, ...]) -> list[tuple[str, str, Any]]:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    patching = section["patching"]
    figs: list[tuple[str, str, Any]] = []
    if patching.get("correlation"):
        exact_pairs = [p for p in section["pairs"] if p["exact"] is not None and p["attribution_log_odds"] is not None]
        fig = make_subplots(
            rows=1,
            cols=4,
            subplot_titles=[f"{s}: r = {'n/a' if r is None else f'{r:.3f}'}" for s, r in patching["correlation"].items()],
            horizontal_spacing=0.06,
        )
        for col, site in enumerate(sites, start=1):
            drops = [p["clean"]["log_odds"] - p["corrupted"]["log_odds"] for p in exact_pairs]
            exact = np.concatenate([d * np.ravel(p["exact"]["log_odds"][site]) for p, d in zip(exact_pairs, drops)])
            approx = np.concatenate([d * np.ravel(p["attribution_log_odds"][site]) for p, d in zip(exact_pairs, drops)])
            fig.add_trace(
                go.Scatter(x=exact.tolist(), y=approx.tolist(), mode="markers", marker={"size": 4, "opacity": 0.6}, showlegend=False), row=1, col=col
            )
            fig.update_xaxes(title_text="exact", row=1, col=col)
        fig.update_yaxes(title_text="attribution estimate", col=1)
        fig.update_layout(
            title="Attribution patching vs exact patching: change in log_odds (nats) over the corrupted run, every cell of the exact pairs",
            height=420,
        )
        figs.append(("attribution", "Each point is one cell of one pair; r is Pearson's correlation.", fig))
    return figs
