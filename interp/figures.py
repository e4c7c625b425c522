"""The report's plotly figures and its page, all drawn from report.json's data (so a page can be rebuilt from it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from interp.aggregate import shown_token

TEMPLATES = Path(__file__).parent / "templates"
SITE_TITLES = {"resid_pre": "resid_pre", "attn_out": "attn_out", "mlp_out": "mlp_out", "head_out": "attention heads (all positions)"}
PREFIX_COLOR = "#d9d9d9"


def _prefix_label(tokens: int | dict) -> str:
    if isinstance(tokens, dict):
        span = f"{tokens['min']}" if tokens["min"] == tokens["max"] else f"{tokens['min']}-{tokens['max']}"
        return f"shared prefix ({span} tok.)"
    return f"shared prefix ({tokens} tok.)"


def _grid_figure(title: str, grids: dict[str, Any], columns: list[str], prefix: str, n_layers: int, sites: tuple[str, ...]) -> Any:
    """Side-by-side heatmaps ``[layer, cell]``; positional grids get a grey first column for the shared prefix."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=len(sites), subplot_titles=[SITE_TITLES[s] for s in sites], horizontal_spacing=0.05)
    layers = [f"L{layer}" for layer in range(n_layers)]
    for col, site in enumerate(sites, start=1):
        grid = np.array(grids[site], dtype=float)
        if site == "head_out":
            z, x = grid, [f"H{h}" for h in range(grid.shape[1])]
        else:
            z = np.concatenate([np.full((grid.shape[0], 1), np.nan), grid], axis=1)
            x = [prefix, *columns[-grid.shape[1] :]]
        z = np.where(np.isfinite(z), z, None)
        fig.add_trace(
            go.Heatmap(
                z=z.tolist(),
                x=x,
                y=layers,
                colorscale="RdBu",
                zmid=0,
                zmin=-1,
                zmax=1,
                showscale=col == len(sites),
                colorbar={"title": "0 = corrupted, 1 = clean"},
            ),
            row=1,
            col=col,
        )
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(tickangle=-60)
    fig.update_layout(title=title, height=max(460, 22 * n_layers + 220), plot_bgcolor=PREFIX_COLOR)
    return fig


def figures(data: dict) -> list[tuple[str, str, Any]]:
    """(section, caption, plotly figure) for every figure of the report."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    dla, patching, model = data["dla"], data["patching"], data["model"]
    n_layers, n_pairs = model["n_layers"], dla["n_pairs"]
    figs: list[tuple[str, str, Any]] = []

    lens, x = dla["logit_lens"], dla["lens_labels"]
    mean, std = np.array(lens["mean"]), np.array(lens["std"])
    fig = go.Figure(
        [
            go.Scatter(
                x=x + x[::-1],
                y=list(mean + std) + list((mean - std)[::-1]),
                fill="toself",
                line={"width": 0},
                fillcolor="rgba(31,119,180,0.2)",
                name="± 1 std",
                hoverinfo="skip",
            ),
            go.Scatter(x=x, y=lens["min"], mode="lines", line={"dash": "dot", "color": "gray"}, name="min"),
            go.Scatter(x=x, y=lens["max"], mode="lines", line={"dash": "dot", "color": "gray"}, name="max"),
            go.Scatter(x=x, y=mean.tolist(), mode="lines+markers", line={"color": "#1f77b4"}, name="mean"),
        ]
    )
    fig.update_layout(
        title=f"Logit lens: the residual stream at the last position on the answer direction ({n_pairs} true questions)",
        xaxis_title="residual stream point",
        yaxis_title="logit_diff (True - False)",
        height=420,
    )
    figs.append(
        (
            "dla",
            "Logit lens: mean, ±1 std band, min and max over the studied pairs' true questions. Its last point is the model's own logit_diff.",
            fig,
        )
    )

    labels, per_layer = dla["layer_labels"], dla["per_layer"]
    colors = ["#7f7f7f" if "embed" in lab else "#1f77b4" if "attn" in lab else "#ff7f0e" for lab in labels]
    fig = go.Figure(go.Bar(x=labels, y=per_layer["mean"], error_y={"type": "data", "array": per_layer["std"]}, marker_color=colors))
    fig.update_layout(title="Per-layer DLA: embeddings (grey), attention (blue) and MLP (orange) outputs", yaxis_title="logit_diff", height=420)
    figs.append(("dla", "Per-layer decomposition (mean ± std over pairs); the bars sum to the final residual's projection.", fig))

    per_head = np.array(dla["per_head_mean"])
    fig = go.Figure(
        go.Heatmap(
            z=per_head.tolist(),
            x=[f"H{h}" for h in range(per_head.shape[1])],
            y=[f"L{l}" for l in range(n_layers)],
            colorscale="RdBu",
            zmid=0,
            colorbar={"title": "logit_diff"},
        )
    )
    fig.update_layout(
        title="Per-head DLA at the last position (mean over pairs)",
        xaxis_title="head",
        yaxis_title="layer",
        yaxis={"autorange": "reversed"},
        height=max(420, 22 * n_layers + 160),
    )
    figs.append(("heads", "Direct logit attribution of each attention head (after any post-attention norm, at its cached scale).", fig))

    heads = [("+", *cell) for cell in dla["top_heads"]["positive"]] + [("−", *cell) for cell in dla["top_heads"]["negative"]]
    for pair in data["pairs"]:
        if pair["patterns"] is None:
            continue
        patterns = np.array(pair["patterns"])
        start = pair["shared_prefix"]
        tokens = [f"{i}:{shown_token(t)}" for i, t in enumerate(pair["clean_str_tokens"])]
        cols = max(1, len(heads) // 2)
        fig = make_subplots(
            rows=2,
            cols=cols,
            subplot_titles=[f"{sign} L{l}H{h} ({v:+.2f})" for sign, l, h, v in heads],
            horizontal_spacing=0.08,
            vertical_spacing=0.2,
        )
        for i, (_, layer, head, _) in enumerate(heads):
            # Queries from the first difference on (the prefix's rows are the same in both runs); every key.
            fig.add_trace(
                go.Heatmap(z=patterns[layer, head].tolist(), x=tokens, y=tokens[start:], colorscale="Blues", zmin=0, zmax=1, showscale=i == 0),
                row=i // cols + 1,
                col=i % cols + 1,
            )
        fig.update_yaxes(autorange="reversed")
        fig.update_layout(
            title=f"Attention of the top heads on {pair['clean_id']}: {pair['clean_question']!r} (rows: queries from the first difference; columns: keys)",
            height=760,
        )
        figs.append(
            ("heads", f"Top {cols} positive (top row) and negative (bottom row) heads by DLA, on pair {pair['pair_id']}'s true question.", fig)
        )

    columns, prefix = patching["columns"], _prefix_label(patching["shared_prefix_tokens"])
    sites = ("resid_pre", "attn_out", "mlp_out", "head_out")
    if patching["exact_mean"].get("log_odds"):
        n = patching["n_exact_in_mean"]["log_odds"]
        fig = _grid_figure(
            f"Exact activation patching, clean → corrupted: normalized log_odds (drop-weighted mean of {n} pair(s))",
            patching["exact_mean"]["log_odds"],
            columns,
            prefix,
            n_layers,
            sites,
        )
        figs.append(
            (
                "patching",
                f"EXACT: every cell is a patched forward pass. Positions aligned on the last token, labelled with the tokens of {patching['column_reference_pair']}; the grey column is the shared prefix, identical in both runs: its effect is exactly 0 and it is not computed.",
                fig,
            )
        )
    if patching["attribution_mean"]:
        n = patching["n_attribution_in_mean"]
        fig = _grid_figure(
            f"Attribution patching (gradient estimate), clean → corrupted: normalized log_odds (drop-weighted mean of {n} pair(s))",
            patching["attribution_mean"],
            columns,
            prefix,
            n_layers,
            sites,
        )
        figs.append(
            (
                "patching",
                "ESTIMATE: (clean − corrupted activation) · gradient at the corrupted run, one forward and one backward per pair, on every studied pair.",
                fig,
            )
        )
    full = next((p for p in data["pairs"] if p["pair_id"] == patching["full_pair"]), None)
    if full is not None:
        start = full["shared_prefix"]
        tokens = [
            f"{i}:{shown_token(a)}" if a == b else f"{i}:{shown_token(a)}/{shown_token(b)}"
            for i, (a, b) in enumerate(zip(full["clean_str_tokens"], full["corrupted_str_tokens"]))
        ][start:]
        fig = _grid_figure(
            f"Exact patching on {full['pair_id']}: {full['clean_question']!r} → {full['corrupted_question']!r} (normalized log_odds; drop {full['clean']['log_odds'] - full['corrupted']['log_odds']:.2f} nats)",
            full["exact"]["log_odds"],
            tokens,
            _prefix_label(start),
            n_layers,
            sites[:3],
        )
        figs.append(
            (
                "patching",
                "One pair in full (EXACT), the pair with the largest evaluator margin; tokens shown clean/corrupted where they differ.",
                fig,
            )
        )
    if patching["correlation"]:
        exact_pairs = [p for p in data["pairs"] if p["exact"] is not None]
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


def render_html(data: dict) -> tuple[str, int]:
    """The self-contained page and its number of figures."""
    from fk_bench.pages import figure_html, render_page

    figs = figures(data)
    sections: dict[str, list[dict]] = {"dla": [], "heads": [], "patching": [], "attribution": []}
    for i, (section, caption, fig) in enumerate(figs):
        sections[section].append({"html": figure_html(fig, f"figure-{i}"), "caption": caption})
    page = render_page("report.html.j2", search_path=[TEMPLATES], data=data, sections=sections, expected_figures=len(figs), shown_token=shown_token)
    return page, len(figs)
