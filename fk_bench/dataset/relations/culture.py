"""Culture and landmarks: places and landmarks in countries (LRE, checked against GeoNames where it
has the place), dishes and their countries, Pokemon evolutions, lead singers of bands (LRE)."""

from __future__ import annotations

import random
import re
from collections import defaultdict

from fk_bench.dataset.entities import Entity, distance_km, name_key, name_tokens, names_pattern, near_cost, plain
from fk_bench.dataset.knowledge import KnowledgeBase
from fk_bench.dataset.relations.base import Fact, FactTable, Relation, shuffled, uniform_cost

# LRE's "landmarks" are any entity with a country (a river, an award, a language, a highway...). Kept:
# places GeoNames confirms, and sites whose name says they are one built place.
SITE_WORDS = frozenset(
    {
        "abbey",
        "airport",
        "archabbey",
        "arena",
        "basilica",
        "bridge",
        "castle",
        "cathedral",
        "church",
        "coliseum",
        "college",
        "fort",
        "fortress",
        "hall",
        "hospital",
        "monastery",
        "mosque",
        "museum",
        "palace",
        "school",
        "shrine",
        "stadium",
        "station",
        "temple",
        "theatre",
        "tower",
        "university",
    }
)
# Words that say which country a place is in ("Gmina" is Polish, "Raion" post-Soviet, "Rural District" Iranian).
COUNTRY_TYPE_WORDS = frozenset({"gmina", "raion", "rural", "oblast", "voivodeship", "powiat", "okrug", "prefecture", "kommune", "landkreis"})
FAR_KM = 5000.0
BANDS_WITH_SEVERAL_LEAD_SINGERS = frozenset({"The Beatles", "The Eagles"})
# Dishes whose origin several countries claim (the hand audit's finds; LRE names one).
CONTESTED_DISHES = frozenset({"Hummus", "Baklava"})
# Dishes as written in a sentence (lower case unless a proper name).
DISH_TEXT = {
    "Wiener Schnitzel": "Wiener schnitzel",
    "Pad Thai": "pad thai",
    "Fish and Chips": "fish and chips",
    "Masala Dosa": "masala dosa",
    "Dim Sum": "dim sum",
}


def landmark_facts(kb: KnowledgeBase, rng: random.Random) -> FactTable:
    """'Is the Ariake Coliseum in Japan?': LRE's places and sites. A name GeoNames has as a place (500+
    inhabitants) must be there and nowhere else (two sources); any other must name a single built site
    (a castle, an airport, a museum...: rivers, ranges, highways, awards and languages can span countries
    or be in none); names holding a country's name or people ("Canadian ...") or a country's own kind of
    district ("Gmina") are left out."""
    places = kb.place_countries
    giveaway = names_pattern([record["name"] for record in kb.countries.values()] + list(kb.demonyms.values()))
    facts, dropped, confirmed = [], 0, set()
    for landmark, country in kb.lre("landmark_in_country"):
        code = kb.country_code(country)
        if code is None or giveaway.search(name_key(landmark)):
            continue
        words = set(re.findall(r"\w+", name_key(landmark)))
        there = places.get(name_key(landmark))
        if words & COUNTRY_TYPE_WORDS:
            continue
        if there is not None:
            if there != {code}:
                dropped += 1
                continue
            confirmed.add(name_key(landmark))
        elif not words & SITE_WORDS:
            continue
        facts.append(Fact(plain(landmark), kb.country(code), frozenset({code} | (there or set())), None))
    return FactTable(
        shuffled(facts, rng), lambda fact, candidate: near_cost(fact.obj.where, candidate.where), dropped=dropped, confirmed=frozenset(confirmed)
    )


def food_facts(kb: KnowledgeBase, rng: random.Random) -> FactTable:
    """'Does the dish pierogi come from Poland?': a dish's origin is often claimed by its neighbours, so a
    false twin is a country at least 5,000 km away; dishes claimed by several countries are left out."""
    facts = []
    for dish, country in kb.lre("food_from_country"):
        code = kb.country_code(country)
        if code is None or dish in CONTESTED_DISHES:
            continue
        facts.append(Fact(Entity(dish, DISH_TEXT.get(dish, dish.lower())), kb.country(code), frozenset({code}), None))

    def cost(fact: Fact, candidate: Entity) -> float | None:
        distance = distance_km(fact.obj.where, candidate.where)
        if distance is None or distance < FAR_KM:
            return None
        return near_cost(fact.obj.where, candidate.where)

    return FactTable(shuffled(facts, rng), cost)


def evolution_facts(kb: KnowledgeBase, rng: random.Random) -> FactTable:
    """'Does Charmander evolve into Charmeleon?': a false twin is from another evolution family (never a
    later stage of the same line)."""
    samples = kb.lre("pokemon_evolutions")
    family = {name: name for pair in samples for name in pair}

    def root(name: str) -> str:
        while family[name] != name:
            name = family[name]
        return name

    for before, after in samples:
        family[root(after)] = root(before)
    line: dict[str, set[str]] = defaultdict(set)
    for name in family:
        line[root(name)].add(name_key(name))
    facts = [Fact(plain(before), plain(after), frozenset(line[root(before)]), None) for before, after in samples]
    return FactTable(shuffled(facts, rng), uniform_cost)


def singer_facts(kb: KnowledgeBase, rng: random.Random) -> FactTable:
    """'Is Freddie Mercury known as the lead singer of Queen?': bands named after their singer, or known
    for several lead singers at once, are left out."""
    facts = []
    for singer, band in kb.lre("person_band_lead_singer"):
        if name_tokens(singer) & name_tokens(band) or band in BANDS_WITH_SEVERAL_LEAD_SINGERS:
            continue
        text = "the " + band[4:] if band.startswith("The ") else band
        facts.append(Fact(plain(singer), Entity(band, text), frozenset({name_key(band)}), None))
    return FactTable(shuffled(facts, rng), uniform_cost)


CULTURE = (
    Relation(
        "landmark_in_country",
        "culture",
        "landmark or place (subject) and the country it is in (object)",
        ("Is {s} in {o}?", "Is {s} located in {o}?", "Can {s} be found in {o}?"),
        ("lre", "geonames"),
        landmark_facts,
    ),
    Relation(
        "food_from_country",
        "culture",
        "dish (subject) and its country of origin (object)",
        ("Does the dish {s} come from {o}?", "Is the dish {s} from {o}?", "Is {o} the country of origin of the dish {s}?"),
        ("lre",),
        food_facts,
    ),
    Relation(
        "pokemon_evolution",
        "culture",
        "Pokemon (subject) and the Pokemon it evolves into (object)",
        ("Does {s} evolve into {o}?", "Is {o} the evolved form of {s}?", "Is {o} what {s} evolves into?"),
        ("lre",),
        evolution_facts,
    ),
    Relation(
        "band_lead_singer",
        "culture",
        "singer (subject) and the band they front (object)",
        ("Is {s} known as the lead singer of {o}?", "Did {s} sing lead vocals for {o}?", "Was {s} the frontman of {o}?"),
        ("lre",),
        singer_facts,
    ),
)
