"""The leaderboard's figures (plotly): the bias picture, per relation, by popularity, the intervals and
ranks, the significance matrix and the reliability diagrams.

Every name in a figure is data: it goes through :func:`fk_bench.pages.plain_text`, so plotly reads it as
text, never as markup.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from fk_bench.leaderboard.collect import NA, prompt_label
from fk_bench.leaderboard.uncertainty import SIGNIFICANCE_LEVEL, Matrix
from fk_bench.pages import format_number, plain_text
from fk_bench.prompt_formats import PROMPT_FORMATS

HEATMAP_METRICS = ("paired_accuracy", "accuracy")
SYMBOLS = {f.name: f.marker for f in PROMPT_FORMATS.values()}
"""Scatter markers: colour = model, shape = prompt format."""
MUTED = {"size": 11, "color": "#57606a"}


def row_label(row: pd.Series) -> str:
    """A row's name in figures: model, prompt format and dtype (and harness when not fk-bench)."""
    parts = [row["model"], prompt_label(row), row["dtype"]]
    if row["harness"] != "fk-bench":
        parts.append(row["harness"])
    return " · ".join(str(p) for p in parts if p not in ("", NA))


def _chance_band(rows: pd.DataFrame) -> float:
    """Half-width of the 95% band of paired accuracy for a model that flips a coin on each pair."""
    pairs = rows["n_pairs"].dropna()
    n_pairs = float(pairs.median()) if len(pairs) else float(rows["n"].median()) / 2
    return 1.96 * math.sqrt(0.25 / max(n_pairs, 1.0))


def scatter_figure(rows: pd.DataFrame) -> Any:
    """yes_rate (x) against paired accuracy (y), one point per row (colour = model, shape = prompt format),
    with the chance band shaded."""
    import plotly.colors
    import plotly.graph_objects as go

    shown = rows.dropna(subset=["yes_rate", "paired_accuracy"])
    band = _chance_band(rows)
    fig = go.Figure()
    fig.add_hrect(y0=0.5 - band, y1=0.5 + band, fillcolor="#d0d7de", opacity=0.45, line_width=0, layer="below")
    fig.add_hline(y=0.5, line_dash="dot", line_color="#8c959f")
    fig.add_vline(x=0.5, line_dash="dot", line_color="#8c959f")
    fig.add_annotation(
        x=0.01,
        y=0.5 + band,
        xanchor="left",
        yanchor="bottom",
        showarrow=False,
        font={"size": 11, "color": "#57606a"},
        text=f"chance: a coin flip per pair lands here 95% of the time (±{band:.3f})",
    )
    fig.add_annotation(x=0.99, y=0.02, xanchor="right", showarrow=False, text="says yes to everything →", font=MUTED)
    fig.add_annotation(x=0.01, y=0.02, xanchor="left", showarrow=False, text="← says no to everything", font=MUTED)
    palette = plotly.colors.qualitative.D3
    colors = {model: palette[i % len(palette)] for i, model in enumerate(dict.fromkeys(rows["model"]))}
    # Names are data: plain_text keeps plotly from reading them as markup (links, styles, line breaks).
    for _, row in shown.iterrows():
        fig.add_trace(
            go.Scatter(
                x=[row["yes_rate"]],
                y=[row["paired_accuracy"]],
                mode="markers",
                name=plain_text(f"{row['rank']}. {row_label(row)}"),
                marker={
                    "size": 13,
                    "color": colors[row["model"]],
                    "symbol": SYMBOLS.get(row["prompt_format"], "circle"),
                    "line": {"width": 1, "color": "white"},
                },
                customdata=[[plain_text(row_label(row)), row["accuracy"]]],
                hovertemplate="%{customdata[0]}<br>yes_rate %{x:.3f}<br>paired accuracy %{y:.3f}<br>accuracy %{customdata[1]:.3f}<extra></extra>",
            )
        )
    fig.update_layout(
        height=480,
        margin={"l": 60, "r": 20, "t": 30, "b": 50},
        legend_title_text="rank. model · prompt · dtype",
        xaxis={"title": "yes_rate (share of questions called true)", "range": [-0.02, 1.02]},
        yaxis={"title": "paired accuracy", "range": [min(0.0, float(shown["paired_accuracy"].min()) - 0.05) if len(shown) else 0.0, 1.02]},
    )
    return fig


def _interval_text(row: pd.Series, key: str) -> str:
    """``0.761 [0.72, 0.80]``, or the bare value when the row has no interval for it."""
    value, low, high = row.get(key), row.get(f"{key}_low"), row.get(f"{key}_high")
    if value is None or pd.isna(value):
        return NA
    if low is None or high is None or pd.isna(low) or pd.isna(high):
        return format_number(value)
    return f"{format_number(value)} [{low:.2f}, {high:.2f}]"


def mde_label(rows: pd.DataFrame, name: str) -> str:
    """A relation's axis label with the smallest paired-accuracy difference its pairs can detect."""
    column = f"paired_accuracy_mde[{name}]"
    mde = rows[column].dropna() if column in rows else pd.Series(dtype=float)
    shown = plain_text(name)
    return f"{shown} (MDE {mde.iloc[0]:.2f})" if len(mde) and math.isfinite(mde.iloc[0]) else shown


def heatmap_figure(rows: pd.DataFrame, names: list[str]) -> Any:
    """Rows x relations, paired accuracy (buttons switch to accuracy); cells centred on chance (0.5); the hover
    gives each cell's 95% interval, the axis each relation's minimum detectable difference."""
    import plotly.graph_objects as go

    labels = [plain_text(f"{r['rank']}. {row_label(r)}") for _, r in rows.iterrows()]
    layers = {m: [[None if pd.isna(r[f"{m}[{n}]"]) else float(r[f"{m}[{n}]"]) for n in names] for _, r in rows.iterrows()] for m in HEATMAP_METRICS}
    texts = {m: [[format_number(v) if v is not None else "n/a" for v in line] for line in z] for m, z in layers.items()}
    hovers = {m: [[_interval_text(r, f"{m}[{n}]") for n in names] for _, r in rows.iterrows()] for m in HEATMAP_METRICS}
    fig = go.Figure(
        go.Heatmap(
            z=layers["paired_accuracy"],
            x=[mde_label(rows, n) for n in names],
            y=labels,
            text=texts["paired_accuracy"],
            customdata=hovers["paired_accuracy"],
            texttemplate="%{text}",
            textfont={"size": 10},
            zmin=0,
            zmax=1,
            zmid=0.5,
            colorscale="RdBu",
            colorbar={"title": "score", "thickness": 12},
            hoverongaps=False,
            hovertemplate="%{y}<br>%{x}: %{customdata}<extra></extra>",
            xgap=1,
            ygap=1,
        )
    )
    buttons = [
        {"label": m.replace("_", " "), "method": "restyle", "args": [{"z": [layers[m]], "text": [texts[m]], "customdata": [hovers[m]]}]}
        for m in HEATMAP_METRICS
    ]
    fig.update_layout(
        height=260 + 30 * len(labels),
        margin={"l": 20, "r": 20, "t": 60, "b": 20},
        yaxis={"autorange": "reversed", "automargin": True},
        xaxis={"automargin": True, "tickangle": -90, "tickfont": {"size": 11}},
        updatemenus=[{"type": "buttons", "direction": "right", "buttons": buttons, "x": 0, "xanchor": "left", "y": 1.02, "yanchor": "bottom"}],
    )
    return fig


def forest_figure(rows: pd.DataFrame) -> Any:
    """Paired accuracy per row with its 95% interval (whiskers) and rank interval, chance at 0.5: rows whose
    whiskers overlap cannot be told apart on these questions."""
    import plotly.graph_objects as go

    shown = rows.dropna(subset=["paired_accuracy"])
    labels = [plain_text(f"{r['rank']}. {row_label(r)}") for _, r in shown.iterrows()]
    ranks = [rank_text(r) for _, r in shown.iterrows()]
    value = shown["paired_accuracy"].to_numpy(dtype=float)
    low, high = shown["paired_accuracy_low"].to_numpy(dtype=float), shown["paired_accuracy_high"].to_numpy(dtype=float)
    fig = go.Figure(
        go.Scatter(
            x=value,
            y=labels,
            mode="markers",
            marker={"size": 10, "color": "#0969da"},
            error_x={
                "type": "data",
                "symmetric": False,
                "array": np.nan_to_num(high - value),
                "arrayminus": np.nan_to_num(value - low),
                "thickness": 2,
            },
            customdata=np.column_stack([low, high, ranks]) if len(shown) else None,
            hovertemplate="%{y}<br>paired accuracy %{x:.3f} [%{customdata[0]:.3f}, %{customdata[1]:.3f}]<br>rank %{customdata[2]}<extra></extra>",
        )
    )
    fig.add_vline(x=0.5, line_dash="dot", line_color="#8c959f")
    fig.update_layout(
        height=120 + 34 * len(labels),
        margin={"l": 20, "r": 20, "t": 20, "b": 50},
        xaxis={"title": "paired accuracy, 95% interval (bootstrap over facts)", "range": [0.0, 1.0]},
        yaxis={"autorange": "reversed", "automargin": True},
        showlegend=False,
    )
    return fig


def rank_text(row: pd.Series) -> str:
    """``3`` when the rank is settled, ``2-5`` for a rank interval, ``n/a`` without one."""
    low, high = row.get("rank_low"), row.get("rank_high")
    if low is None or high is None or pd.isna(low) or pd.isna(high):
        return NA
    return f"{int(low)}" if int(low) == int(high) else f"{int(low)}-{int(high)}"


def significance_figure(rows: pd.DataFrame, matrix: Matrix) -> Any:
    """Every pair of rows: does the row (y) beat the column (x) on the pairs both scored? Exact McNemar,
    Holm-corrected across the board; blue = row significantly better, red = worse, grey = not significant."""
    import plotly.graph_objects as go

    labels = [plain_text(f"{rows.loc[i, 'rank']}. {row_label(rows.loc[i])}") for i in matrix.rows]
    significant = matrix.p < SIGNIFICANCE_LEVEL
    z = np.where(np.isnan(matrix.p), np.nan, np.where(significant, np.sign(matrix.delta), 0.0))
    text = [
        ["" if np.isnan(p) else ("▲" if d > 0 else "▼") if p < SIGNIFICANCE_LEVEL else "·" for p, d in zip(p_row, d_row)]
        for p_row, d_row in zip(matrix.p, matrix.delta)
    ]
    hover = [
        ["" if np.isnan(p) else f"Δ paired accuracy {d:+.3f}, Holm p = {p:.3g}" for p, d in zip(p_row, d_row)]
        for p_row, d_row in zip(matrix.p, matrix.delta)
    ]
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=[str(rows.loc[i, "rank"]) for i in matrix.rows],
            y=labels,
            text=text,
            customdata=hover,
            texttemplate="%{text}",
            zmin=-1,
            zmax=1,
            colorscale=[[0, "#cf222e"], [0.5, "#eaeef2"], [1, "#0969da"]],
            showscale=False,
            hoverongaps=False,
            hovertemplate="%{y} vs rank %{x}<br>%{customdata}<extra></extra>",
            xgap=2,
            ygap=2,
        )
    )
    fig.update_layout(
        height=140 + 30 * len(labels),
        margin={"l": 20, "r": 20, "t": 20, "b": 50},
        xaxis={"title": "against the row ranked", "type": "category", "side": "bottom"},
        yaxis={"autorange": "reversed", "automargin": True},
    )
    return fig


def reliability_figure(rows: pd.DataFrame, columns: int = 4) -> Any:
    """A reliability diagram per row (small multiples): the share of true questions against mean p(True), per
    bin of p(True) (10 equal-width bins; marker size = questions in the bin). On the diagonal = calibrated."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    shown = [(r, r["evidence"].diagram) for _, r in rows.iterrows() if getattr(r.get("evidence"), "diagram", None)]
    n_rows = max(1, math.ceil(len(shown) / columns))
    titles = [plain_text(f"{r['rank']}. {r['model']} · {prompt_label(r)}") for r, _ in shown]
    fig = make_subplots(rows=n_rows, cols=columns, subplot_titles=titles, horizontal_spacing=0.05, vertical_spacing=0.24 / n_rows)
    for k, (_, diagram) in enumerate(shown):
        place = {"row": k // columns + 1, "col": k % columns + 1}
        sizes = np.asarray(diagram["count"], dtype=float)
        fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line={"dash": "dot", "color": "#8c959f", "width": 1}, hoverinfo="skip"), **place)
        fig.add_trace(
            go.Scatter(
                x=diagram["confidence"],
                y=diagram["frequency"],
                mode="lines+markers",
                line={"color": "#0969da", "width": 1.5},
                marker={"size": 4 + 12 * np.sqrt(sizes / max(sizes.max(), 1.0)), "color": "#0969da"},
                customdata=diagram["count"],
                hovertemplate=f"{titles[k]}<br>mean p(true) %{{x:.3f}}<br>share true %{{y:.3f}}<br>%{{customdata}} questions<extra></extra>",
            ),
            **place,
        )
    fig.update_xaxes(range=[-0.03, 1.03], tickvals=[0, 0.5, 1])
    fig.update_yaxes(range=[-0.03, 1.03], tickvals=[0, 0.5, 1])
    fig.update_annotations(font={"size": 11})
    fig.update_layout(height=60 + 250 * n_rows, margin={"l": 30, "r": 10, "t": 40, "b": 30}, showlegend=False)
    return fig


def popularity_figure(rows: pd.DataFrame, bins: list[str]) -> Any:
    """Paired accuracy by popularity tercile (low, mid, high), one line per row, with chance at 0.5."""
    import plotly.graph_objects as go

    fig = go.Figure()
    fig.add_hline(y=0.5, line_dash="dot", line_color="#8c959f")
    for _, row in rows.iterrows():
        values = [None if pd.isna(row[f"paired_accuracy[popularity:{b}]"]) else float(row[f"paired_accuracy[popularity:{b}]"]) for b in bins]
        label = plain_text(f"{row['rank']}. {row_label(row)}")
        fig.add_trace(
            go.Scatter(
                x=bins,
                y=values,
                mode="lines+markers",
                name=label,
                marker={"symbol": SYMBOLS.get(row["prompt_format"], "circle"), "size": 9},
                hovertemplate=f"{label}<br>%{{x}} popularity: %{{y:.3f}}<extra></extra>",
            )
        )
    fig.update_layout(
        height=420,
        margin={"l": 60, "r": 20, "t": 30, "b": 50},
        legend_title_text="rank. model · prompt · dtype",
        xaxis={"title": "popularity tercile of the subject, within its relation"},
        yaxis={"title": "paired accuracy", "range": [0, 1.02]},
    )
    return fig
