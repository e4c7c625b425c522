"""Science: chemical elements (periodictable, checked against molmass), stars in constellations (LRE,
checked against ephem's catalogue and constellation boundaries). ephem's 19 planetary moons are not used
since 2.1: too few to rank a model."""

from __future__ import annotations

import random
import re
from typing import Any

from fk_bench.dataset.entities import Entity, name_key, plain
from fk_bench.dataset.knowledge import KnowledgeBase
from fk_bench.dataset.relations.base import Fact, FactTable, Relation, shuffled, uniform_cost

MOLMASS_ELEMENTS = 109
"""molmass knows the elements up to meitnerium; the heavier ones have periodictable as their only source."""
_GREEK = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho sigma tau upsilon phi chi psi omega"
GREEK_LETTERS = frozenset(_GREEK.split())
# IAU abbreviations of LRE's constellations (catalogue names such as "rho01 Cnc" carry them).
_IAU = "and aqr aql aur boo cma cmi cnc cas cet crb cru cyg gem gru her hya ind leo lib lyr ori peg per psc psa sgr sco tau uma vir"
IAU_ABBREVIATIONS = frozenset(_IAU.split())

# LRE "stars" that span several constellations.
EXTENDED_OBJECTS = frozenset({"Milky Way"})
# Catalogues and words of objects that are not stars (galaxies, quasars, nebulae, clusters, planets): "the star NGC 1275"
# would call a galaxy a star.
NOT_STARS = re.compile(
    r"^(?:NGC|IC|M|Messier|Caldwell|3C|4C|7C|Abell|UGC|PGC|QSO|Markarian|Mrk)\s?[\dBJ]|galaxy|nebula|cluster|cloud|quasar|remnant|\s[b-h]$"
)  # the last: a planet of a star ("Gliese 436 b")


def _elements(kb: KnowledgeBase) -> tuple[list[Any], int]:  # periodictable's elements (an untyped library)
    """periodictable's elements 1-118 where molmass (1-109) agrees on the symbol or has no entry; and the
    number of disagreements."""
    import periodictable
    from molmass import ELEMENTS

    kept, dropped = [], 0
    for element in periodictable.elements:
        if element.number == 0:
            continue
        try:
            other = ELEMENTS[element.number]
        except KeyError:
            kept.append(element)
            continue
        if other.symbol != element.symbol:
            dropped += 1
            continue
        kept.append(element)
    return kept, dropped


def symbol_facts(kb: KnowledgeBase, rng: random.Random) -> FactTable:
    """'Is Fe the chemical symbol of iron?': false twins start with the element name's first letter (so the
    first letter gives nothing away), then are symbols of nearby elements."""
    elements, dropped = _elements(kb)
    number_of: dict[str, int] = {element.symbol: element.number for element in elements}
    facts = [
        Fact(plain(element.name, key=str(element.number)), plain(element.symbol), frozenset({name_key(element.symbol)}), None) for element in elements
    ]

    def cost(fact: Fact, candidate: Entity) -> float:
        initial = 0.0 if candidate.name[0].lower() == fact.subject.name[0].lower() else 1.0
        return initial + abs(number_of[candidate.name] - int(fact.subject.key)) / 40

    return FactTable(
        shuffled(facts, rng),
        cost,
        dropped=dropped,
        confirmed=frozenset(str(element.number) for element in elements if element.number <= MOLMASS_ELEMENTS),
    )


def atomic_number_facts(kb: KnowledgeBase, rng: random.Random) -> FactTable:
    """'Is 26 the atomic number of iron?': false twins are the nearest numbers."""
    elements, dropped = _elements(kb)
    facts = [Fact(plain(element.name), plain(str(element.number)), frozenset({str(element.number)}), None) for element in elements]

    def cost(fact: Fact, candidate: Entity) -> float:
        return abs(int(candidate.name) - int(fact.obj.name)) / 3

    return FactTable(
        shuffled(facts, rng),
        cost,
        dropped=dropped,
        confirmed=frozenset(name_key(element.name) for element in elements if element.number <= MOLMASS_ELEMENTS),
    )


def star_facts(kb: KnowledgeBase, rng: random.Random) -> FactTable:
    """'Is Sirius in the constellation Canis Major?': LRE's stars, checked with ephem where its catalogue has
    the star. Names that carry a constellation give the answer away and are left out: a genitive (Alpha
    Andromedae, 12 Persei, and with them the few proper names starting like a constellation: Castor,
    Canopus) or an IAU abbreviation (rho01 Cnc); so are objects spanning several constellations (the
    Milky Way). The popularity is the star's brightness where ephem's catalogue has it."""
    import ephem
    import ephem.stars

    samples = kb.lre("star_constellation")
    constellations = {obj for _, obj in samples}
    stems = {name_key(word)[:3] for name in constellations for word in name.split()}
    facts, dropped, confirmed = [], 0, set()
    for star, constellation in samples:
        if star in EXTENDED_OBJECTS or NOT_STARS.search(star):
            continue
        words = [name_key(word) for word in re.findall(r"[^\W\d_]+", star)]
        if any(word in IAU_ABBREVIATIONS or (word not in GREEK_LETTERS and len(word) >= 3 and word[:3] in stems) for word in words):
            continue
        if star in ephem.stars.stars:
            body = ephem.star(star)
            body.compute("2000/1/1")
            if name_key(ephem.constellation(body)[1]) != name_key(constellation):
                dropped += 1
                continue
            confirmed.add(name_key(star))
            brightness = 10 ** (-0.4 * body.mag)  # flux relative to magnitude 0: the brighter, the better known
        else:
            brightness = None
        facts.append(Fact(plain(star), plain(constellation), frozenset({name_key(constellation)}), brightness))
    return FactTable(shuffled(facts, rng), uniform_cost, dropped=dropped, confirmed=frozenset(confirmed))


SCIENCE = (
    Relation(
        "element_symbol",
        "science",
        "element (subject) and its symbol (object)",
        ("Is {o} the chemical symbol of {s}?", "Is {s_poss} chemical symbol {o}?", "Does the chemical symbol {o} stand for {s}?"),
        ("periodictable", "molmass"),
        symbol_facts,
    ),
    Relation(
        "atomic_number",
        "science",
        "element (subject) and its atomic number (object)",
        ("Is {o} the atomic number of {s}?", "Is {s_poss} atomic number {o}?", "Does {s} have the atomic number {o}?"),
        ("periodictable", "molmass"),
        atomic_number_facts,
    ),
    Relation(
        "star_constellation",
        "science",
        "star (subject) and the constellation it is in (object)",
        ("Is {s} in the constellation {o}?", "Is the star {s} part of the constellation {o}?", "Does the constellation {o} contain the star {s}?"),
        ("lre", "ephem"),
        star_facts,
    ),
)
