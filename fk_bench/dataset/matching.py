"""Choosing every false twin of a relation at once, so that the object alone tells nothing.

Picking each fact's most plausible distractor one by one makes some objects false twins again and again
(the lek for every euro country) and others never, so a guess from the object alone beats chance. Here
the choice is one assignment problem over the whole relation (:func:`scipy.optimize.linear_sum_assignment`):
each object offers as many "wanted" false-twin slots as it is a true object, plus at most one more, and
objects that are never true (``extra_objects``) one each. Filling wanted slots first (a large bonus),
then the most plausible twins (the relation's cost, a small penalty where the twin's name has another
token length, a little seeded noise so that a seed changes the draw), gives:

- balance: every object is the true object as often as a false one, within 1;
- spread: no object is a false twin more than :data:`MAX_FALSE` times;
- plausibility: the lowest total cost under those constraints.

A twin that the relation forbids (None cost, a known true object, a repeated false question) is never
chosen; a fact no twin can be found for is dropped and the problem solved again.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from fk_bench.dataset.entities import Entity
from fk_bench.dataset.relations.base import Cost, Fact

MAX_FALSE = 3
"""The most times one object is a false twin within a relation (so also the most it is a true object)."""
WANTED_BONUS = 1000.0
EXTRA_PENALTY = 2.0
LENGTH_PENALTY = 0.3
NOISE = 0.25
_INVALID = 1e9


@dataclass
class Counts:
    """How often each object (by key) is already a true and a false object, from earlier assignments."""

    true: Counter[str]
    false: Counter[str]

    @classmethod
    def empty(cls) -> Counts:
        return cls(Counter(), Counter())

    def add(self, pairs: Sequence[tuple[Fact, Entity]]) -> None:
        for fact, twin in pairs:
            self.true[fact.obj.key] += 1
            self.false[twin.key] += 1


def _slots(true_total: int, false_before: int) -> tuple[int, int]:
    """(wanted, optional) false-twin slots of an object that is ``true_total`` times a true object so far
    (this assignment included) and already ``false_before`` times a false one."""
    wanted = max(0, min(true_total - false_before, MAX_FALSE - false_before))
    ceiling = min(MAX_FALSE, true_total + 1)
    optional = 1 if false_before + wanted + 1 <= ceiling else 0
    return wanted, optional


def assign_twins(
    facts: Sequence[Fact],
    cost: Cost,
    rng: np.random.Generator,
    *,
    extra_objects: Sequence[Entity] = (),
    length: Callable[[Entity], int] | None = None,
    false_key: Callable[[Fact, Entity], Hashable] = lambda fact, twin: (fact.subject.key, twin.key),
    bad_twin: Callable[[Fact, Entity], bool] = lambda fact, twin: False,
    before: Counts | None = None,
    taken: frozenset[Hashable] = frozenset(),
) -> list[tuple[Fact, Entity]]:
    """A false twin for each fact that can have one, in the order of ``facts``, balanced and spread.

    ``before`` holds the counts of an earlier assignment of the same relation that these pairs will be
    merged with (the balance then holds for the union); ``false_key`` identifies a false question (two
    facts never get the same one); ``bad_twin`` vetoes an assigned twin after the fact (checked only on
    the chosen pairs, for checks too slow to run on every candidate); ``taken`` holds the false keys of
    earlier assignments (never repeated).
    """
    before = before or Counts.empty()
    active = list(range(len(facts)))
    objects_by_key: dict[str, Entity] = {}
    for fact in facts:
        objects_by_key.setdefault(fact.obj.key, fact.obj)
    for entity in extra_objects:
        if entity.key not in before.true:
            objects_by_key.setdefault(entity.key, entity)
    extra_keys = {entity.key for entity in extra_objects}
    universe = list(objects_by_key.values())
    position = {entity.key: column for column, entity in enumerate(universe)}
    lengths = [length(entity) for entity in universe] if length is not None else None
    base = np.full((len(facts), len(universe)), _INVALID)
    for row, fact in enumerate(facts):
        own = length(fact.obj) if length is not None else None
        for column, entity in enumerate(universe):
            if entity.key in fact.known or entity.key == fact.obj.key:
                continue
            value = cost(fact, entity)
            if value is not None:
                base[row, column] = value + (LENGTH_PENALTY if lengths is not None and lengths[column] != own else 0.0)

    def edge_cost(index: int, entity: Entity) -> float:
        return float(base[index, position[entity.key]])

    while active:
        true_now = Counter(facts[index].obj.key for index in active)
        keys = [key for key in position if key in true_now or (key in extra_keys and key not in before.true)]
        columns: list[tuple[str, float]] = []
        for key in keys:
            wanted, optional = _slots(before.true[key] + true_now[key], before.false[key])
            columns += [(key, -WANTED_BONUS)] * wanted + [(key, EXTRA_PENALTY)] * optional
        if not columns:
            return []
        matrix = base[np.ix_(active, [position[key] for key, _ in columns])]
        valid = matrix < _INVALID
        matrix = np.where(valid, matrix + np.array([bonus for _, bonus in columns]) + rng.uniform(0, NOISE, matrix.shape), _INVALID)
        rows, cols = linear_sum_assignment(matrix)
        chosen = {active[row]: objects_by_key[columns[col][0]] for row, col in zip(rows, cols)}
        impossible = {index for index in active if index not in chosen or edge_cost(index, chosen[index]) >= _INVALID}
        if impossible:
            active = [index for index in active if index not in impossible]
            continue
        if not _repair(active, chosen, facts, base, position, false_key, lambda fact, twin: bad_twin(fact, twin) or false_key(fact, twin) in taken):
            continue
        false_now = Counter(entity.key for entity in chosen.values())
        short = [
            key for key in true_now if before.true[key] + true_now[key] - before.false[key] - false_now[key] >= 2
        ]  # an object true twice more often than false: drop one of its facts (the last preferred)
        if short:
            drop = {max(index for index in active if facts[index].obj.key == key) for key in short}
            active = [index for index in active if index not in drop]
            continue
        return [(facts[index], chosen[index]) for index in active]
    return []


def _repair(
    active: list[int],
    chosen: dict[int, Entity],
    facts: Sequence[Fact],
    base: np.ndarray,
    position: dict[str, int],
    false_key: Callable[[Fact, Entity], Hashable],
    bad_twin: Callable[[Fact, Entity], bool],
) -> bool:
    """Give a fact whose false question repeats another's (or is vetoed) another fact's twin, the cheapest
    valid swap (the counts per object stay as they are). Where no swap exists, veto that twin in ``base``
    and return False (the caller solves again)."""
    keys = {index: false_key(facts[index], chosen[index]) for index in active}
    used = Counter(keys.values())
    solved = True
    for index in active:
        if used[keys[index]] == 1 and not bad_twin(facts[index], chosen[index]):
            continue
        mine = chosen[index]
        options = sorted(
            (other for other in active if chosen[other].key != mine.key),
            key=lambda other: base[index, position[chosen[other].key]] + base[other, position[mine.key]],
        )
        fixed = False
        for other in options:
            theirs = chosen[other]
            if base[index, position[theirs.key]] >= _INVALID or base[other, position[mine.key]] >= _INVALID:
                break  # sorted by cost: every later swap is invalid too
            new_mine, new_theirs = false_key(facts[index], theirs), false_key(facts[other], mine)
            used[keys[index]] -= 1
            used[keys[other]] -= 1
            if used[new_mine] or used[new_theirs] or new_mine == new_theirs or bad_twin(facts[index], theirs) or bad_twin(facts[other], mine):
                used[keys[index]] += 1
                used[keys[other]] += 1
                continue
            chosen[index], chosen[other] = theirs, mine
            keys[index], keys[other] = new_mine, new_theirs
            used[new_mine] += 1
            used[new_theirs] += 1
            fixed = True
            break
        if not fixed:
            base[index, position[mine.key]] = _INVALID
            solved = False
    return solved
