"""Write a leaderboard table (from :func:`fk_bench.leaderboard.collect.collect_rows`) as Markdown, CSV or HTML.

All three carry the same rows and settings; each group of rows (same questions, same answer words) is
its own ranked table. The HTML page (``templates/leaderboard.html.j2``, on the shared page shell of
:mod:`fk_bench.pages`) adds a sortable table with the best value per column highlighted, the bias
picture (yes_rate against paired accuracy, with the chance band), a models x relations heatmap, and
the metric definitions from :data:`fk_bench.metrics.METRICS`.

The rows come from other people's result folders, so every name is hostile text: the page escapes it
(Jinja2) and makes links only through :func:`fk_bench.pages.path_url`/``safe_url``, figures get it
through :func:`fk_bench.pages.plain_text`, the CSV quotes formula-like cells and the Markdown escapes
every cell and heading (:mod:`fk_bench.pages.tables`; docs/bad-input.md, "Shared pages and tables").
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd

from fk_bench.errors import FkBenchError
from fk_bench.files import write_atomic, write_text_atomic
from fk_bench.leaderboard.collect import DISPLAY_METRICS, NA, data_label, domains, popularity_bins, prompt_label, relations, relative_link
from fk_bench.metrics import METRICS
from fk_bench.pages import figure_html, format_number, path_url, plain_text, render_page
from fk_bench.pages.tables import csv_safe, markdown_code_block, markdown_text
from fk_bench.prompt_formats import PROMPT_FORMATS

SUFFIXES = (".md", ".csv", ".html")
TEMPLATES = Path(__file__).parent / "templates"
HEATMAP_METRICS = ("paired_accuracy", "accuracy")
SYMBOLS = {f.name: f.marker for f in PROMPT_FORMATS.values()}
"""Scatter markers: colour = model, shape = prompt format."""
SHORT_NAMES = {
    "paired_accuracy": "paired acc",
    "accuracy": "accuracy",
    "yes_rate": "yes rate",
    "auroc": "AUROC",
    "log_odds": "log odds",
    "logit_diff": "logit diff",
    "prob_diff": "prob diff",
    "brier": "Brier",
    "ece": "ECE",
    "consistency": "consistency",
    "paired_consistency": "paired consist.",
}
EXTRA_DEFINITIONS = {
    "n_pass_filter": "questions the model answers correctly with prob_diff at or above the filter threshold (the "
    "original study's filter for the questions worth studying with interp); recounted at the leaderboard's threshold",
    "n": "questions scored; n_pairs of them form complete pairs (a true question and its corrupted twin)",
    "paired accuracy per domain": "paired accuracy over the relations of one domain (geography, people, organisations, culture, science)",
    "paired accuracy by popularity": "paired accuracy over the pairs of one popularity tercile (low, mid, high), the terciles cut within "
    "each relation by how popular the subject is (a place's population, ...); a model that knows only famous subjects falls from high to low",
}


def check_suffix(out: str | Path) -> Path:
    """Refuse an output name the leaderboard cannot write, before any result is read."""
    out = Path(out)
    if out.suffix not in SUFFIXES:
        raise FkBenchError(f"{out}: leaderboard output must end in .md, .csv or .html")
    if out.is_dir():
        raise FkBenchError(f"{out}: is a folder, expected a file path ending in .md, .csv or .html")
    return out


def best_values(rows: pd.DataFrame) -> dict[str, float]:
    """Per metric with a direction in :data:`METRICS`, the best value among ``rows`` (n/a ignored; none
    when all rows are equal: nothing stands out)."""
    best = {}
    for name in DISPLAY_METRICS:
        direction = METRICS[name].higher_is_better
        values = rows[name].dropna()
        if direction is not None and len(values) > 1 and values.max() > values.min():
            best[name] = float(values.max() if direction else values.min())
    return best


def _is_best(value: Any, best: float | None) -> bool:
    return best is not None and isinstance(value, float) and not math.isnan(value) and math.isclose(value, best, rel_tol=0, abs_tol=5e-7)


def row_label(row: pd.Series) -> str:
    """A row's name in figures: model, prompt format and dtype (and harness when not fk-bench)."""
    parts = [row["model"], prompt_label(row), row["dtype"]]
    if row["harness"] != "fk-bench":
        parts.append(row["harness"])
    return " · ".join(str(p) for p in parts if p not in ("", NA))


def _settings_columns(rows: pd.DataFrame) -> tuple[list[str], dict[str, str]]:
    """Of the settings that may differ inside a group (device, harness), those that do (shown as columns)
    and the values of those that do not (said once above the table)."""
    varying = [name for name in ("device", "harness") if rows[name].nunique() > 1]
    return varying, {name: str(rows[name].iloc[0]) for name in ("harness", "device") if name not in varying}


def _groups(table: pd.DataFrame) -> list[tuple[int, pd.DataFrame]]:
    return [(int(group), rows) for group, rows in table.groupby("group", sort=True)]


def _group_title(group: int, rows: pd.DataFrame, n_groups: int) -> str:
    first = rows.iloc[0]
    head = f"Group {group}: " if n_groups > 1 else ""
    return f"{head}{data_label(first)}, {int(first['n']):,} questions"


# ---------------------------------------------------------------- CSV and Markdown


def _csv(table: pd.DataFrame, out: Path) -> Path:
    shown = table.assign(
        prompt=[prompt_label(r) for _, r in table.iterrows()],
        report=[relative_link(r, out.parent) or "" for r in table["report"]],
        source=[relative_link(s, out.parent) for s in table["source"]],
    )
    columns = ["group", "rank", "model", "harness", "prompt", *[c for c in shown.columns if c not in ("group", "rank", "model", "harness", "prompt")]]
    return write_atomic(out, lambda tmp: csv_safe(shown[columns]).to_csv(tmp, index=False, float_format="%.6g"))


def _markdown_cell(value: Any, best: float | None = None) -> str:
    text = markdown_text(format_number(value))
    return f"**{text}**" if _is_best(value, best) else text


def markdown(table: pd.DataFrame, out_dir: Path, command: str | None) -> str:
    """The leaderboard as Markdown: one ranked table per group, then paired accuracy per relation."""
    lines = ["# fk-bench leaderboard", ""]
    if command:
        lines += ["Regenerate with:", "", *markdown_code_block(command), ""]
    lines += [
        "Ranked by paired accuracy, then accuracy; **bold** = best in its column. "
        "Rows scored on different questions are in separate groups and never ranked together.",
        "",
    ]
    groups = _groups(table)
    for group, rows in groups:
        best = best_values(rows)
        varying, constant = _settings_columns(rows)
        lines += [f"## {markdown_text(_group_title(group, rows, len(groups)))}", ""]
        if constant:
            lines += ["Every row: " + ", ".join(f"{name} {markdown_text(value)}" for name, value in constant.items()) + ".", ""]
        linked = rows["report"].notna().any()
        header = ["#", "model", "prompt", "dtype", *varying, "n", *DISPLAY_METRICS, "n_pass_filter", *(["report"] if linked else [])]
        numeric = ("#", "n", *DISPLAY_METRICS, "n_pass_filter")
        lines += ["| " + " | ".join(header) + " |", "|" + "|".join("---:" if h in numeric else "---" for h in header) + "|"]
        for _, row in rows.iterrows():
            link = path_url(relative_link(row["report"], out_dir))
            cells = [
                markdown_text(row["rank"]),
                markdown_text(row["model"]),
                markdown_text(prompt_label(row)),
                markdown_text(row["dtype"]),
                *[markdown_text(row[name]) for name in varying],
                f"{int(row['n']):,}",
                *[_markdown_cell(row[m], best.get(m)) for m in DISPLAY_METRICS],
                markdown_text(format_number(row["n_pass_filter"], 0)),
                *([f"[report]({link})" if link else ""] if linked else []),
            ]
            lines.append("| " + " | ".join(cells) + " |")
        names = [r for r in relations(table) if rows[f"paired_accuracy[{r}]"].notna().any()] if relations(table) else []
        if names:
            lines += [
                "",
                "Paired accuracy per relation:",
                "",
                "| model · prompt · dtype | " + " | ".join(markdown_text(n) for n in names) + " |",
                "|---|" + "---:|" * len(names),
            ]
            for _, row in rows.iterrows():
                values = [row[f"paired_accuracy[{r}]"] for r in names]
                lines.append(f"| {markdown_text(row_label(row))} | " + " | ".join(markdown_text(format_number(v)) for v in values) + " |")
        for title, keys in (
            ("Paired accuracy per domain:", [(d, f"paired_accuracy[domain:{d}]") for d in domains(table)]),
            (
                "Paired accuracy by popularity tercile (within each relation):",
                [(b, f"paired_accuracy[popularity:{b}]") for b in popularity_bins(table)],
            ),
        ):
            keys = [(name, key) for name, key in keys if rows[key].notna().any()]
            if keys:
                lines += [
                    "",
                    title,
                    "",
                    "| model · prompt · dtype | " + " | ".join(markdown_text(n) for n, _ in keys) + " |",
                    "|---|" + "---:|" * len(keys),
                ]
                for _, row in rows.iterrows():
                    lines.append(f"| {markdown_text(row_label(row))} | " + " | ".join(markdown_text(format_number(row[k])) for _, k in keys) + " |")
        threshold = rows["filter_threshold"].iloc[0]
        lines += ["", f"n_pass_filter: correct with prob_diff >= {format_number(threshold, 2)}.", ""]
    return "\n".join(lines)


# ---------------------------------------------------------------- HTML


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
    fig.add_annotation(x=0.99, y=0.02, xanchor="right", showarrow=False, text="says yes to everything →", font={"size": 11, "color": "#57606a"})
    fig.add_annotation(x=0.01, y=0.02, xanchor="left", showarrow=False, text="← says no to everything", font={"size": 11, "color": "#57606a"})
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


def heatmap_figure(rows: pd.DataFrame, names: list[str]) -> Any:
    """Rows x relations, paired accuracy (buttons switch to accuracy); cells centred on chance (0.5)."""
    import plotly.graph_objects as go

    labels = [plain_text(f"{r['rank']}. {row_label(r)}") for _, r in rows.iterrows()]
    layers = {m: [[None if pd.isna(r[f"{m}[{n}]"]) else float(r[f"{m}[{n}]"]) for n in names] for _, r in rows.iterrows()] for m in HEATMAP_METRICS}
    texts = {m: [[format_number(v) if v is not None else "n/a" for v in line] for line in z] for m, z in layers.items()}
    fig = go.Figure(
        go.Heatmap(
            z=layers["paired_accuracy"],
            x=[plain_text(n) for n in names],
            y=labels,
            text=texts["paired_accuracy"],
            texttemplate="%{text}",
            zmin=0,
            zmax=1,
            zmid=0.5,
            colorscale="RdBu",
            colorbar={"title": "score"},
            hoverongaps=False,
            hovertemplate="%{y}<br>%{x}: %{text}<extra></extra>",
        )
    )
    buttons = [
        {"label": METRICS[m].name.replace("_", " "), "method": "restyle", "args": [{"z": [layers[m]], "text": [texts[m]]}]} for m in HEATMAP_METRICS
    ]
    fig.update_layout(
        height=160 + 32 * len(labels),
        margin={"l": 20, "r": 20, "t": 60, "b": 20},
        yaxis={"autorange": "reversed", "automargin": True},
        xaxis={"automargin": True, "tickangle": -30},
        updatemenus=[{"type": "buttons", "direction": "right", "buttons": buttons, "x": 0, "xanchor": "left", "y": 1.02, "yanchor": "bottom"}],
    )
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


def _cell(name: str, value: Any, best: float | None, band: float) -> dict:
    """One metric cell: its text, sort key, and what the page draws on it (best, a bar, chance, bias)."""
    number = float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else math.nan
    known = not math.isnan(number)
    return {
        "text": format_number(value, 0) if name == "n_pass_filter" else format_number(value),
        "sort": repr(number) if known else "",
        "best": _is_best(number, best),
        "bar": max(0.0, min(1.0, number))
        if known and (name in ("paired_accuracy", "accuracy", "auroc") or name.startswith("paired_accuracy["))
        else None,
        "chance": known and name == "paired_accuracy" and abs(number - 0.5) <= band,
        "bias": min(1.0, 2 * abs(number - 0.5)) if known and name == "yes_rate" else None,
    }


def _html_group(group: int, rows: pd.DataFrame, n_groups: int, out_dir: Path, names: list[str], domain_names: list[str]) -> dict:
    best = best_values(rows)
    band = _chance_band(rows)
    domain_keys = [f"paired_accuracy[domain:{d}]" for d in domain_names if rows[f"paired_accuracy[domain:{d}]"].notna().any()]
    for key in domain_keys:
        values = rows[key].dropna()
        if len(values) > 1 and values.max() > values.min():
            best[key] = float(values.max())
    body = []
    for _, row in rows.iterrows():
        body.append(
            {
                "rank": int(row["rank"]),
                "model": row["model"],
                "report": path_url(relative_link(row["report"], out_dir)),
                "harness": row["harness"],
                "prompt": prompt_label(row),
                "dtype": row["dtype"],
                "device": row["device"],
                "n": int(row["n"]),
                "source": path_url(relative_link(row["source"], out_dir)),
                "cells": [_cell(m, row[m], best.get(m), band) for m in (*DISPLAY_METRICS, "n_pass_filter", *domain_keys)],
            }
        )
    varying, constant = _settings_columns(rows)
    columns = [
        {
            "key": m,
            "label": SHORT_NAMES.get(m, m),
            "title": f"{m}: {METRICS[m].description}",
            "dir": "asc" if METRICS[m].higher_is_better is False else "desc",
        }
        for m in DISPLAY_METRICS
    ] + [{"key": "n_pass_filter", "label": "pass filter", "title": EXTRA_DEFINITIONS["n_pass_filter"], "dir": "desc"}]
    columns += [
        {
            "key": key,
            "label": f"PA · {key.split(':', 1)[1].rstrip(']')}",
            "title": f"paired accuracy on the {key.split(':', 1)[1].rstrip(']')} relations",
            "dir": "desc",
        }
        for key in domain_keys
    ]
    figures = []
    if rows[["yes_rate", "paired_accuracy"]].notna().all(axis=1).any():
        figures.append({"kind": "scatter", "html": figure_html(scatter_figure(rows), f"scatter-{group}")})
    relation_names = [n for n in names if rows[[f"{m}[{n}]" for m in HEATMAP_METRICS]].notna().any().any()]
    if relation_names:
        figures.append({"kind": "heatmap", "html": figure_html(heatmap_figure(rows, relation_names), f"heatmap-{group}")})
    bins = [b for b in popularity_bins(rows) if rows[f"paired_accuracy[popularity:{b}]"].notna().any()]
    if bins:
        figures.append({"kind": "popularity", "html": figure_html(popularity_figure(rows, bins), f"popularity-{group}")})
    first = rows.iloc[0]
    return {
        "id": group,
        "title": _group_title(group, rows, n_groups),
        "data": data_label(first),
        "n": int(first["n"]),
        "threshold": float(first["filter_threshold"]),
        "columns": columns,
        "varying": varying,
        "constant": constant,
        "rows": body,
        "figures": figures,
        "leader": body[0],
        "leader_value": body[0]["cells"][0]["text"],
    }


def html(table: pd.DataFrame, out_dir: Path, command: str | None) -> str:
    """The leaderboard page: one section per group (table, bias picture, heatmap), then the definitions."""
    names = relations(table)
    groups = _groups(table)
    sections = [_html_group(g, rows, len(groups), out_dir, names, domains(table)) for g, rows in groups]
    definitions = [{"name": m.name, "text": m.description} for m in METRICS.values()]
    definitions += [{"name": k, "text": v} for k, v in EXTRA_DEFINITIONS.items()]
    return render_page(
        "leaderboard.html.j2",
        search_path=[TEMPLATES],
        groups=sections,
        definitions=definitions,
        command=command,
        n_rows=len(table),
        expected_figures=sum(len(s["figures"]) for s in sections),
    )


def render(table: pd.DataFrame, out: str | Path, command: str | None = None) -> Path:
    """Write ``table`` as Markdown, CSV or HTML, chosen by ``out``'s suffix; links are relative to ``out``."""
    out = check_suffix(out)
    if table.empty:
        raise FkBenchError(f"{out}: no rows to write")
    if out.suffix == ".csv":
        return _csv(table, out)
    text = markdown(table, out.parent, command) if out.suffix == ".md" else html(table, out.parent, command)
    return write_text_atomic(out, text)


def render_all(table: pd.DataFrame, out_dir: str | Path, command: str | None = None, stem: str = "leaderboard") -> list[Path]:
    """``<out_dir>/leaderboard.md``, ``.csv`` and ``.html`` from the same rows."""
    return [render(table, Path(out_dir) / f"{stem}{suffix}", command) for suffix in SUFFIXES]
