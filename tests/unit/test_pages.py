"""What a shared page may contain: escaping, the link allow-list, inert plotly text, CSV and Markdown cells
(docs/bad-input.md, "Shared pages and tables")."""

from __future__ import annotations

import html
import importlib.util
import json
import re

import pandas as pd
import plotly.graph_objects as go
import pytest

from fk_bench.pages import figure_html, link, path_url, plain_text, render_page, safe_url
from fk_bench.pages.tables import csv_safe, csv_text, markdown_code_block, markdown_text

HOSTILE = [
    '<a href="https://evil.example">click</a>',
    "<script>alert(1)</script>",
    '<span style="font-size:0">hidden</span><b>bold</b><br>next line',
    "line one\nline two\r\n## heading\u2028sep",
    "\u202egnp.exe",  # a bidi override
    "%{customdata[0]} &lt;a href=x&gt; & co",
    '=HYPERLINK("https://evil.example")',
]
# plotly.js's own tokenizer (svg_text_utils.js: SPLIT_TAGS and ONE_TAG)
PLOTLY_SPLIT, PLOTLY_TAG = re.compile(r"(<[^<>]*>)"), re.compile(r"<(/?)([^ >]*)(\s+(.*))?>", re.I | re.S)


def plotly_arguments(page: str) -> tuple[list, dict]:
    """The data and layout a figure's ``Plotly.newPlot`` call draws."""
    decoder = json.JSONDecoder()
    start = page.index("Plotly.newPlot(")
    rest = page[page.index(",", start) + 1 :].lstrip()
    data, end = decoder.raw_decode(rest)
    layout, _ = decoder.raw_decode(rest[end:].lstrip(" ,\n"))
    return data, layout


def plotly_tags(text: str) -> list[str]:
    return [m.group(2).lower() for part in PLOTLY_SPLIT.split(text) if (m := PLOTLY_TAG.fullmatch(part))]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://example.org/a?b=1#c", "https://example.org/a?b=1#c"),
        ("HTTP://example.org", "HTTP://example.org"),
        ("../results/run/results.json", "../results/run/results.json"),
        ("report.html#top", "report.html#top"),
        ("/abs/path.html", "/abs/path.html"),
        ("javascript:alert(document.domain)", None),
        ("JavaScript:alert(1)", None),
        (" \x01javascript:alert(1)", None),  # browsers drop leading control characters and spaces
        ("java\tscr\nipt:alert(1)", None),  # ... and tabs and newlines anywhere
        ("vbscript:msgbox", None),
        ("data:text/html,<script>alert(1)</script>", None),
        ("file:///etc/passwd", None),
        ("mailto:a@b.c", None),
        ("//evil.example/x", None),
        ("\\\\evil.example\\x", None),
        ("/\\evil.example", None),
        ("a\u202eb.html", None),
        ("", None),
        (None, None),
        (42, None),
    ],
)
def test_safe_url_lets_through_http_https_and_relative_links_only(url, expected):
    assert safe_url(url) == expected


def test_path_url_keeps_a_hostile_folder_a_working_relative_path():
    assert path_url("../javascript:alert(document.domain)/results.json") == "../javascript%3Aalert%28document.domain%29/results.json"
    assert path_url("javascript:alert(1)/results.json") == "javascript%3Aalert%281%29/results.json"
    assert path_url("a b/#c?d/r.json") == "a%20b/%23c%3Fd/r.json"
    assert path_url("/etc/passwd") is None and path_url(None) is None and path_url("a\nb") is None


def test_link_writes_text_alone_for_an_unsafe_url():
    assert str(link("javascript:alert(1)", "<b>x</b>")) == "&lt;b&gt;x&lt;/b&gt;"
    assert str(link('a".html', "t")) == '<a href="a&#34;.html">t</a>'


@pytest.mark.parametrize("text", HOSTILE)
def test_plain_text_is_inert_for_plotly_and_shows_the_text(text):
    shown = plain_text(text)
    assert plotly_tags(shown) == [], "plotly reads no tag in it"
    assert "\n" not in shown and "\r" not in shown and "\u202e" not in shown and "%{" not in shown
    # plotly decodes entities inside text: the reader sees the original characters
    assert html.unescape(shown).replace("\u200b", "") == re.sub(r"[\x00-\x1f\u2028\u202e]+", " ", text)


def test_figure_html_removes_links_from_every_string_of_a_figure():
    fig = go.Figure(go.Scatter(x=["a"], y=[1], name='<a href="https://evil.example">legend</a>', customdata=[['<A HREF="https://x">c</A>']]))
    fig.update_layout(title={"text": 'Title <a href="https://evil.example">here</a><br><b>kept</b>'})
    page = figure_html(fig, "f")
    data, layout = plotly_arguments(page)
    assert data[0]["name"] == "legend" and data[0]["customdata"] == [["c"]]
    assert layout["title"]["text"] == "Title here<br><b>kept</b>", "our own markup stays"
    assert "</script>" not in page.split("<script", 1)[1].rsplit("</script>", 1)[0], "no text ends the figure's script"
    assert "evil.example" not in page


def test_every_template_autoescapes_and_has_the_helpers(tmp_path):
    (tmp_path / "t.txt").write_text('{{ x }}|{{ u | link("t") }}|{{ u | safe_url }}|{{ p | path_url }}|{{ x | plain_text }}')
    out = render_page("t.txt", search_path=[tmp_path], x="<script>", u="javascript:alert(1)", p="javascript:x/r.json")
    assert out == "&lt;script&gt;|t|None|javascript%3Ax/r.json|&amp;lt;script&amp;gt;"


def test_csv_cells_that_a_spreadsheet_would_run_are_quoted():
    for cell in ("=1+1", "+1", "-1+2", "@SUM(A1)", "\t=1", "\r=1", " =1", "\uff1d1+1"):
        assert csv_text(cell) == "'" + cell
    for cell in ("model", "1.5", "a=b", "", 3, -0.5, None):
        assert csv_text(cell) == cell
    table = pd.DataFrame({"model": ["=cmd|' /C calc'!A0", "ok"], "log_odds": [-0.3, 0.2], "n": [1, 2], "flag": [True, False]})
    safe = csv_safe(table)
    assert list(safe["model"]) == ["'=cmd|' /C calc'!A0", "ok"]
    assert list(safe["log_odds"]) == [-0.3, 0.2], "numbers stay numbers" and safe["n"].dtype == table["n"].dtype


@pytest.mark.parametrize(
    "text", [*HOSTILE, "[x](javascript:alert(1)) ![i](https://evil.example/i.png) `code` **b** _e_ a|b ~~s~~ <https://x>", "- item", "+ item", "# h"]
)
def test_markdown_cells_render_as_their_text_on_one_line(text):
    markdown_it = pytest.importorskip("markdown_it")
    renderer = markdown_it.MarkdownIt("commonmark", {"html": True}).enable("table")  # a renderer that lets raw HTML through
    cell = markdown_text(text)
    assert "\n" not in cell and "\r" not in cell
    table = renderer.render(f"## {cell}\n\n| name | n |\n|---|---:|\n| {cell} | 1 |\n")
    assert table.count("<h2>") == 1 and table.count("<tr>") == 2 and table.count("<td") == 2
    tags = set(re.findall(r"<\s*/?\s*([a-zA-Z0-9]+)", table))
    assert tags <= {"h2", "table", "thead", "tbody", "tr", "th", "td"}, f"no link, image, emphasis, code or raw HTML: {tags}"
    heading = re.search(r"<h2>(.*)</h2>", table).group(1)
    assert html.unescape(heading) == re.sub(r"[\x00-\x1f\u2028\u202e]+", " ", text).strip()


def test_numbers_stay_as_written_in_markdown():
    assert [markdown_text(v) for v in ("-0.250", "-356% [-3%, 5%]", "#1")] == ["-0.250", "-356% \\[-3%, 5%\\]", "#1"]


def test_a_code_block_cannot_be_closed_by_its_text():
    block = markdown_code_block("fk-bench leaderboard ````\n# not a heading")
    assert block[0] == block[-1] == "`````"


@pytest.mark.parametrize("text", ["https://evil.example/x", "see www.evil.example now", "mail me@evil.example", "mailto:me@x.y", "HTTP://X.Y"])
def test_bare_urls_and_emails_in_markdown_are_never_autolinks(text):
    """GFM (GitHub) links bare URLs, www. names and e-mail addresses: the cell breaks each with one character
    reference, so it reads as the same text and no renderer finds a link."""
    cell = markdown_text(text)
    assert not re.search(r"(?i)[a-z]://|www\.|@|mailto:", cell)
    assert html.unescape(cell) == text
    markdown_it = pytest.importorskip("markdown_it")
    renderer = markdown_it.MarkdownIt("gfm-like", {"linkify": True}) if importlib.util.find_spec("linkify_it") else markdown_it.MarkdownIt()
    assert "<a" not in renderer.render(f"| {cell} |\n|---|\n")
