"""The report page (``templates/report.html.j2``): every section's figures, self-contained, from report.json's data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from interp.pages.causal_figures import knockout_figures, tracing_figures
from interp.pages.figures import dla_figures, patching_figures, pattern_figures
from interp.probes.probe_page import TEMPLATES as PROBE_TEMPLATES
from interp.study.aggregate import shown_token

TEMPLATES = Path(__file__).parent / "templates"


SECTIONS = ("dla", "heads", "patching", "tracing", "knockout", "attribution")


def section_figures(data: dict[str, Any], section: dict[str, Any]) -> list[tuple[str, str, Any]]:
    """(kind, caption, plotly figure) for every figure of one section."""
    model = data["model"]
    return [
        *dla_figures(section, model),
        *pattern_figures(section),
        *patching_figures(section, model),
        *tracing_figures(section, model),
        *knockout_figures(section, model),
    ]


def probe_context(data: dict[str, Any], folder: Path, offset: int) -> dict[str, Any] | None:
    """The probe section of the report in ``folder``: its probe.json's, when ``fk-bench probe`` studied the same
    run (same run spec); None when there is none, or one of another run (a warning line says so)."""
    import sys

    from interp.probes.probe_defaults import PROBE_JSON
    from interp.probes.probe_page import probe_section_context
    from interp.probes.probe_schema import read_probe

    path = folder / PROBE_JSON
    if not path.is_file():
        return None
    probe = read_probe(path)
    if probe.run_spec != data["run"]["spec"]:
        print(f"fk-bench: warning: {path}: made from another run than this report's; its section is left out", file=sys.stderr)
        return None
    return probe_section_context(probe, offset)


def render_html(data: dict[str, Any], folder: Path | None = None) -> tuple[str, int]:
    """The self-contained page and its number of figures (with the probe section when ``folder`` holds the
    probe.json of the same run)."""
    from fk_bench.pages import figure_html, render_page

    shown, count = [], 0
    for section in data["sections"]:
        kinds: dict[str, list[dict[str, Any]]] = {kind: [] for kind in SECTIONS}
        if section.get("studied"):
            for kind, caption, fig in section_figures(data, section):
                kinds[kind].append({"html": figure_html(fig, f"figure-{count}"), "caption": caption})
                count += 1
        shown.append({"data": section, "figures": kinds})
    probe = probe_context(data, folder, count) if folder is not None else None
    count += len(probe["figures"]) if probe else 0
    page = render_page(
        "report.html.j2",
        search_path=[TEMPLATES, PROBE_TEMPLATES],
        data=data,
        sections=shown,
        probe=probe,
        expected_figures=count,
        shown_token=shown_token,
    )
    return page, count
