"""Self-contained HTML pages (the leaderboard, the interp report) from Jinja2 templates.

Every page extends ``base.html.j2``: shared CSS, plotly.js inlined once (pages open offline), a trap
that records JavaScript errors and a check that counts the figures drawn, both read by the
headless-browser tests (``data-js-errors``, ``data-rendered`` on ``<body>``).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from pathlib import Path
from typing import Any

TEMPLATES = Path(__file__).parent / "templates"


@functools.lru_cache(maxsize=8)
def _environment(search_path: tuple[str, ...]) -> Any:
    import jinja2

    loader = jinja2.FileSystemLoader([*search_path, str(TEMPLATES)])
    env = jinja2.Environment(loader=loader, autoescape=jinja2.select_autoescape(["html", "j2"]), undefined=jinja2.StrictUndefined)
    env.filters["num"] = format_number
    return env


@functools.lru_cache(maxsize=1)
def plotly_js() -> str:
    """plotly.js's minified source, inlined once per page."""
    import plotly.offline

    return plotly.offline.get_plotlyjs()


def format_number(value: Any, digits: int = 3) -> str:
    """A metric for display: fixed digits, "n/a" for a missing or non-finite value."""
    if value is None or isinstance(value, bool):
        return "n/a" if value is None else str(value)
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if number != number or number in (float("inf"), float("-inf")):
        return "n/a"
    if float(number).is_integer() and isinstance(value, int):
        return f"{int(number):,}"
    return f"{number:.{digits}f}"


def figure_html(fig: Any, div_id: str) -> str:
    """A plotly figure as a ``<div>`` (plotly.js comes from the page shell, not from each figure)."""
    fig.update_layout(template="plotly_white")
    return fig.to_html(full_html=False, include_plotlyjs=False, div_id=div_id, config={"responsive": True})


def render_page(template: str, search_path: Iterable[str | Path] = (), **context: Any) -> str:
    """Render ``template`` (found in ``search_path``, then the shared templates) into a whole page."""
    from markupsafe import Markup

    import fk_bench

    env = _environment(tuple(str(p) for p in search_path))
    return env.get_template(template).render(plotly_js=Markup(plotly_js()), fk_bench_version=fk_bench.__version__, **context)
