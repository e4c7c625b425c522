"""Geography: countries, capitals, cities, continents, currencies, borders (country codes and languages
are in :mod:`.country_codes`, US states in :mod:`.us_states`). Every country fact is checked against a second source (GeoNames against
countryinfo, CLDR or country_converter) and dropped where they disagree."""

from __future__ import annotations

import random
from collections import Counter, defaultdict

from fk_bench.dataset.entities import (
    Entity,
    contains_name,
    distance_km,
    loose_key,
    name_key,
    names_pattern,
    near_cost,
    plain,
)
from fk_bench.dataset.knowledge import (
    ADJACENT_CONTINENTS,
    AMBIGUOUS_CAPITALS,
    AMBIGUOUS_CURRENCIES,
    AS_OF,
    BORDER_EXCLUSIONS,
    CONTINENT_NAMES,
    CURRENCIES_IN_PART,
    DEPENDENCIES,
    DISPUTED_CITY_REGIONS,
    PARTLY_ON_ANOTHER_CONTINENT,
    SAME_CAPITAL,
    TRANSCONTINENTAL,
    KnowledgeBase,
)
from fk_bench.dataset.relations.base import Fact, FactTable, Relation, shuffled

CITY_MIN_POPULATION = 100_000
DISTRICT_RADIUS_KM = 20.0
"""A city this close to a larger city of the same country is taken for one of its districts."""


def _city_states(kb: KnowledgeBase) -> set[str]:
    return {code for code, record in kb.countries.items() if record["capital"] and name_key(record["capital"]).startswith(name_key(record["name"]))}


def _same_capital(a: str, b: str) -> bool:
    return loose_key(a) == loose_key(b) or (a, b) in SAME_CAPITAL or (b, a) in SAME_CAPITAL


def place_where(kb: KnowledgeBase, name: str, country: str, admin1: str | None = None) -> tuple[tuple[float, float] | None, float | None]:
    """Where a named place of ``country`` is and its population (the most populous GeoNames city so named)."""
    city = kb.place(name, country, admin1)
    return (None, None) if city is None else ((city["latitude"], city["longitude"]), float(city["population"]))


def capital_facts(kb: KnowledgeBase, rng: random.Random) -> FactTable:
    """'Is Paris the capital of France?': GeoNames and countryinfo agree on the capital, named once, not a
    city-state."""
    by_capital = Counter(name_key(record["capital"]) for record in kb.countries.values() if record["capital"])
    city_states = _city_states(kb)
    facts, dropped = [], 0
    for code, record in kb.countries.items():
        capital = record["capital"]
        other = kb.countryinfo.get(code, {}).get("capital") or ""
        if capital and other and not _same_capital(capital, other):
            dropped += 1  # counted before the other exclusions: the card reports every disagreement
            continue
        if not capital or not other or code in AMBIGUOUS_CAPITALS or code in city_states or by_capital[name_key(capital)] > 1:
            continue
        if contains_name(record["name"], capital) or contains_name(capital, record["name"]):
            continue
        where, population = place_where(kb, capital, code)
        facts.append(Fact(Entity(capital, capital, popularity=population, where=where), kb.country(code), frozenset({code}), population))
    return FactTable(shuffled(facts, rng), lambda fact, candidate: near_cost(fact.obj.where, candidate.where), dropped=dropped, confirmed=True)


def city_facts(kb: KnowledgeBase, rng: random.Random) -> FactTable:
    """'Is Lyon a city in France?': the three largest cities of a country (100,000+ inhabitants, not the
    capital) whose name no other country has for any place of 500+ inhabitants, under any Latin-script
    name (so no false twin is true of a small town or under an alternate name), and that are not within
    20 km of a larger city of the country (districts and suburbs)."""
    places = kb.place_countries
    country_names = names_pattern([record["name"] for record in kb.countries.values()] + list(kb.demonyms.values()))
    city_states = _city_states(kb)
    capitals = {(code, name_key(record["capital"])) for code, record in kb.countries.items()}
    by_country = defaultdict(list)
    for city in kb.cities:
        by_country[city["countrycode"]].append(city)
    facts = []
    for code in sorted(by_country):
        if code not in kb.countries or code in city_states:
            continue
        large = sorted(by_country[code], key=lambda city: (-city["population"], city["geonameid"]))
        kept = 0
        for city in large:
            if city["population"] < CITY_MIN_POPULATION or kept == 3:
                break
            key = name_key(city["name"])
            if (
                places.get(key, frozenset({code})) != {code}
                or (code, key) in capitals
                or any(ch.isdigit() for ch in key)
                or (code, city["admin1code"]) in DISPUTED_CITY_REGIONS
                or country_names.search(key) is not None
                or any(
                    other["population"] > city["population"]
                    and (distance_km((city["latitude"], city["longitude"]), (other["latitude"], other["longitude"])) or 1e9) < DISTRICT_RADIUS_KM
                    for other in large
                )
            ):
                continue
            kept += 1
            where = (city["latitude"], city["longitude"])
            facts.append(
                Fact(
                    Entity(city["name"], city["name"], popularity=float(city["population"]), where=where),
                    kb.country(code),
                    frozenset({code}),
                    float(city["population"]),
                )
            )
    return FactTable(shuffled(facts, rng), lambda fact, candidate: near_cost(fact.obj.where, candidate.where))


def _continents(kb: KnowledgeBase, code: str) -> dict[str, str | None]:
    """Each source's continent code for a country (None where it has none)."""
    record = kb.countries[code]
    info = kb.countryinfo.get(code, {})
    region, intermediate = info.get("region") or "", info.get("intermediateregion") or ""
    ci: str | None
    if region == "Americas":
        ci = "SA" if intermediate == "South America" else "NA"
    else:
        ci = {"Europe": "EU", "Asia": "AS", "Africa": "AF", "Oceania": "OC"}.get(region)
    coco = {"Africa": "AF", "Asia": "AS", "Europe": "EU", "North America": "NA", "South America": "SA", "Oceania": "OC"}.get(
        kb.coco.get(code, {}).get("Continent_7", "")
    )
    return {"geonames": record["continentcode"], "countryinfo": ci, "coco": coco}


def continent_facts(kb: KnowledgeBase, rng: random.Random) -> FactTable:
    """'Is France in Europe?': GeoNames, countryinfo (UN M49 regions) and country_converter agree; the
    country is the entity that changes (a continent-only guess then knows nothing: every country is
    the true object once and a false one once)."""
    members: dict[str, set[str]] = defaultdict(set)
    facts, dropped = [], 0
    for code in kb.countries:
        continents = _continents(kb, code)
        for continent in continents.values():
            if continent:
                members[continent].add(code)
        if len({value for value in continents.values() if value}) > 1:
            dropped += 1
            continue
        if code in TRANSCONTINENTAL or continents["geonames"] not in CONTINENT_NAMES or None in continents.values():
            continue
        continent = continents["geonames"]
        facts.append((continent, code))
    excluded = set(TRANSCONTINENTAL)
    for code, (continents_too, _) in PARTLY_ON_ANOTHER_CONTINENT.items():
        for continent in continents_too:
            members[continent].add(code)  # never a false twin there
    table = [
        Fact(
            plain(CONTINENT_NAMES[continent], key=continent), kb.country(code), frozenset(members[continent] | excluded), kb.country(code).popularity
        )
        for continent, code in facts
    ]
    continent_of = {code: continent for continent, code in facts}

    def cost(fact: Fact, candidate: Entity) -> float | None:
        if candidate.plural != fact.obj.plural:
            return None  # "Are the Cayman Islands in ..." and "Is Chile in ..." differ in more than the object
        adjacent = continent_of.get(candidate.key) in ADJACENT_CONTINENTS[fact.subject.key]
        return (0.0 if adjacent else 2.0) + near_cost(fact.obj.where, candidate.where) / 2

    return FactTable(shuffled(table, rng), cost, dropped=dropped, confirmed=True)


def _currency_entity(kb: KnowledgeBase, code: str) -> Entity | None:
    import pycountry

    currency = pycountry.currencies.get(alpha_3=code)
    return None if currency is None else Entity(currency.name, f"the {currency.name}", key=code)


def currency_facts(kb: KnowledgeBase, rng: random.Random) -> FactTable:
    """'Is the Euro the currency of France?': GeoNames and CLDR (sole legal tender on 2026-01-01) agree;
    ISO 4217 names. Every currency either source or countryinfo gives the country is never its twin."""
    from babel.numbers import get_territory_currencies

    users: dict[str, list[str]] = defaultdict(list)
    facts, dropped = [], 0
    for code, record in kb.countries.items():
        geonames = record["currencycode"]
        cldr = get_territory_currencies(code, start_date=AS_OF, tender=True)
        known = {
            geonames,
            *cldr,
            *get_territory_currencies(code, start_date=AS_OF, tender=False),
            *(kb.countryinfo.get(code, {}).get("currencies") or []),
            *CURRENCIES_IN_PART.get(code, ())[:1],
        }
        for currency in known:
            users[currency].append(code)
        if not geonames:
            continue
        if cldr != [geonames]:
            dropped += 1
            continue
        if code in AMBIGUOUS_CURRENCIES:
            continue
        entity = _currency_entity(kb, geonames)
        if entity is not None:
            facts.append(Fact(kb.country(code), entity, frozenset(known), kb.country(code).popularity))

    def cost(fact: Fact, candidate: Entity) -> float | None:
        return min(near_cost(fact.subject.where, kb.country(user).where) for user in users[candidate.key] if user in kb.countries)

    return FactTable(shuffled(facts, rng), cost, dropped=dropped, confirmed=True)


def border_facts(kb: KnowledgeBase, rng: random.Random) -> FactTable:
    """'Does France share a border with Spain?': borders GeoNames and countryinfo both list (on both sides),
    each once, turned so that no country is the object more than three times. A false twin is a nearby
    country with land borders that neither source says borders the subject; borders only through a base,
    an exclave or an overseas territory are never asked."""
    ambiguous = {frozenset(pair) for pair in BORDER_EXCLUSIONS}
    for territory, state in DEPENDENCIES.items():
        if territory in kb.countries:
            for other in kb.geonames_neighbours(territory) | kb.countryinfo_neighbours(territory):
                if other != state:
                    ambiguous.add(frozenset((state, other)))
    geonames = {frozenset((a, b)) for a in kb.countries for b in kb.geonames_neighbours(a)}
    countryinfo = {frozenset((a, b)) for a in kb.countries for b in kb.countryinfo_neighbours(a)}
    agreed = sorted((geonames & countryinfo) - ambiguous, key=sorted)
    listed = {frozenset((a, b)) for a in kb.countries for b in kb.listed_neighbours(a)}
    dropped = len(listed - (geonames & countryinfo) - ambiguous)
    known: dict[str, set[str]] = {code: kb.listed_neighbours(code) for code in kb.countries}
    for pair in ambiguous:
        a, b = sorted(pair)
        known.setdefault(a, set()).add(b)
        known.setdefault(b, set()).add(a)
    uses: Counter[str] = Counter()
    facts = []
    for pair in shuffled(agreed, rng):
        a, b = sorted(pair)
        subject, obj = (a, b) if (uses[b], rng.random()) < (uses[a], 0.5) else (b, a)
        uses[obj] += 1
        facts.append(Fact(kb.country(subject), kb.country(obj), frozenset(known[subject] | {subject}), kb.country(subject).popularity))
    has_border = {code for pair in agreed for code in pair}

    def cost(fact: Fact, candidate: Entity) -> float | None:
        if candidate.key not in has_border:
            return None
        return near_cost(fact.subject.where, candidate.where)

    return FactTable(facts, cost, dropped=dropped, confirmed=True)


GEOGRAPHY = (
    Relation(
        "capital_of",
        "geography",
        "capital city (subject) of a country (object)",
        ("Is {s} the capital of {o}?", "Is {o_poss} capital {s}?", "Is it true that the capital of {o} is {s}?"),
        ("geonames", "countryinfo"),
        capital_facts,
    ),
    Relation(
        "city_in_country",
        "geography",
        "city (subject) located in a country (object)",
        ("Is {s} a city in {o}?", "Is the city of {s} in {o}?", "{o_does} {o} have a city called {s}?"),
        ("geonames",),
        city_facts,
    ),
    Relation(
        "country_in_continent",
        "geography",
        "continent (subject) and a country or territory in it (object, the entity swapped)",
        ("{o_is} {o} in {s}?", "{o_is} {o} located in {s}?", "Does {s} include {o}?"),
        ("geonames", "countryinfo", "coco"),
        continent_facts,
    ),
    Relation(
        "currency_of",
        "geography",
        "country (subject) and its currency (object)",
        ("Is {o} the currency of {s}?", "Is {s_poss} currency {o}?", "{s_does} {s} use {o} as {s_its} currency?"),
        ("geonames", "cldr", "pycountry"),
        currency_facts,
    ),
    Relation(
        "shares_border",
        "geography",
        "countries sharing a land border",
        ("{s_does} {s} share a border with {o}?", "Do {s} and {o} share a land border?", "{s_is} {s} bordered by {o}?"),
        ("geonames", "countryinfo"),
        border_facts,
        symmetric=True,
    ),
)
