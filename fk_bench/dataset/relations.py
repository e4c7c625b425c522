"""The nine relations: a question template each, and a generator of true facts with their distractors.

A generator yields :class:`Fact` objects in a fixed order: the true (subject, object) and, most
plausible tier first, objects of the same type that make the fact false (a neighbouring country,
another currency of the same continent, a symbol with the same first letter...).
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from fk_bench.dataset.knowledge import (
    ADJACENT_CONTINENTS,
    AMBIGUOUS_CAPITALS,
    AMBIGUOUS_CURRENCIES,
    CITIES_PER_COUNTRY,
    CITY_MIN_POPULATION,
    CONTINENT_NAMES,
    DISPUTED_CITY_REGIONS,
    TRANSCONTINENTAL,
    Entity,
    KnowledgeBase,
    contains_name,
    name_key,
    names_pattern,
)


@dataclass(frozen=True)
class Fact:
    """A true (subject, object) fact and the distractor objects for its false twin, most plausible tier first.

    Every distractor makes the fact false; a generator guarantees that.
    """

    subject: Entity
    true_object: Entity
    distractor_tiers: tuple[tuple[Entity, ...], ...]


@dataclass(frozen=True)
class Relation:
    """A relation: its question template (``{subject}``/``{object}``), and a generator of facts."""

    name: str
    template: str
    description: str
    facts: Callable[[KnowledgeBase, random.Random], Iterator[Fact]]
    symmetric: bool = False

    def question(self, subject: Entity, obj: Entity) -> str:
        return self.template.format(subject=subject.text, object=obj.text)


def _country_tiers(kb: KnowledgeBase, code: str, allowed: set[str] | dict) -> tuple[tuple[Entity, ...], ...]:
    """Distractor countries for ``code``: its neighbours first, then the rest of its continent."""
    neighbours = [other for other in kb.neighbours(code) if other in allowed]
    continent = [other for other in kb.same_continent(code) if other in allowed and other not in neighbours]
    return tuple(tuple(kb.country(other) for other in group) for group in (neighbours, continent))


def _value_tiers(kb: KnowledgeBase, code: str, value_of: dict[str, Entity]) -> tuple[tuple[Entity, ...], ...]:
    """Distractor values (currency, domain, code) for ``code``: its neighbours' first, then its continent's."""
    true_value = value_of[code]
    neighbours = kb.neighbours(code)
    tiers, seen = [], {true_value.name}
    for group in (neighbours, kb.same_continent(code)):
        tier = []
        for other in group:
            value = value_of.get(other)
            if value is not None and value.name not in seen:
                seen.add(value.name)
                tier.append(value)
        tiers.append(tuple(sorted(tier, key=lambda entity: entity.name)))
    return tuple(tiers)


def capital_facts(kb: KnowledgeBase, rng: random.Random) -> Iterator[Fact]:
    """'Is Paris the capital of France?': capitals named once, not inside the country's name."""
    by_capital = defaultdict(list)
    for code, record in kb.countries.items():
        by_capital[name_key(record["capital"])].append(code)
    eligible = {
        code
        for code, record in kb.countries.items()
        if record["capital"]
        and code not in AMBIGUOUS_CAPITALS
        and len(by_capital[name_key(record["capital"])]) == 1
        and not contains_name(record["capital"], record["name"])
        and not contains_name(record["name"], record["capital"])
    }
    for code in sorted(eligible):
        capital = kb.countries[code]["capital"]
        yield Fact(Entity(capital, capital), kb.country(code), _country_tiers(kb, code, eligible))


def city_facts(kb: KnowledgeBase, rng: random.Random) -> Iterator[Fact]:
    """'Is Lyon a city in France?': the largest cities whose name is found in one country only.

    City-states (Singapore, Monaco...) are left out: their GeoNames "cities" are districts; so are
    numbered districts ("Sector 6").
    """
    countries_of_name = defaultdict(set)
    for city in kb.cities:
        countries_of_name[name_key(city["name"])].add(city["countrycode"])
    country_names = names_pattern(record["name"] for record in kb.countries.values())
    city_states = {code for code, record in kb.countries.items() if name_key(record["capital"]) == name_key(record["name"])}
    by_country = defaultdict(list)
    for city in kb.cities:
        code, key = city["countrycode"], name_key(city["name"])
        if (
            code in kb.countries
            and code not in city_states
            and city["population"] >= CITY_MIN_POPULATION
            and len(countries_of_name[key]) == 1
            and not any(ch.isdigit() for ch in key)
            and (code, city["admin1code"]) not in DISPUTED_CITY_REGIONS
            and country_names.search(key) is None
        ):
            by_country[code].append(city)
    for code in sorted(by_country):
        largest = sorted(by_country[code], key=lambda city: (-city["population"], city["geonameid"]))[:CITIES_PER_COUNTRY]
        tiers = _country_tiers(kb, code, kb.countries)
        for city in largest:
            yield Fact(Entity(city["name"], city["name"]), kb.country(code), tiers)


def continent_facts(kb: KnowledgeBase, rng: random.Random) -> Iterator[Fact]:
    """'Is France in Europe?': countries and territories within one continent."""
    for code, record in kb.countries.items():
        continent = record["continentcode"]
        if code in TRANSCONTINENTAL or continent not in CONTINENT_NAMES:
            continue
        adjacent = ADJACENT_CONTINENTS[continent]
        others = [other for other in sorted(CONTINENT_NAMES) if other != continent and other not in adjacent]
        tiers = tuple(tuple(Entity(CONTINENT_NAMES[c], CONTINENT_NAMES[c]) for c in group) for group in (adjacent, others))
        yield Fact(kb.country(code), Entity(CONTINENT_NAMES[continent], CONTINENT_NAMES[continent]), tiers)


def currency_facts(kb: KnowledgeBase, rng: random.Random) -> Iterator[Fact]:
    """'Is the Euro the currency of France?': ISO 4217 names; one legal tender per country."""
    currency_of = {
        code: Entity(kb.currency_names[record["currencycode"]], kb.currency_names[record["currencycode"]])
        for code, record in kb.countries.items()
        if record["currencycode"] in kb.currency_names and code not in AMBIGUOUS_CURRENCIES
    }
    for code in sorted(currency_of):
        yield Fact(kb.country(code), currency_of[code], _value_tiers(kb, code, currency_of))


def border_facts(kb: KnowledgeBase, rng: random.Random) -> Iterator[Fact]:
    """'Does France share a border with Spain?': each land border once, in a random direction.

    Distractors are neighbours of neighbours (Portugal for France) before the other countries of the
    continent that have a land border (never an island).
    """
    for code in kb.countries:
        for other in kb.neighbours(code):
            if other < code:
                continue
            subject, obj = (code, other) if rng.random() < 0.5 else (other, code)
            excluded = {subject, *kb.neighbours(subject)}
            second = sorted({far for near in kb.neighbours(subject) for far in kb.neighbours(near)} - excluded)
            continent = [c for c in kb.same_continent(subject) if c not in excluded and c not in second and kb.neighbours(c)]
            tiers = tuple(tuple(kb.country(c) for c in group) for group in (second, continent))
            yield Fact(kb.country(subject), kb.country(obj), tiers)


def _unique_values(kb: KnowledgeBase, field: str, text: Callable[[str], str | None]) -> dict[str, Entity]:
    """Per country, the ``field`` value as an entity, for values that belong to exactly one country."""
    values = {code: text(record[field]) for code, record in kb.countries.items()}
    counts = defaultdict(int)
    for value in values.values():
        counts[value] += 1
    return {code: Entity(value, value) for code, value in values.items() if value and counts[value] == 1}


def domain_facts(kb: KnowledgeBase, rng: random.Random) -> Iterator[Fact]:
    """'Is .fr the country code top-level domain of France?': domains used by one country only."""
    domain_of = _unique_values(kb, "tld", lambda tld: tld.strip() or None)
    for code in sorted(domain_of):
        yield Fact(kb.country(code), domain_of[code], _value_tiers(kb, code, domain_of))


def calling_code_facts(kb: KnowledgeBase, rng: random.Random) -> Iterator[Fact]:
    """'Is +33 the international calling code of France?': codes used by one country only."""
    code_of = _unique_values(kb, "phone", lambda phone: f"+{phone.strip()}" if phone.strip().isdigit() else None)
    for code in sorted(code_of):
        yield Fact(kb.country(code), code_of[code], _value_tiers(kb, code, code_of))


def symbol_facts(kb: KnowledgeBase, rng: random.Random) -> Iterator[Fact]:
    """'Is Fe the chemical symbol of iron?': distractors share the first letter, then are nearby elements."""
    for element in kb.elements:
        same_letter = [e for e in kb.elements if e.symbol[0] == element.symbol[0] and e is not element]
        nearby = [e for e in kb.elements if 0 < abs(e.number - element.number) <= 3 and e not in same_letter]
        tiers = tuple(tuple(Entity(e.symbol, e.symbol) for e in group) for group in (same_letter, nearby))
        yield Fact(Entity(element.name, element.name), Entity(element.symbol, element.symbol), tiers)


def atomic_number_facts(kb: KnowledgeBase, rng: random.Random) -> Iterator[Fact]:
    """'Is 26 the atomic number of iron?': distractors are the neighbouring numbers."""
    numbers = {element.number for element in kb.elements}
    for element in kb.elements:
        tiers = tuple(tuple(Entity(str(n), str(n)) for n in (element.number - d, element.number + d) if n in numbers) for d in (1, 2, 3))
        yield Fact(Entity(element.name, element.name), Entity(str(element.number), str(element.number)), tiers)


RELATIONS: tuple[Relation, ...] = (
    Relation("capital_of", "Is {subject} the capital of {object}?", "capital city (subject) of a country (object)", capital_facts),
    Relation("city_in_country", "Is {subject} a city in {object}?", "city (subject) located in a country (object)", city_facts),
    Relation("country_in_continent", "Is {subject} in {object}?", "country or territory (subject) in a continent (object)", continent_facts),
    Relation("currency_of", "Is the {object} the currency of {subject}?", "country (subject) and its currency (object)", currency_facts),
    Relation("shares_border", "Does {subject} share a border with {object}?", "countries sharing a land border", border_facts, symmetric=True),
    Relation(
        "country_domain",
        "Is {object} the country code top-level domain of {subject}?",
        "country (subject) and its internet domain (object)",
        domain_facts,
    ),
    Relation(
        "calling_code",
        "Is {object} the international calling code of {subject}?",
        "country (subject) and its telephone code (object)",
        calling_code_facts,
    ),
    Relation("element_symbol", "Is {object} the chemical symbol of {subject}?", "element (subject) and its symbol (object)", symbol_facts),
    Relation("atomic_number", "Is {object} the atomic number of {subject}?", "element (subject) and its atomic number (object)", atomic_number_facts),
)
RELATION_NAMES = tuple(relation.name for relation in RELATIONS)
