"""Organisations: headquarters (LRE, the city found once in GeoNames), products and their makers (LRE),
EU and OECD membership (country_converter)."""

from __future__ import annotations

import random
from collections import Counter

from fk_bench.dataset.entities import Entity, contains_name, name_key, names_pattern, near_cost, plain
from fk_bench.dataset.knowledge import KnowledgeBase
from fk_bench.dataset.relations.base import Fact, FactTable, Relation, shuffled

# Organisations named after a place or an office that several places have.
GENERIC_ORGANISATIONS = ("ministry", "department of", "embassy", "parliament", "government of", "university of", "city council")

# Makers of LRE's products: their industry (a false twin comes from the same one) and their corporate
# family (makers that own or merged with each other are never each other's false twin).
MAKER_INDUSTRY = {
    "Fiat": "cars",
    "Chrysler": "cars",
    "Dodge": "cars",
    "Ferrari": "cars",
    "Renault": "cars",
    "Nissan": "cars",
    "Honda": "cars",
    "BMW": "cars",
    "Toyota": "cars",
    "Chevrolet": "cars",
    "Suzuki": "cars",
    "Boeing": "aircraft",
    "Douglas": "aircraft",
    "Sega": "games",
    "Nintendo": "games",
    "Square": "games",
    "Atari": "games",
    "Sony": "electronics",
    "Samsung": "electronics",
    "Nokia": "electronics",
    "Apple": "computing",
    "Microsoft": "computing",
    "IBM": "computing",
    "Google": "computing",
    "Intel": "computing",
    "Adobe": "computing",
    "Yahoo": "computing",
    "Amazon": "computing",
}
MAKER_FAMILY = {
    "Chrysler": "Fiat",
    "Dodge": "Fiat",
    "Ferrari": "Fiat",
    "Nissan": "Renault",
    "Douglas": "Boeing",
    "Nokia": "Microsoft",
    "Suzuki": "Chevrolet",  # GM-Suzuki alliance: Suzukis sold as Geo and Chevrolet
}
ORGANISATIONS = {"EU27": ("European Union", "the European Union"), "OECD": ("OECD", "the OECD")}


def _names_city(organisation: str, city: str) -> bool:
    """Whether an organisation's name gives a city away: the name, or a word sharing its first five letters
    ("Dresdner SC", Dresden)."""
    if contains_name(organisation, city):
        return True
    stem = name_key(city)[:5]
    return len(stem) == 5 and any(word.startswith(stem) for word in name_key(organisation).split())


def headquarters_facts(kb: KnowledgeBase, rng: random.Random) -> FactTable:
    """'Has Kemira been headquartered in Helsinki?' (present perfect: a headquarters that moved, such as
    Smirnoff's from Moscow, stays true): the city must be one GeoNames city (one country has a city so
    named, or its largest namesake is ten times larger than any other, and no country is so called), which
    places it; an organisation named after its city (or a word of it: "Dresdner"), country or people, or
    after an office every country has, is left out, and no false twin is a city its name gives away."""
    places = names_pattern([record["name"] for record in kb.countries.values()] + list(kb.demonyms.values()))
    facts = []
    for organisation, city_name in kb.lre("company_hq"):
        namesakes = sorted(kb.cities_by_name.get(name_key(city_name), []), key=lambda city: -city["population"])
        if not namesakes or (len(namesakes) > 1 and namesakes[0]["population"] < 10 * namesakes[1]["population"]):
            continue
        city = namesakes[0]
        if (
            kb.country_code(city_name) is not None
            or _names_city(organisation, city_name)
            or places.search(name_key(organisation))
            or any(word in name_key(organisation) for word in GENERIC_ORGANISATIONS)
        ):
            continue
        where = (city["latitude"], city["longitude"])
        facts.append(
            Fact(
                plain(organisation), Entity(city_name, city_name, where=where, key=f"{city['geonameid']}"), frozenset({f"{city['geonameid']}"}), None
            )
        )

    def cost(fact: Fact, candidate: Entity) -> float | None:
        return None if _names_city(fact.subject.name, candidate.name) else near_cost(fact.obj.where, candidate.where)

    return FactTable(shuffled(facts, rng), cost)


def product_facts(kb: KnowledgeBase, rng: random.Random) -> FactTable:
    """'Was the GarageBand developed by Apple?': a false twin is a maker of the same industry outside the
    product's corporate family; products named after a maker are left out; every maker LRE gives a product
    is never its twin."""
    makers_of: dict[str, set[str]] = {}
    for product, maker in kb.lre("product_by_company"):
        makers_of.setdefault(product, set()).add(maker)
    maker_names = names_pattern(MAKER_INDUSTRY)
    facts = []
    for product, maker in kb.lre("product_by_company"):
        if maker not in MAKER_INDUSTRY or maker_names.search(name_key(product)) or len(makers_of[product]) > 1:
            continue
        known = {name_key(other) for other in makers_of[product]}
        facts.append(Fact(plain(product), plain(maker), frozenset(known), None))

    def family(maker: str) -> str:
        return MAKER_FAMILY.get(maker, maker)

    def cost(fact: Fact, candidate: Entity) -> float | None:
        if family(candidate.name) == family(fact.obj.name):
            return None
        return 0.0 if MAKER_INDUSTRY[candidate.name] == MAKER_INDUSTRY[fact.obj.name] else 2.0

    return FactTable(shuffled(facts, rng), cost)


def member_facts(kb: KnowledgeBase, rng: random.Random) -> FactTable:
    """'Is Poland a member of the European Union?': the country is the entity swapped; a country in both
    organisations is asked about one of them; countries in neither may each be one false twin."""
    members = {column: {code for code, row in kb.coco.items() if row.get(column) and code in kb.countries} for column in ORGANISATIONS}
    asked: Counter = Counter()
    facts = []
    for code in shuffled(sorted(set().union(*members.values())), rng):
        options = sorted((asked[column], column) for column in ORGANISATIONS if code in members[column])
        column = options[0][1]
        asked[column] += 1
        name, text = ORGANISATIONS[column]
        facts.append(Fact(Entity(name, text, key=column), kb.country(code), frozenset(members[column]), kb.country(code).popularity))
    everyone = set().union(*members.values())
    extra = tuple(
        kb.country(code) for code in sorted(kb.countries) if code not in everyone and kb.country(code).popularity and not kb.country(code).plural
    )

    def cost(fact: Fact, candidate: Entity) -> float | None:
        if candidate.plural:
            return None
        return near_cost(fact.obj.where, candidate.where)

    return FactTable(shuffled(facts, rng), cost, extra_objects=extra)


ORGANISATIONS_RELATIONS = (
    Relation(
        "headquarters",
        "organisations",
        "organisation (subject) and a city of its headquarters, now or before (object)",
        ("Has {s} been headquartered in {o}?", "Has the headquarters of {s} been in {o}?", "Has {o} been home to the headquarters of {s}?"),
        ("lre", "geonames"),
        headquarters_facts,
    ),
    Relation(
        "product_maker",
        "organisations",
        "product (subject) and the company that makes it (object)",
        ("Is {s} a product of {o}?", "Was {s} developed by {o}?", "Did {o} produce {s}?"),
        ("lre",),
        product_facts,
    ),
    Relation(
        "member_of",
        "organisations",
        "organisation (subject: the European Union, the OECD) and a member country (object, the entity swapped)",
        ("{o_is} {o} a member of {s}?", "{o_is} {o} a member state of {s}?", "Does {s} count {o} among its members?"),
        ("coco",),
        member_facts,
    ),
)
