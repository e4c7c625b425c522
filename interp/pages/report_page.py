"""The report page (``templates/report.html.j2``): every section's figures, self-contained, from report.json's data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from interp.pages.causal_figures import knockout_figures, tracing_figures
from interp.pages.figures import dla_figures, patching_figures, pattern_figures
from interp.study.aggregate import shown_token

TEMPLATES = Path(__file__).parent / "templates"


SECTIONS = ("dla", "heads", "patching", "tracing", "knockout", "attribution")


def section_figures(data: dict, section: dict) -> list[tuple[str, str, Any]]:
    """(kind, caption, plotly figure) for every figure of one section."""
    model = data["model"]
    return [
        *dla_figures(section, model),
        *pattern_figures(section),
        *patching_figures(section, model),
        *tracing_figures(section, model),
        *knockout_figures(section, model),
    ]


def render_html(data: dict) -> tuple[str, int]:
    """The self-contained page and its number of figures."""
    from fk_bench.pages import figure_html, render_page

    shown, count = [], 0
    for section in data["sections"]:
        kinds: dict[str, list[dict]] = {kind: [] for kind in SECTIONS}
        if section.get("studied"):
            for kind, caption, fig in section_figures(data, section):
                kinds[kind].append({"html": figure_html(fig, f"figure-{count}"), "caption": caption})
                count += 1
        shown.append({"data": section, "figures": kinds})
    page = render_page("report.html.j2", search_path=[TEMPLATES], data=data, sections=shown, expected_figures=count, shown_token=shown_token)
    return page, count
