"""Culture and landmarks: places and landmarks in countries (LRE, checked against GeoNames where it
has the place). LRE's dishes, Pokemon evolutions and lead singers (and its US presidents' birth years)
are not used since 2.1: too few facts to rank a model (under 50 test pairs) and no offline source to grow
them."""

from __future__ import annotations

import random
import re

from fk_bench.dataset.entities import name_key, names_pattern, near_cost, plain
from fk_bench.dataset.knowledge import KnowledgeBase
from fk_bench.dataset.relations.base import Fact, FactTable, Relation, shuffled

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
# LRE "landmarks" that are not places but share a name with a village GeoNames has.
NOT_PLACES = {"Capoeira": "a martial art"}
# Words that say which country a place is in ("Gmina" is Polish, "Raion" post-Soviet, "Rural District" Iranian).
COUNTRY_TYPE_WORDS = frozenset({"gmina", "raion", "rural", "oblast", "voivodeship", "powiat", "okrug", "prefecture", "kommune", "landkreis"})


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
        if code is None or giveaway.search(name_key(landmark)) or landmark in NOT_PLACES:
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
        place = kb.place(landmark, code) if there is not None else None
        population = float(place["population"]) if place and place["population"] else None
        facts.append(Fact(plain(landmark), kb.country(code), frozenset({code} | (there or set())), population))
    return FactTable(
        shuffled(facts, rng), lambda fact, candidate: near_cost(fact.obj.where, candidate.where), dropped=dropped, confirmed=frozenset(confirmed)
    )


CULTURE = (
    Relation(
        "landmark_in_country",
        "culture",
        "landmark or place (subject) and the country it is in (object)",
        ("Is {s} in {o}?", "Is {s} located in {o}?", "Can {s} be found in {o}?"),
        ("lre", "geonames"),
        landmark_facts,
    ),
)
