"""Cells of tables that are shared (the leaderboard's CSV and Markdown): data stays data.

A CSV opened in a spreadsheet runs a cell that starts with ``=``, ``+``, ``-``, ``@`` (or a tab or
carriage return before one) as a formula; :func:`csv_text` quotes such a cell with a leading ``'``
(OWASP's advice), and :func:`csv_safe` does it to every text cell of a table, leaving numbers alone
(``-0.3`` stays a number). A Markdown cell or heading is one line of inert text: :func:`markdown_text`
turns line breaks into spaces, HTML into entities and escapes the characters that make links,
emphasis, code or table cells, so a name cannot add headings, raw HTML, links or rows.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

from fk_bench.pages import UNSAFE_CHARACTERS

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")
"""What makes a spreadsheet read a cell as a formula (with the full-width forms some spreadsheets convert)."""
_MARKDOWN_SPECIAL = re.compile(r"([\\`*\[\]|~]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9]))")
"""What makes code, emphasis, links, images and table cells (``_`` inside a word, as in ``q4_k_m``, does not)."""


_AUTOLINK = re.compile(r"(?<=[A-Za-z]):(?=//)|(?<=mailto):|(?<=xmpp):|@|(?<=www)\.", re.IGNORECASE)
"""Where GFM's extended autolinks start (``https://x``, ``www.x``, ``a@b.c``, ``mailto:``): that one character is
written as a character reference, so the text reads the same and no renderer sees a link in it."""
_AUTOLINK_BREAK = {":": "&#58;", "@": "&#64;", ".": "&#46;"}


def csv_text(value: Any) -> Any:
    """A text cell that a spreadsheet shows as text: ``'=1+1`` for ``=1+1``; anything else unchanged."""
    if isinstance(value, str) and value.lstrip(" ").startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_safe(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with :func:`csv_text` applied to every text cell (numeric columns untouched)."""
    text_columns = [c for c in table.columns if not pd.api.types.is_numeric_dtype(table[c]) and not pd.api.types.is_bool_dtype(table[c])]
    return table.assign(**{str(c): table[c].map(csv_text) for c in text_columns}) if text_columns else table


def markdown_text(value: Any) -> str:
    """``value`` as inert text on one Markdown line (a table cell or a heading)."""
    text = UNSAFE_CHARACTERS.sub(" ", "" if value is None else str(value))
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _MARKDOWN_SPECIAL.sub(r"\\\1", text).strip()
    text = _AUTOLINK.sub(lambda m: _AUTOLINK_BREAK[m.group(0)], text)
    return re.sub(r"^([#+\-](?=\s|$)|[=>])", r"\\\1", text)  # what starts a heading, list or quote at a line's start


def markdown_code_block(text: str) -> list[str]:
    """``text`` as a fenced code block whose fence no run of backticks in ``text`` can close."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return [fence, text, fence]
