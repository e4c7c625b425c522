"""US states, the District of Columbia and the inhabited territories: capitals (`us`, checked against
GeoNames) and postal abbreviations (`us` against ISO 3166-2 via pycountry)."""

from __future__ import annotations

import random
from collections import defaultdict
from typing import TYPE_CHECKING

from fk_bench.dataset.entities import Entity, country_text, is_plural_name, name_key, near_cost, plain
from fk_bench.dataset.knowledge import KnowledgeBase
from fk_bench.dataset.relations.base import Fact, FactTable, Relation, shuffled
from fk_bench.dataset.relations.geography import place_where

if TYPE_CHECKING:
    from us.states import State


def _us_states() -> list[State]:
    """The 50 states, the District of Columbia and the five inhabited territories, by postal abbreviation."""
    import us

    return sorted((*us.states.STATES, us.states.DC, *us.states.TERRITORIES), key=lambda state: state.abbr)


def _state_text(state: State) -> str:
    """A state or territory as a sentence writes it: 'Texas', 'the District of Columbia', 'the Northern Mariana Islands'."""
    return "the " + state.name if state.name.startswith("District of ") else country_text(state.name)


def _state_popularity(kb: KnowledgeBase) -> dict[str, float]:
    """Per state or territory, the population of its GeoNames cities of 15,000+ (an offline proxy for its size)."""
    totals: dict[str, float] = defaultdict(float)
    for city in kb.cities:
        if city["countrycode"] == "US":
            totals[city["admin1code"]] += city["population"]
        elif city["countrycode"] in ("PR", "GU", "VI", "AS", "MP"):
            totals[city["countrycode"]] += city["population"]
    return totals


def state_capital_facts(kb: KnowledgeBase, rng: random.Random) -> FactTable:
    """'Is Austin the capital of the U.S. state of Texas?': the `us` package's capitals of states and inhabited
    territories, kept where GeoNames has a place so named there (its population is the popularity)."""
    facts, dropped = [], 0
    for state in _us_states():
        if not state.capital:
            continue  # the District of Columbia
        territory = state.is_territory
        where, population = place_where(kb, state.capital, state.abbr) if territory else place_where(kb, state.capital, "US", state.abbr)
        if where is None:
            dropped += 1
            continue
        capital = Entity(state.capital, state.capital, popularity=population, where=where)
        text = f"the U.S. {'territory' if territory else 'state'} of {_state_text(state)}"
        facts.append(Fact(capital, Entity(state.name, text, where=where, key=state.abbr), frozenset({state.abbr}), population))
    return FactTable(shuffled(facts, rng), lambda fact, candidate: near_cost(fact.obj.where, candidate.where), dropped=dropped, confirmed=True)


def state_abbreviation_facts(kb: KnowledgeBase, rng: random.Random) -> FactTable:
    """'Is TX the postal abbreviation of Texas?': the `us` package and ISO 3166-2 (pycountry) agree, for the
    states, the District of Columbia and the inhabited territories."""
    import pycountry

    iso = {subdivision.code.split("-")[1]: name_key(subdivision.name) for subdivision in pycountry.subdivisions.get(country_code="US")}  # type: ignore[no-untyped-call]  # pycountry leaves it untyped
    popularity = _state_popularity(kb)
    facts, dropped = [], 0
    for state in _us_states():
        if not iso.get(state.abbr, "").startswith(name_key(state.name)):
            dropped += 1
            continue
        subject = Entity(state.name, _state_text(state), plural=is_plural_name(state.name), key=state.abbr)
        facts.append(Fact(subject, plain(state.abbr), frozenset({name_key(state.abbr)}), popularity.get(state.abbr) or None))

    def cost(fact: Fact, candidate: Entity) -> float:
        return 0.0 if candidate.name[0] == fact.subject.name[0] else 1.0

    return FactTable(shuffled(facts, rng), cost, dropped=dropped, confirmed=True)


US_STATES = (
    Relation(
        "us_state_capital",
        "geography",
        "capital city (subject) of a US state or inhabited territory (object)",
        ("Is {s} the capital of {o}?", "Is {s} the capital city of {o}?", "Does {o} have {s} as its capital?"),
        ("us", "geonames"),
        state_capital_facts,
    ),
    Relation(
        "us_state_abbreviation",
        "geography",
        "US state, district or inhabited territory (subject) and its postal abbreviation (object)",
        ("Is {o} the postal abbreviation of {s}?", "Is {s_poss} two-letter postal code {o}?", "Does the postal abbreviation {o} stand for {s}?"),
        ("us", "pycountry"),
        state_abbreviation_facts,
    ),
)
