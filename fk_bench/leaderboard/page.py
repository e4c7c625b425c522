"""The leaderboard's HTML page (``templates/leaderboard.html.j2`` on the shared page shell of :mod:`fk_bench.pages`).

Per group: the ranked table (each score with its 95% interval as hover and whisker, each rank with its
rank interval, ties marked), the bias-and-calibration table, the breakdowns, and the figures
(:mod:`fk_bench.leaderboard.board_figures`); then the definitions. Every name is data: Jinja2 escapes it, links
go through :func:`fk_bench.pages.path_url`.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fk_bench.leaderboard.board_figures import (
    HEATMAP_METRICS,
    _chance_band,
    forest_figure,
    heatmap_figure,
    popularity_figure,
    rank_text,
    reliability_figure,
    row_label,
    scatter_figure,
    significance_figure,
)
from fk_bench.leaderboard.collect import data_label, domains, popularity_bins, prompt_label, relations, relative_link
from fk_bench.leaderboard.render import (
    BOARD_METRICS,
    CALIBRATED_DEFINITIONS,
    CALIBRATION_METRICS,
    EXTRA_DEFINITIONS,
    INTERVALS_NOTE,
    SHORT_NAMES,
    TEMPLATES,
    _group_title,
    _groups,
    _is_best,
    _settings_columns,
    _shown,
    best_values,
    consistency_note,
    tied,
    with_interval,
)
from fk_bench.leaderboard.uncertainty import Matrix, significance
from fk_bench.metrics import METRICS
from fk_bench.pages import figure_html, format_number, path_url, render_page

UNIT_SCALE = ("paired_accuracy", "accuracy", "yes_rate", "auroc", "consistency", "paired_consistency")


def _cell(name: str, row: pd.Series, best: float | None, band: float) -> dict[str, Any]:
    """One metric cell: its text, sort key, hover (the 95% interval) and what the page draws on it (best, a bar
    with the interval as a whisker, chance, bias)."""
    value, low, high = row.get(name), row.get(f"{name}_low"), row.get(f"{name}_high")
    number = float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else math.nan
    known = not math.isnan(number)
    interval = known and all(isinstance(v, float) and not math.isnan(v) for v in (low, high))
    unit = name in UNIT_SCALE or name.startswith("paired_accuracy[")
    return {
        "text": format_number(value, 0) if name == "n_pass_filter" else format_number(value),
        "sort": repr(number) if known else "",
        "title": f"95% interval [{low:.3f}, {high:.3f}]" if interval else "",
        "best": _is_best(number, best),
        "bar": max(0.0, min(1.0, number)) if known and unit and name != "yes_rate" else None,
        "whisker": (max(0.0, min(1.0, low)), max(0.0, min(1.0, high))) if interval and unit and "yes_rate" not in name else None,
        "chance": known and name == "paired_accuracy" and abs(number - 0.5) <= band,
        "bias": min(1.0, 2 * abs(number - 0.5))
        if known and name in ("yes_rate", "batch_calibrated_yes_rate", "contextual_calibrated_yes_rate")
        else None,
    }


def _column(key: str, label: str, title: str, higher_is_better: bool | None = True) -> dict[str, Any]:
    return {"key": key, "label": label, "title": title, "dir": "asc" if higher_is_better is False else "desc"}


def _metric_column(name: str) -> dict[str, Any]:
    metric = METRICS.get(name)
    title = f"{name}: {metric.description}" if metric else f"{name}: {CALIBRATED_DEFINITIONS.get(name, name.replace('_', ' '))}"
    return _column(name, SHORT_NAMES.get(name, name), title, metric.higher_is_better if metric else True)


def _side_tables(rows: pd.DataFrame, best: dict[str, float], band: float, domain_names: list[str]) -> list[dict[str, Any]]:
    """The bias-and-calibration table, and paired accuracy per domain and popularity tercile, each row labelled."""
    breakdown = [f"paired_accuracy[domain:{d}]" for d in domain_names if rows[f"paired_accuracy[domain:{d}]"].notna().any()]
    breakdown += [f"paired_accuracy[popularity:{b}]" for b in popularity_bins(rows) if rows[f"paired_accuracy[popularity:{b}]"].notna().any()]
    for key in breakdown:
        values = rows[key].dropna()
        if len(values) > 1 and values.max() > values.min():
            best[key] = float(values.max())
    specs = [
        (
            "calibration",
            "Bias and calibration",
            "Raw verdicts beside the bias-corrected ones: what does the model know once its yes/no bias is "
            "removed? Then how well p(true) is calibrated.",
            [_metric_column(m) for m in _shown(rows, CALIBRATION_METRICS)],
        ),
        (
            "breakdown",
            "Paired accuracy per domain and by popularity",
            "Popularity terciles are cut within each relation.",
            [
                _column(k, k.split("[", 1)[1].rstrip("]").replace("domain:", "").replace("popularity:", "popularity "), f"paired accuracy, {k}")
                for k in breakdown
            ],
        ),
    ]
    tables = []
    for kind, title, caption, columns in specs:
        if columns:
            body = [
                {"rank": int(r["rank"]), "label": row_label(r), "cells": [_cell(c["key"], r, best.get(c["key"]), band) for c in columns]}
                for _, r in rows.iterrows()
            ]
            tables.append({"kind": kind, "title": title, "caption": caption, "columns": columns, "rows": body})
    return tables


def _figures(group: int, rows: pd.DataFrame, names: list[str], matrix: Matrix | None) -> list[dict[str, Any]]:
    figures = []
    if rows[["paired_accuracy", "paired_accuracy_low"]].notna().all(axis=1).sum() > 0:
        figures.append({"kind": "forest", "html": figure_html(forest_figure(rows), f"forest-{group}")})
    if matrix is not None and len(matrix.rows) > 1 and not np.isnan(matrix.p).all():
        figures.append({"kind": "significance", "html": figure_html(significance_figure(rows, matrix), f"significance-{group}")})
    if rows[["yes_rate", "paired_accuracy"]].notna().all(axis=1).any():
        figures.append({"kind": "scatter", "html": figure_html(scatter_figure(rows), f"scatter-{group}")})
    if any(getattr(e, "diagram", None) for e in rows["evidence"]):
        figures.append({"kind": "reliability", "html": figure_html(reliability_figure(rows), f"reliability-{group}")})
    relation_names = [n for n in names if rows[[f"{m}[{n}]" for m in HEATMAP_METRICS]].notna().any().any()]
    if relation_names:
        figures.append({"kind": "heatmap", "html": figure_html(heatmap_figure(rows, relation_names), f"heatmap-{group}")})
    bins = [b for b in popularity_bins(rows) if rows[f"paired_accuracy[popularity:{b}]"].notna().any()]
    if bins:
        figures.append({"kind": "popularity", "html": figure_html(popularity_figure(rows, bins), f"popularity-{group}")})
    return figures


def _leader(rows: pd.DataFrame, ties: dict[Any, bool]) -> dict[str, Any]:
    """The first row and the score it leads by: paired accuracy, else accuracy (lm-eval groups report no
    overall paired accuracy), with its interval; whether its rank interval overlaps another row's."""
    first_index, first = rows.index[0], rows.iloc[0]
    metric = next((m for m in ("paired_accuracy", "accuracy") if pd.notna(first[m])), None)
    return {
        "model": first["model"],
        "prompt": prompt_label(first),
        "dtype": first["dtype"],
        "metric": None if metric is None else metric.replace("_", " "),
        "value": None if metric is None else with_interval(first, metric),
        "tied": bool(ties.get(first_index)),
        "ranks": rank_text(first),
    }


def _html_group(
    group: int, rows: pd.DataFrame, n_groups: int, out_dir: Path, names: list[str], domain_names: list[str], matrix: Matrix | None
) -> dict[str, Any]:
    best = best_values(rows)
    band = _chance_band(rows)
    ties = tied(rows)
    metrics = _shown(rows, BOARD_METRICS)
    body = []
    for index, row in rows.iterrows():
        body.append(
            {
                "rank": int(row["rank"]),
                "ranks": rank_text(row),
                "tied": bool(ties.get(index)),
                "model": row["model"],
                "report": path_url(relative_link(row["report"], out_dir)),
                "harness": row["harness"],
                "prompt": prompt_label(row),
                "dtype": row["dtype"],
                "device": row["device"],
                "n": int(row["n"]),
                "source": path_url(relative_link(row["source"], out_dir)),
                "cells": [_cell(m, row, best.get(m), band) for m in (*metrics, "n_pass_filter")],
            }
        )
    varying, constant = _settings_columns(rows)
    show_dtype = rows["dtype"].nunique() > 1
    if not show_dtype:
        constant["dtype"] = str(rows["dtype"].iloc[0])
    columns = [_metric_column(m) for m in metrics]
    columns.append(_column("n_pass_filter", "pass filter", EXTRA_DEFINITIONS["n_pass_filter"]))
    first = rows.iloc[0]
    return {
        "id": group,
        "title": _group_title(group, rows, n_groups),
        "data": data_label(first),
        "n": int(first["n"]),
        "threshold": float(first["filter_threshold"]),
        "consistency_note": consistency_note(rows),
        "columns": columns,
        "varying": varying,
        "show_dtype": show_dtype,
        "constant": constant,
        "rows": body,
        "tables": _side_tables(rows, best, band, domain_names),
        "figures": _figures(group, rows, names, matrix),
        "leader": _leader(rows, ties),
    }


def html(table: pd.DataFrame, out_dir: Path, command: str | None) -> str:
    """The leaderboard page: one section per group (table, bias picture, heatmap), then the definitions."""
    names = relations(table)
    groups = _groups(table)
    matrices = significance(table)
    sections = [_html_group(g, rows, len(groups), out_dir, names, domains(table), matrices.get(g)) for g, rows in groups]
    definitions = [{"name": m.name, "text": m.description} for m in METRICS.values()]
    definitions += [{"name": k, "text": v} for k, v in (*EXTRA_DEFINITIONS.items(), *CALIBRATED_DEFINITIONS.items())]
    return render_page(
        "leaderboard.html.j2",
        search_path=[TEMPLATES],
        groups=sections,
        definitions=definitions,
        command=command,
        n_rows=len(table),
        expected_figures=sum(len(s["figures"]) for s in sections),
        intervals_note=INTERVALS_NOTE,
    )
