"""Reading a page as a browser and plotly do, for the tests of what a shared page may contain."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

from fk_bench.pages import plotly_js, safe_url

PLOTLY_SPLIT, PLOTLY_TAG = re.compile(r"(<[^<>]*>)"), re.compile(r"<(/?)([^ >]*)(\s+(.*))?>", re.I | re.S)
"""plotly.js's own tokenizer of text (svg_text_utils.js: SPLIT_TAGS and ONE_TAG)."""


def elements(page: str) -> list[tuple[str, list[tuple[str, str | None]]]]:
    """Every element a browser builds from ``page`` (plotly.js's own source left out): (tag, attributes)."""
    found: list[tuple[str, list[tuple[str, str | None]]]] = []

    class Parser(HTMLParser):
        def handle_starttag(self, tag, attrs):
            found.append((tag, attrs))

    Parser().feed(page.replace(plotly_js(), ""))
    return found


def figure_strings(page: str) -> list[str]:
    """Every string in every figure's ``Plotly.newPlot`` data and layout."""
    decoder, strings = json.JSONDecoder(), []

    def walk(value):
        if isinstance(value, str):
            strings.append(value)
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    for match in re.finditer(r"Plotly\.newPlot\(\s*\"[^\"]+\",", page):
        rest = page[match.end() :].lstrip()
        data, end = decoder.raw_decode(rest)
        layout, _ = decoder.raw_decode(rest[end:].lstrip(" ,\n"))
        walk(data)
        walk(layout)
    return strings


def plotly_tags(text: str) -> list[tuple[str, str]]:
    """The tags plotly reads in ``text``: (name, attributes)."""
    return [(m.group(2).lower(), m.group(4) or "") for part in PLOTLY_SPLIT.split(text) if (m := PLOTLY_TAG.fullmatch(part))]


def assert_inert(page: str, needle: str = "evil.example") -> None:
    """No element of ``page`` runs code or links anywhere but http(s)/relative, no attribute carries ``needle``
    (plotly's data-unformatted keeps a title's source text: an attribute's value, text), no script is the data's
    ``alert(...)`` (figures' JSON holds it as text)."""
    found = elements(page)
    assert not [e for e in found if any(name.startswith("on") for name, _ in e[1])], "an event handler from the data"
    assert all(safe_url(v) for tag, attrs in found if tag == "a" for n, v in attrs if n in ("href", "xlink:href")), "a link not http(s)/relative"
    assert needle not in " ".join(v or "" for _, attrs in found for n, v in attrs if n != "data-unformatted"), f"{needle} in an attribute"
    scripts = re.findall(r"<script[^>]*>(.*?)</script>", page.replace(plotly_js(), ""), re.S)
    assert not [s for s in scripts if s.strip().startswith("alert(")], "a script from the data"
