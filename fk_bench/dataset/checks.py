"""Shortcut checks on built rows: the object-only baseline and the balance of objects, per relation.

The card prints them and the tests assert them on the packaged files, from the rows alone.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable

BASELINE_LIMIT = 0.55
"""The highest object-only baseline a relation may have."""


def object_only_baseline(rows: Iterable[dict]) -> dict[str, float]:
    """Per relation, the accuracy of a guess from the object alone: each question gets the majority label of
    the other questions with the same relation and object (leave one out); a tie, or no other question,
    scores 0.5. Knowing nothing of the subject, a model cannot do better from object priors."""
    labels: dict[tuple[str, str], Counter] = defaultdict(Counter)
    rows = list(rows)
    for row in rows:
        labels[row["relation"], row["object"]][row["answer"]] += 1
    scores: dict[str, list[float]] = defaultdict(list)
    for row in rows:
        others = labels[row["relation"], row["object"]].copy()
        others[row["answer"]] -= 1
        if others[True] == others[False]:
            scores[row["relation"]].append(0.5)
        else:
            scores[row["relation"]].append(float((others[True] > others[False]) == row["answer"]))
    return {relation: sum(values) / len(values) for relation, values in scores.items()}


def object_balance(rows: Iterable[dict]) -> dict[str, tuple[int, int]]:
    """Per relation, the largest gap between how often an object is true and how often it is false, and the
    most times one object is a false twin."""
    counts: dict[str, dict[str, Counter]] = defaultdict(lambda: defaultdict(Counter))
    for row in rows:
        counts[row["relation"]][row["object"]][row["answer"]] += 1
    return {
        relation: (max(abs(c[True] - c[False]) for c in objects.values()), max(c[False] for c in objects.values()))
        for relation, objects in counts.items()
    }
