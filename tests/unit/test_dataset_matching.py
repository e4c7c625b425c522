"""The assignment of false twins (fk_bench.dataset.matching): balance, spread, vetoes, no repeats."""

from __future__ import annotations

from collections import Counter

import numpy as np

from fk_bench.dataset.entities import plain
from fk_bench.dataset.matching import MAX_FALSE, Counts, assign_twins
from fk_bench.dataset.relations.base import Fact


def facts_of(pairs: list[tuple[str, str]], known: dict[str, set[str]] | None = None) -> list[Fact]:
    known = known or {}
    return [Fact(plain(subject), plain(obj), frozenset({plain(obj).key} | {plain(o).key for o in known.get(subject, ())})) for subject, obj in pairs]


def check(pairs, before: Counts | None = None) -> None:
    before = before or Counts.empty()
    true = Counter(fact.obj.key for fact, _ in pairs) + before.true
    false = Counter(twin.key for _, twin in pairs) + before.false
    for key in set(true) | set(false):
        assert abs(true[key] - false[key]) <= 1 and false[key] <= MAX_FALSE, key
    for fact, twin in pairs:
        assert twin.key not in fact.known


def test_a_skewed_relation_is_balanced_object_by_object():
    """Ten countries of one currency and one each of six others: the common one cannot be a false twin more
    than it is true, so most of its facts go, and every object ends as often true as false (within 1)."""
    facts = facts_of([(f"euro land {i}", "euro") for i in range(10)] + [(f"land {i}", f"currency {i}") for i in range(6)])
    pairs = assign_twins(facts, lambda fact, twin: 1.0, np.random.default_rng(0))
    check(pairs)
    assert 4 <= len(pairs) <= 10 and Counter(fact.obj.key for fact, _ in pairs)["euro"] <= MAX_FALSE + 1


def test_the_cheapest_twins_are_chosen_and_forbidden_ones_never():
    facts = facts_of([("a", "1"), ("b", "2"), ("c", "3"), ("d", "4")])

    def cost(fact, twin):
        if (fact.subject.name, twin.name) == ("a", "2"):
            return None  # forbidden
        return abs(int(twin.name) - int(fact.obj.name))

    pairs = assign_twins(facts, cost, np.random.default_rng(1))
    twins = {fact.subject.name: twin.name for fact, twin in pairs}
    assert len(pairs) == 4 and twins["a"] != "2"
    check(pairs)
    assert sum(abs(int(twin) - int(obj)) for obj, twin in zip("1234", (twins[s] for s in "abcd"))) <= 6


def test_no_false_question_repeats_and_known_objects_are_never_twins():
    """One subject with three facts (a country with three neighbours) never gets the same twin twice."""
    facts = facts_of([("x", "p"), ("x", "q"), ("x", "r"), ("y", "s"), ("z", "t"), ("w", "u")], known={"x": {"p", "q", "r"}})
    pairs = assign_twins(facts, lambda fact, twin: 1.0, np.random.default_rng(2))
    keys = [(fact.subject.key, twin.key) for fact, twin in pairs]
    assert len(keys) == len(set(keys))
    check(pairs)


def test_a_second_part_keeps_the_union_balanced_and_avoids_taken_questions():
    first = facts_of([(f"s{i}", f"o{i % 4}") for i in range(8)])
    pairs = assign_twins(first, lambda fact, twin: 1.0, np.random.default_rng(3))
    counts = Counts.empty()
    counts.add(pairs)
    taken = frozenset((fact.subject.key, twin.key) for fact, twin in pairs)
    second = facts_of([(f"t{i}", f"o{i % 4}") for i in range(4)] + [("s0", "o1")])
    more = assign_twins(second, lambda fact, twin: 1.0, np.random.default_rng(4), before=counts, taken=taken)
    check(pairs + more)
    assert not {(fact.subject.key, twin.key) for fact, twin in more} & taken


def test_a_seed_changes_the_draw():
    facts = facts_of([(f"s{i}", f"o{i}") for i in range(30)])
    draws = {tuple(twin.key for _, twin in assign_twins(facts, lambda fact, twin: 1.0, np.random.default_rng(seed))) for seed in range(3)}
    assert len(draws) == 3
