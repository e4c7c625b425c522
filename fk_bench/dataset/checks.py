"""Shortcut checks on built rows, per relation: the object-only baseline, the balance of objects, and
every surface feature a model could guess the label from without knowing the fact (word overlap,
length, capitals, object frequency, alphabetical rank...).

The card prints them and the tests assert them on the packaged files, from the rows alone.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import Any

from fk_bench.dataset.entities import name_key

BASELINE_LIMIT = 0.55
"""The highest object-only baseline a relation may have."""


def object_only_baseline(rows: Iterable[dict[str, Any]]) -> dict[str, float]:
    """Per relation, the accuracy of a guess from the object alone: each question gets the majority label of
    the other questions with the same relation and object (leave one out); a tie, or no other question,
    scores 0.5. Knowing nothing of the subject, a model cannot do better from object priors."""
    labels: dict[tuple[str, str], Counter[bool]] = defaultdict(Counter)
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


def object_balance(rows: Iterable[dict[str, Any]]) -> dict[str, tuple[int, int]]:
    """Per relation, the largest gap between how often an object is true and how often it is false, and the
    most times one object is a false twin."""
    counts: dict[str, dict[str, Counter[bool]]] = defaultdict(lambda: defaultdict(Counter))
    for row in rows:
        counts[row["relation"]][row["object"]][row["answer"]] += 1
    return {
        relation: (max(abs(c[True] - c[False]) for c in objects.values()), max(c[False] for c in objects.values()))
        for relation, objects in counts.items()
    }


OVERLAP_STOPWORDS = frozenset({"the", "and", "from", "with", "city", "republic", "state", "states", "island", "islands"})
SHORTCUT_FOLDS = 5


def _stems(text: str) -> frozenset[str]:
    """The first five letters of each word of four letters or more ('Korean' and 'Korea' share 'korea')."""
    return frozenset(word[:5] for word in re.findall(r"[^\W\d_]+", name_key(text)) if len(word) >= 4 and word not in OVERLAP_STOPWORDS)


def word_overlap(subject: str, obj: str) -> bool:
    """Whether a subject and an object share a word stem ("North Korea", "the North Korean Won"): a question
    whose object repeats its subject looks true."""
    return bool(_stems(subject) & _stems(obj))


def _majority_loo(rows: list[dict[str, Any]], key: str) -> list[float]:
    """Per row, 1 if the majority label of the other rows with the same ``key`` value is its label, 0 if not, 0.5 on a tie."""
    labels: dict[str, Counter[bool]] = defaultdict(Counter)
    for row in rows:
        labels[row[key]][row["answer"]] += 1
    scores = []
    for row in rows:
        others = labels[row[key]].copy()
        others[row["answer"]] -= 1
        scores.append(0.5 if others[True] == others[False] else float((others[True] > others[False]) == row["answer"]))
    return scores


def shortcut_features(rows: list[dict[str, Any]], frequency: Counter[str]) -> dict[str, list[float]]:
    """One number per row for each surface feature a model could guess the label from without the fact:
    word overlap of subject and object, the question's length in characters and in words, its length
    against its twin's, the object's capitalised words, how often the object appears in the whole
    dataset (``frequency``) and its alphabetical rank among the relation's objects."""
    objects = sorted({row["object"] for row in rows})
    rank = {obj: index / max(1, len(objects) - 1) for index, obj in enumerate(objects)}
    return {
        "overlap": [float(word_overlap(row["subject"], row["object"])) for row in rows],
        "length": [float(len(row["question"])) for row in rows],
        "words": [float(len(row["question"].split())) for row in rows],
        "shorter": [float(len(row["question"]) - len(row["corrupted_question"])) for row in rows],
        "capitals": [float(sum(word[:1].isupper() for word in row["object"].split())) for row in rows],
        "frequency": [float(frequency[row["object"]]) for row in rows],
        "alphabetical": [rank[row["object"]] for row in rows],
    }


SHORTCUTS = ("object", "subject", "overlap", "length", "words", "shorter", "capitals", "frequency", "alphabetical")
"""The shortcut checks, in the card's column order: object-only and subject-only majority (leave one out),
then a one-feature classifier per :func:`shortcut_features` feature."""


def shortcut_accuracies(rows: Iterable[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Per relation and shortcut, the accuracy of guessing the label from that one feature: the majority
    label of the other rows with the same object (or subject), or a depth-2 decision tree on the feature
    under 5-fold cross-validation grouped by pair (both questions of a pair in one fold), so the number
    is what the feature predicts on unseen pairs. Chance is 0.5."""
    import numpy as np
    from sklearn.model_selection import GroupKFold, cross_val_predict
    from sklearn.tree import DecisionTreeClassifier

    rows = list(rows)
    frequency = Counter(row["object"] for row in rows)
    by_relation: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_relation[row["relation"]].append(row)
    result: dict[str, dict[str, float]] = {}
    for relation, members in by_relation.items():
        labels = np.array([row["answer"] for row in members])
        groups = [row["pair_id"] for row in members]
        scores = {"object": float(np.mean(_majority_loo(members, "object"))), "subject": float(np.mean(_majority_loo(members, "subject")))}
        folds = GroupKFold(n_splits=min(SHORTCUT_FOLDS, len(set(groups))))
        for name, values in shortcut_features(members, frequency).items():
            tree = DecisionTreeClassifier(max_depth=2, min_samples_leaf=10, random_state=0)
            predicted = cross_val_predict(tree, np.array(values).reshape(-1, 1), labels, groups=groups, cv=folds)
            scores[name] = float(np.mean(predicted == labels))
        result[relation] = {name: scores[name] for name in SHORTCUTS}
    return result


def shortcut_limit(rows: int) -> float:
    """The highest shortcut accuracy a relation of ``rows`` questions may show: :data:`BASELINE_LIMIT` plus two
    standard errors of a coin's accuracy on that many questions (what its size allows by chance)."""
    return BASELINE_LIMIT + 2 * 0.5 / float(rows**0.5)
