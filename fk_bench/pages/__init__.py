"""Self-contained HTML pages (the leaderboard, the interp report) from Jinja2 templates, safe to share.

Every page extends ``base.html.j2``: shared CSS, plotly.js inlined once (pages open offline), a trap
that records JavaScript errors and a check that counts the figures drawn, both read by the
headless-browser tests (``data-js-errors``, ``data-rendered`` on ``<body>``).

Pages are built from files other people wrote (result folders, model names, questions), so the
template layer treats every value as hostile text (docs/bad-input.md, "Shared pages and tables"):

- the Jinja2 environment autoescapes everything (``| safe`` only for our own figure HTML);
- ``safe_url`` (filter and function) lets through http, https and relative links only; anything else
  (``javascript:``, ``data:``, ``//host``) is no link, and the ``link`` filter then writes plain text;
  ``path_url`` turns a relative file path into such a link, percent-encoded (a folder named
  ``javascript:x`` becomes the harmless relative ``javascript%3Ax``);
- ``plain_text`` makes text inert for plotly, which renders a subset of HTML (links, styles, line
  breaks) in titles, legends, axis, hover and cell text; and :func:`figure_html` removes any link tag
  left in a figure, whatever a figure's author forgot.
"""

from __future__ import annotations

import functools
import re
import urllib.parse
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import jinja2
    from markupsafe import Markup

TEMPLATES = Path(__file__).parent / "templates"
ALLOWED_SCHEMES = ("http", "https")

_C0_OR_SPACE = "".join(chr(c) for c in range(0x21))
_TAB_OR_NEWLINE = re.compile(r"[\t\n\r]")
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")
UNSAFE_CHARACTERS = re.compile(r"[\x00-\x1f\x7f\u2028\u2029\u202a-\u202e\u2066-\u2069]+")
"""Control characters, line/paragraph separators and bidi overrides (which reorder what a name shows)."""
_PLOTLY_TAG_SPLIT = re.compile(r"(<[^<>]*>)")  # plotly.js's own tokenizer (svg_text_utils: SPLIT_TAGS, ONE_TAG)
_PLOTLY_TAG = re.compile(r"<(/?)([^ >]*)(\s+(.*))?>", re.IGNORECASE | re.DOTALL)


@functools.lru_cache(maxsize=8)
def _environment(search_path: tuple[str, ...]) -> jinja2.Environment:
    import jinja2

    loader = jinja2.FileSystemLoader([*search_path, str(TEMPLATES)])
    env = jinja2.Environment(loader=loader, autoescape=True, undefined=jinja2.StrictUndefined)
    env.filters.update(num=format_number, safe_url=safe_url, path_url=path_url, plain_text=plain_text, link=link)
    env.globals.update(safe_url=safe_url, link=link)
    return env


@functools.lru_cache(maxsize=1)
def plotly_js() -> str:
    """plotly.js's minified source, inlined once per page."""
    import plotly.offline

    source: str = plotly.offline.get_plotlyjs()  # plotly is untyped
    return source


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


# ---------------------------------------------------------------- links


def safe_url(url: Any) -> str | None:
    """``url`` when a browser would open it as an http(s) or relative link, else None (no link).

    Read as browsers read it (WHATWG URL): leading/trailing control characters and spaces are dropped
    and tabs/newlines anywhere ignored, so ``" java\\tscript:..."`` is seen as the ``javascript:``
    URL it is. Network-path references (``//host/x``, ``\\\\host``) are refused too: on a page opened
    from disk they reach another machine.
    """
    if not isinstance(url, str):
        return None
    cleaned = _TAB_OR_NEWLINE.sub("", url.strip(_C0_OR_SPACE))
    if not cleaned or UNSAFE_CHARACTERS.search(cleaned):
        return None
    scheme = _SCHEME.match(cleaned)
    if scheme is not None:
        return cleaned if scheme.group(1).lower() in ALLOWED_SCHEMES else None
    if cleaned[:2].replace("\\", "/") == "//":
        return None
    return cleaned


def path_url(path: Any) -> str | None:
    """A relative file path (``../results/run/results.json``) as a relative link, each segment
    percent-encoded: a folder named ``javascript:alert(1)`` or ``a#b`` stays a path to that folder.
    None for no path, an absolute path or a URL (use :func:`safe_url` for those)."""
    if isinstance(path, Path):
        path = path.as_posix()
    if not isinstance(path, str) or not path or path.startswith("/") or UNSAFE_CHARACTERS.search(path):
        return None
    return safe_url("/".join(urllib.parse.quote(part, safe="") for part in path.split("/")))


def link(url: Any, text: Any) -> Markup:
    """``<a href="url">text</a>`` when ``url`` is safe (:func:`safe_url`), else ``text`` alone; both escaped."""
    from markupsafe import Markup, escape

    href = safe_url(url)
    return Markup('<a href="{}">{}</a>').format(href, text) if href else escape(text)


# ---------------------------------------------------------------- plotly text


def plain_text(text: Any) -> str:
    """``text`` as plotly shows it literally: ``<``, ``>`` and ``&`` as entities (plotly reads tags such
    as ``<a href>``, ``<span style>`` and ``<br>``, and decodes entities only inside text), line breaks
    and control characters as one space, and ``%{`` broken so a hover template never reads it as a field.

    For every title, legend entry, axis label, category, hover and cell text that holds data (a model
    name, a question, a relation, a token). Not for HTML: Jinja2 escapes that itself.
    """
    if text is None:
        return ""
    value = str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return UNSAFE_CHARACTERS.sub(" ", value).replace("%{", "%\u200b{")


def _unlinked(text: str) -> str:
    """``text`` without link tags (``<a ...>``, ``</a>``), read as plotly.js reads tags."""
    if "<" not in text:
        return text
    parts = _PLOTLY_TAG_SPLIT.split(text)
    return "".join(p for p in parts if not ((tag := _PLOTLY_TAG.fullmatch(p)) and tag.group(2).lower() == "a"))


def _without_links(value: Any) -> Any:
    if isinstance(value, str):
        return _unlinked(value)
    if isinstance(value, dict):
        return {key: _without_links(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_without_links(item) for item in value]
    if getattr(value, "dtype", None) is not None and value.dtype.kind in "OUS":  # a numpy array of text
        return _without_links(value.tolist())
    return value  # numbers, numpy arrays of numbers


def figure_html(fig: Any, div_id: str) -> str:
    """A plotly figure as a ``<div>`` (plotly.js comes from the page shell, not from each figure).

    Every string of the figure loses its link tags first: no figure of a shared page carries a link,
    even where a title was built from data without :func:`plain_text`. plotly escapes ``<``, ``>``
    and ``/`` in the figure's JSON, so no text ends the ``<script>`` it sits in.
    """
    import plotly.io

    fig.update_layout(template="plotly_white")
    spec = _without_links(fig.to_plotly_json())
    html: str = plotly.io.to_html(spec, full_html=False, include_plotlyjs=False, div_id=div_id, config={"responsive": True}, validate=False)
    return html  # plotly is untyped


def render_page(template: str, search_path: Iterable[str | Path] = (), **context: Any) -> str:
    """Render ``template`` (found in ``search_path``, then the shared templates) into a whole page.

    Autoescaped; ``safe_url``, ``path_url``, ``link`` and ``plain_text`` are filters (and ``safe_url``,
    ``link`` functions) in every template.
    """
    from markupsafe import Markup

    import fk_bench

    env = _environment(tuple(str(p) for p in search_path))
    return env.get_template(template).render(plotly_js=Markup(plotly_js()), fk_bench_version=fk_bench.__version__, **context)
