"""The leaderboard's derived columns and cell values, shared by the fk-bench and lm-eval readers.

Per-relation, per-domain and per-tercile figures are columns named ``<metric>[<relation>]``,
``<metric>[domain:<domain>]`` and ``paired_accuracy[popularity:<tercile>]``. A name the data brings in
(a relation, a domain) that holds ``[``, ``]`` or ``:`` could fake another kind of column (a relation
named ``popularity:high``): such a file is refused, never shown.
"""

from __future__ import annotations

import math
import re
from typing import Any

NA = "n/a"
RELATION_METRICS = ("paired_accuracy", "accuracy")
"""Per-relation columns, ``<metric>[<relation>]``."""
RESERVED = re.compile(r"[\[\]:\x00-\x1f\x7f]")
"""What a relation or domain name may not hold: the characters of the derived columns' names, control characters."""


def number(value: Any) -> float:
    """A metric as a float; missing, null or non-numeric -> NaN (shown as n/a)."""
    if value is None or isinstance(value, bool):
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def text(value: Any, default: str = NA) -> str:
    return default if value is None or value == "" else str(value)


def slice_label(limit: Any, per_relation: bool) -> str:
    """``all``, ``first 100`` or ``first 100 per relation``."""
    if limit is None or limit == "":
        return "all"
    if isinstance(limit, float) and limit.is_integer():
        limit = int(limit)
    return f"first {limit} per relation" if per_relation else f"first {limit}"


def check_name(name: str, what: str) -> str:
    """``name`` (a relation or domain of the data) when it cannot collide with a derived column; else ValueError."""
    if not name or RESERVED.search(name):
        raise ValueError(f"{what} name {name!r} holds '[', ']', ':' or a control character, which the leaderboard's columns reserve; rename it")
    return name


def breakdown_columns(per_relation: dict[str, Any], per_domain: dict[str, Any], by_popularity: dict[str, Any]) -> dict[str, float]:
    """``<metric>[<relation>]``, ``<metric>[domain:<domain>]`` and ``paired_accuracy[popularity:<tercile>]`` columns."""
    columns = {
        f"{metric}[{check_name(name, 'relation')}]": number(stats.get(metric))
        for name, stats in sorted(per_relation.items())
        for metric in RELATION_METRICS
    }
    columns.update(
        {
            f"{metric}[domain:{check_name(name, 'domain')}]": number(stats.get(metric))
            for name, stats in sorted(per_domain.items())
            for metric in RELATION_METRICS
        }
    )
    columns.update({f"paired_accuracy[popularity:{name}]": number(stats.get("paired_accuracy")) for name, stats in by_popularity.items()})
    return columns
