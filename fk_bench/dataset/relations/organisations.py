"""Organisations: headquarters (LRE, the city found once in GeoNames), products and their makers (LRE),
membership of the EU, the OECD, APEC and the eurozone (country_converter)."""

from __future__ import annotations

import random

from fk_bench.dataset.entities import Entity, contains_name, distance_km, name_key, names_pattern, near_cost, plain
from fk_bench.dataset.knowledge import KnowledgeBase
from fk_bench.dataset.relations.base import Fact, FactTable, Relation, shuffled

# Organisations named after a place or an office that several places have.
GENERIC_ORGANISATIONS = ("ministry", "department of", "embassy", "parliament", "government of", "university of", "city council")
# Subjects that are not of the relation's kind: schools and hospitals have campuses, not headquarters
# ("EDHEC", a Lille school with a Paris campus).
METRO_KM = 60.0
"""A false twin city is at least this far from the true one (not a neighbour of the same metropolitan area)."""
NOT_HEADQUARTERED = ("university", "universite", "universitat", "college", "school", "ecole", "hospital", "academy", "academia", "institute")

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
# Products asked at one level, the marque on the badge: a product badged with another marque than the
# LRE maker (its parent company: the Pontiac Firebird under Chevrolet, the Acura TL under Honda) is never
# asked, nor is one LRE gives to the wrong company or to the company that bought it.
OTHER_MARQUES = (
    "Abarth", "Acura", "Alfa Romeo", "Alpine", "Autobianchi", "Dacia", "Datsun", "Dino", "Eagle", "Geo", "Infiniti", "Isetta",
    "Jeep", "Lancia", "Mini", "Plymouth", "Pontiac", "Prince", "Rolls-Royce", "Scion", "SEAT", "Toyopet",
)  # fmt: skip
MISATTRIBUTED_PRODUCTS = {
    "Pratt & Miller": "a racing company, not a Chevrolet product",
    "Squad 51": "a television show's fire truck",
    "Bluesmobile": "a film's car",
    "YF-22": "developed by Lockheed, Boeing and General Dynamics together",
    "Clang": "an LLVM project started at Apple",
    "Dynix": "Sequent's system, IBM only bought Sequent",
    "Lotus 1-2-3": "Lotus Development's, IBM bought Lotus",
    "Statistical Package for the Social Sciences": "SPSS Inc.'s, IBM bought it",
    "SPSS Modeler": "SPSS Inc.'s, IBM bought it",
    "Andrew File System": "developed at Carnegie Mellon University",
    "Picasa": "Lifescape's, Google bought it",
    "Blogger": "Pyra Labs', Google bought it",
    "Sileighty": "a hybrid of two Nissan models built by owners and a tuner",
    "Dardo IFV": "built by the Iveco-Oto Melara consortium (the badge is not Fiat's)",
    "DeltaWing": "an independent design; Nissan lent its engine and name for one season",
    "Auto Avio Costruzioni 815": "built by Enzo Ferrari's company before the Ferrari marque existed",
    "Small Web Format": "FutureWave's and Macromedia's, Adobe bought Macromedia",
    "Test Drive Le Mans": "developed by Melbourne House, published by Infogrames (renamed Atari later)",
    "Kindle Fire": "asked as Amazon's, the only Amazon device: kept out with OpenSearch (an A9 specification)",
    "OpenSearch": "two products of that name (A9's specification, Amazon's search engine)",
}
# Organisations a country belongs to (country_converter columns), and memberships that changed since
# 2013 or that are not quite one (a model trained on older text, or a careful reader, answers otherwise):
# never asked, true or false. A false twin is a UN member state, never a territory.
ORGANISATIONS = {
    "EU27": ("European Union", "the European Union"),
    "OECD": ("OECD", "the OECD"),
    "APEC": ("APEC", "APEC"),
    "EURO": ("eurozone", "the eurozone"),
}
CHANGED_MEMBERSHIPS = {
    ("EU27", "GB"): "left in 2020",
    ("EU27", "HR"): "joined in 2013",
    ("OECD", "LV"): "joined in 2016",
    ("OECD", "LT"): "joined in 2018",
    ("OECD", "CO"): "joined in 2020",
    ("OECD", "CR"): "joined in 2021",
    ("EURO", "LV"): "joined in 2014",
    ("EURO", "LT"): "joined in 2015",
    ("EURO", "HR"): "joined in 2023",
    ("EURO", "BG"): "joined on 1 January 2026",
    ("EURO", "AD"): "uses the euro by agreement, not a member",
    ("EURO", "MC"): "uses the euro by agreement, not a member",
    ("EURO", "SM"): "uses the euro by agreement, not a member",
    ("EURO", "VA"): "uses the euro by agreement, not a member",
    ("EURO", "ME"): "uses the euro unilaterally, not a member",
}


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
    import us

    places = names_pattern([record["name"] for record in kb.countries.values()] + list(kb.demonyms.values()))
    us_states = {name_key(state.name) for state in us.states.STATES_AND_TERRITORIES}  # "Colorado": a state before a city
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
            or any(word in name_key(organisation) for word in GENERIC_ORGANISATIONS + NOT_HEADQUARTERED)
            or name_key(city_name) in us_states
        ):
            continue
        where = (city["latitude"], city["longitude"])
        facts.append(
            Fact(
                plain(organisation), Entity(city_name, city_name, where=where, key=f"{city['geonameid']}"), frozenset({f"{city['geonameid']}"}), None
            )
        )

    def cost(fact: Fact, candidate: Entity) -> float | None:
        if _names_city(fact.subject.name, candidate.name):
            return None
        distance = distance_km(fact.obj.where, candidate.where)
        if distance is None or distance < METRO_KM:
            return None  # a city of the same metropolitan area (Golden and Denver) could be either answer
        return near_cost(fact.obj.where, candidate.where)

    return FactTable(shuffled(facts, rng), cost)


def product_facts(kb: KnowledgeBase, rng: random.Random) -> FactTable:
    """'Was the GarageBand developed by Apple?': a false twin is a maker of the same industry outside the
    product's corporate family; products named after a maker, badged with another marque
    (:data:`OTHER_MARQUES`) or misattributed (:data:`MISATTRIBUTED_PRODUCTS`) are left out; every maker
    LRE gives a product is never its twin."""
    makers_of: dict[str, set[str]] = {}
    for product, maker in kb.lre("product_by_company"):
        makers_of.setdefault(product, set()).add(maker)
    maker_names = names_pattern(MAKER_INDUSTRY)
    marques = names_pattern(OTHER_MARQUES)
    facts = []
    for product, maker in kb.lre("product_by_company"):
        if maker not in MAKER_INDUSTRY or maker_names.search(name_key(product)) or len(makers_of[product]) > 1:
            continue
        if marques.match(name_key(product)) or product in MISATTRIBUTED_PRODUCTS:
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
    """'Is Poland a member of the European Union?': the country is the entity swapped, asked about every
    organisation it belongs to (the matching keeps each country as often true as false); countries in
    none may each be one false twin; a membership that changed since 2013 (:data:`CHANGED_MEMBERSHIPS`) is
    never asked."""
    members = {column: {code for code, row in kb.coco.items() if row.get(column) and code in kb.countries} for column in ORGANISATIONS}
    changed = {column: {code for (of, code) in CHANGED_MEMBERSHIPS if of == column} for column in ORGANISATIONS}
    facts = []
    for code in shuffled(sorted(set().union(*members.values())), rng):
        for column in sorted(ORGANISATIONS):
            if code in members[column] and code not in changed[column]:
                name, text = ORGANISATIONS[column]
                organisation = Entity(name, text, key=column)
                facts.append(Fact(organisation, kb.country(code), frozenset(members[column] | changed[column]), kb.country(code).popularity))
    everyone = set().union(*members.values(), *changed.values())
    extra = tuple(
        kb.country(code) for code in sorted(kb.countries) if code not in everyone and kb.country(code).popularity and not kb.country(code).plural
    )

    sovereign = {code for code, row in kb.coco.items() if row.get("UNmember")}

    def cost(fact: Fact, candidate: Entity) -> float | None:
        if candidate.plural or candidate.key not in sovereign:
            return None  # a territory is covered by its state's membership ("Is Jersey a member of the OECD?")
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
        ("Is {s} a product of {o}?", "Is {s} made by {o}?", "Did {o} produce {s}?"),
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
