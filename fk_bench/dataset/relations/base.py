"""What a relation is: question templates, a domain, its sources, and a builder of true facts with the
cost of each possible false twin.

A builder returns a :class:`FactTable`: the true facts in the order it prefers them (the per-object cap
keeps the first ones), what every subject is known to be related to (never a false twin), a cost for
each candidate false twin (lower is more plausible: near, same kind; None where it would be wrong or
give the answer away) and the number of facts dropped because two sources disagree. Which object
becomes whose false twin is decided for the whole relation at once (:mod:`fk_bench.dataset.matching`),
so every object is the true object as often as a false one.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from fk_bench.dataset.entities import Entity, render

if TYPE_CHECKING:
    from fk_bench.dataset.knowledge import KnowledgeBase

T = TypeVar("T")


@dataclass(frozen=True)
class Fact:
    """A true (subject, object) fact; ``known`` holds the keys of every object the sources relate the
    subject to (the true one included): none of them is ever its false twin."""

    subject: Entity
    obj: Entity
    known: frozenset[str]
    popularity: float | None = None


Cost = Callable[[Fact, Entity], "float | None"]


@dataclass
class FactTable:
    """A relation's true facts (preferred first), the cost of a false twin, and what was dropped.

    ``extra_objects`` may each be a false twin once though they are never a true object (an object
    is the true object as often as a false one within 1). ``dropped`` counts facts left out because
    the sources disagree; ``confirmed`` says which facts a second source confirms: all (True), none
    (False) or those whose subject key it holds.
    """

    facts: list[Fact]
    cost: Cost
    extra_objects: tuple[Entity, ...] = ()
    dropped: int = 0
    confirmed: bool | frozenset[str] = False
    notes: list[str] = field(default_factory=list)

    def is_confirmed(self, fact: Fact) -> bool:
        return self.confirmed if isinstance(self.confirmed, bool) else fact.subject.key in self.confirmed


@dataclass(frozen=True)
class Relation:
    """A relation: its question templates (``t0`` first, the canonical wording), domain and builder."""

    name: str
    domain: str
    description: str
    templates: tuple[str, ...]
    sources: tuple[str, ...]
    build: Callable[[KnowledgeBase, random.Random], FactTable]
    symmetric: bool = False

    def question(self, template: int, subject: Entity, obj: Entity) -> str:
        return render(self.templates[template], subject, obj)

    @property
    def template_names(self) -> tuple[str, ...]:
        return tuple(f"t{index}" for index in range(len(self.templates)))


def shuffled(items: Iterable[T], rng: random.Random) -> list[T]:
    """The items in a seeded random order."""
    items = list(items)
    rng.shuffle(items)
    return items


def round_robin(facts: Iterable[Fact], key: Callable[[Fact], Hashable]) -> list[Fact]:
    """Facts reordered so that the groups of ``key`` take turns (the first ones of a capped relation are
    spread over every group, not all from the largest)."""
    groups: dict[Hashable, list[Fact]] = defaultdict(list)
    for fact in facts:
        groups[key(fact)].append(fact)
    queues = list(groups.values())
    ordered: list[Fact] = []
    for turn in range(max((len(queue) for queue in queues), default=0)):
        ordered.extend(queue[turn] for queue in queues if turn < len(queue))
    return ordered


def uniform_cost(fact: Fact, candidate: Entity) -> float:
    """Every false twin as plausible as another (the source has no notion of near)."""
    return 1.0
