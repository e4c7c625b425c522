"""Every model that has reports, side by side: the cross-model page (and the text of each summary row, which the
findings table of the docs shares, :mod:`interp.pages.findings_table`).

Lays the reports' per-relation summary rows (``summary_table``: where the answer direction jumps as a
fraction of depth, the MLPs' share, where the fact sits, the knockout peak, each with its bootstrap
interval) next to each other: ``fk-bench compare-reports DIR... --out page.html`` writes a
self-contained page (from the shared shell, ``fk_bench/pages/templates/base.html.j2``). The reports
come from :func:`interp.pages.report_sources.load_reports`. Every text that comes from a report (model
names, relations, tokens) is data: the page escapes it, plotly gets it through
:func:`fk_bench.pages.plain_text`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fk_bench.errors import FkBenchError
from interp.defaults import REPORT_HTML
from interp.pages.figures import COLORS
from interp.pages.report_sources import ModelReport, Reports, load_reports

TEMPLATES = Path(__file__).parent / "templates"


# ---- text of one summary row -----------------------------------------------------------------------


def interval_text(found: dict[str, Any] | None, scale: float = 1.0, digits: int = 2, percent: bool = False) -> str:
    """``0.72 [0.61, 0.83]`` (``wide`` marked); ``n/a`` without an estimate."""
    if not found or found.get("estimate") is None:
        return "n/a"

    def fmt(value: float) -> str:
        return f"{100 * value * scale:.0f}%" if percent else f"{value * scale:.{digits}f}"

    text = fmt(found["estimate"])
    if found.get("low") is not None and found.get("high") is not None:
        text += f" [{fmt(found['low'])}, {fmt(found['high'])}]"
    else:
        text += " [no interval]"
    return text + (" (wide)" if found.get("wide") else "")


def jump_text(row: dict[str, Any], n_layers: int) -> str:
    jump = row.get("jump") or {}
    if jump.get("layer") is None:
        return "n/a"
    layers = jump.get("layer_interval") or {}
    text = f"{jump.get('name')}: {jump['fraction_of_depth']:.2f} of depth"
    if layers.get("low") is not None:
        text += f" [{(layers['low'] + 1) / n_layers:.2f}, {(layers['high'] + 1) / n_layers:.2f}]"
    return text + (" (wide)" if layers.get("wide") else "")


def knockout_text(row: dict[str, Any]) -> str:
    peak = row.get("knockout_peak")
    if not peak:
        return "n/a"
    drop = interval_text(peak.get("drop"), percent=True)
    return f"{peak.get('role')} at L{peak.get('layer')} ({peak.get('fraction_of_depth', 0):.2f} of depth): drop {drop}"


def table_rows(reports: list[ModelReport]) -> list[dict[str, Any]]:
    """One display row per (report, relation that passed its gate), text only (escaped where shown)."""
    rows = []
    for report in reports:
        for row in report.rows:
            if not row.get("passed"):
                continue
            rows.append(
                {
                    "model": report.model,
                    "prompt": report.prompt,
                    "relation": str(row.get("relation")),
                    "n_layers": report.n_layers,
                    "n_pairs": row.get("n_pairs"),
                    "n_skipped": row.get("n_skipped"),
                    "jump": jump_text(row, report.n_layers),
                    "mlp_share": interval_text(row.get("mlp_share"), percent=True),
                    "fact_sits": str(row.get("fact_sits") or "n/a"),
                    "knockout": knockout_text(row),
                    "probe_gap": report.probe_gaps.get(str(row.get("relation") or "all"), "—"),
                    "report": report,
                }
            )
    return rows


def gated_out(reports: list[ModelReport]) -> list[dict[str, Any]]:
    """The relations of each report that were not studied: below the gate (its metric, value, threshold), or no pair to study."""
    return [
        {"model": r.model, "prompt": r.prompt, "relation": row.get("relation"), "gate": row.get("gate"), "reason": row.get("reason")}
        for r in reports
        for row in r.rows
        if not row.get("passed")
    ]


# ---- the page --------------------------------------------------------------------------------------


Point = tuple[str, float, float | None, float | None, bool]
"""(relation, estimate, low, high, whether the interval is wide) of one quantity on one relation."""


def _depth(found: dict[str, Any], n_layers: int) -> Point | None:
    """A layer finding (jump or knockout peak) as a fraction of depth, with its layer interval."""
    if found.get("layer") is None:
        return None
    layers = found.get("layer_interval") or {}
    low = None if layers.get("low") is None else (layers["low"] + 1) / n_layers
    high = None if layers.get("high") is None else (layers["high"] + 1) / n_layers
    return ("", found["fraction_of_depth"], low, high, bool(layers.get("wide", True)))


def _point(row: dict[str, Any], key: str, n_layers: int) -> Point | None:
    """One row's point of quantity ``key`` (jump, mlp_share or knockout), None where it has none."""
    if key == "mlp_share":
        share = row.get("mlp_share") or {}
        if share.get("estimate") is None:
            return None
        found: Point | None = ("", share["estimate"], share.get("low"), share.get("high"), bool(share.get("wide", True)))
    else:
        found = _depth(row.get("jump" if key == "jump" else "knockout_peak") or {}, n_layers)
    return None if found is None else (str(row["relation"]), *found[1:])


def _series(reports: list[ModelReport], key: str) -> list[dict[str, Any]]:
    """Per report, the points of one quantity as a fraction (of depth, or a share), over the relations that passed."""
    out = []
    for report in reports:
        points = [_point(row, key, report.n_layers) for row in report.rows if row.get("passed")]
        out.append({"name": f"{report.model} ({report.prompt})", "points": [p for p in points if p is not None]})
    return out


def _axis_range(series: list[dict[str, Any]]) -> list[float]:
    """A y range holding every estimate and interval end (shares past 100% included), with a margin."""
    values = [v for s in series for point in s["points"] for v in point[1:4] if v is not None]
    low, high = min([0.0, *values]), max([1.0, *values])
    margin = 0.05 * (high - low)
    return [low - margin, high + margin]


def _traces(series: dict[str, Any], wide: bool, color: str, go: Any, plain_text: Callable[[str], str]) -> Any:
    """The points of one model whose interval is (or is not) wide: narrow ones filled, wide ones open and faint."""
    points = [p for p in series["points"] if p[4] == wide]
    if not points:
        return None
    relations, values, lows, highs, _ = zip(*points)
    plus = [None if h is None else h - v for v, h in zip(values, highs)]
    minus = [None if lo is None else v - lo for v, lo in zip(values, lows)]
    marker = {"size": 10, "symbol": "circle-open" if wide else "circle", "opacity": 0.55 if wide else 1.0, "color": color}
    name = plain_text(series["name"]) + (" (wide interval)" if wide else "")
    error = {"type": "data", "symmetric": False, "array": plus, "arrayminus": minus, "thickness": 1 if wide else 2, "color": color}
    group = plain_text(series["name"])  # a model's narrow and wide points share one slot beside the other models'
    x = [plain_text(r) for r in relations]
    return go.Scatter(x=x, y=list(values), mode="markers", marker=marker, name=name, error_y=error, offsetgroup=group, legendgroup=group)


def figures(reports: list[ModelReport]) -> list[tuple[str, Any]]:
    """(caption, plotly figure): jump depth, MLP share and knockout peak per relation, one trace per model (and one
    more, open markers, for its points whose interval is wide), 95% intervals as error bars, every point on its axis."""
    import plotly.graph_objects as go

    from fk_bench.pages import plain_text

    specs = [
        ("jump", "Where the answer direction jumps (largest DLA increase), as a fraction of depth", "fraction of depth ((layer + 1) / layers)"),
        ("mlp_share", "MLPs' share of the DLA summed over attention and MLP outputs (layers ≥ 1)", "MLP share"),
        ("knockout", "Where blocking the last position's attention hurts most (knockout peak), as a fraction of depth", "fraction of depth"),
    ]
    out = []
    for key, title, axis in specs:
        series = _series(reports, key)
        colors = [COLORS[i % len(COLORS)] for i in range(len(series))]  # a model's wide points in its own colour
        traces = [t for s, c in zip(series, colors) for wide in (False, True) if (t := _traces(s, wide, c, go, plain_text)) is not None]
        if not traces:
            continue
        fig = go.Figure(traces)
        yaxis = {"range": _axis_range(series), "tickformat": ".0%" if key == "mlp_share" else ".2f"}
        xaxis = {"title": "relation", "categoryorder": "category ascending"}  # the same order in every figure
        fig.update_layout(title=plain_text(title), yaxis_title=plain_text(axis), yaxis=yaxis, xaxis=xaxis, height=440, scattermode="group")
        caption = (
            "Each point: one model on one relation; bars: bootstrap 95% interval over that report's pairs. "
            "Open, faint points have a wide interval: not a finding on those pairs."
        )
        out.append((caption, fig))
    return out


def render_compare_page(reports: list[ModelReport], out: Path) -> tuple[str, int]:
    """The page's HTML and its number of figures; report links are relative to ``out``'s folder."""
    from fk_bench.pages import figure_html, render_page

    figs = figures(reports)
    rows = table_rows(reports)
    for row in rows:
        row["href"] = _relative(row["report"].path.with_name(REPORT_HTML), out)
    shown = [{"html": figure_html(fig, f"figure-{i}"), "caption": caption} for i, (caption, fig) in enumerate(figs)]
    page = render_page(
        "compare.html.j2",
        search_path=[TEMPLATES],
        reports=[{"report": report, "where": _relative(report.path, out)} for report in reports],
        counted=f"{len(reports)} interp report" + ("" if len(reports) == 1 else "s"),
        rows=rows,
        gated=gated_out(reports),
        figures=shown,
        expected_figures=len(shown),
    )
    return page, len(shown)


def _relative(path: Path, out: Path) -> str:
    """``path`` as the page at ``out`` links and shows it: relative to the page's folder, never absolute."""
    return os.path.relpath(path.resolve(), out.resolve().parent).replace(os.sep, "/")


def write_compare_page(sources: list[str | Path] | Reports, out: str | Path) -> tuple[Path, int, int]:
    """Write the cross-model page to ``out`` (from the reports under ``sources``, or those already read); returns
    (path, reports shown, figures)."""
    from fk_bench.files import write_text_atomic

    out = Path(out)
    if out.suffix.lower() not in (".html", ".htm"):
        raise FkBenchError(f"--out {out}: the page is HTML; give a .html path")
    reports = (sources if isinstance(sources, Reports) else load_reports(sources)).reports
    page, n_figures = render_compare_page(reports, out)
    write_text_atomic(out, page)
    return out, len(reports), n_figures
