"""People: native language, occupation, sport (LRE; no second offline source exists, so these are the
relations the hand audit reads most closely, and rules stand in for the second source). LRE's parents
(person_father, person_mother) are not used: the hand audit found a wrong parent in each sample of 20
("James Rodríguez" for John Stuart Mill, "Chela Lora" for Lindsay Lohan) and no source can catch them,
while the parents that do share the child's surname would give the answer away.

Person names are compared by :func:`person_key` (titles dropped: "Queen Elizabeth II" = "Elizabeth II"),
so one person under two names is never their own false twin."""

from __future__ import annotations

import random
import re

from fk_bench.dataset.entities import Entity, name_key, plain, with_article
from fk_bench.dataset.knowledge import KnowledgeBase
from fk_bench.dataset.relations.base import Fact, FactTable, Relation, round_robin, shuffled, uniform_cost

TITLES = frozenset({"queen", "king", "prince", "princess", "sir", "lady", "lord", "saint", "st", "pope", "emperor", "empress", "duke", "duchess"})
# LRE athletes known for another sport or career too (the hand audit's finds): neither true nor a false twin.
ATHLETES_KNOWN_FOR_OTHER_THINGS = {
    "Brock Lesnar": "a wrestler and fighter; never played a regular-season NFL game",
    "Otto Graham": "an NFL quarterback who also played professional basketball",
    "Leon Allen White": "the wrestler Big Van Vader; a few NFL games",
}

# Occupations grouped by how often one person holds two of them: a false twin's occupation is in
# another group, and groups that people often combine are never paired (an actor-politician).
OCCUPATION_GROUPS = {
    "actor": "stage",
    "comedian": "stage",
    "model": "stage",
    "composer": "music",
    "poet": "letters",
    "novelist": "letters",
    "journalist": "letters",
    "philosopher": "letters",
    "politician": "public",
    "diplomat": "public",
    "lawyer": "public",
    "mathematician": "science",
    "physicist": "science",
    "chemist": "science",
    "astronomer": "science",
    "economist": "science",
    "psychologist": "science",
    "physician": "medicine",
    "psychiatrist": "medicine",
    "surgeon": "medicine",
    "architect": "design",
    "photographer": "design",
    "astronaut": "flight",
    "rabbi": "faith",
}
COMBINED_GROUPS = frozenset(
    frozenset(pair)
    for pair in (
        ("stage", "music"),
        ("stage", "letters"),
        ("stage", "public"),
        ("letters", "public"),
        ("letters", "music"),
        ("letters", "science"),
        ("science", "medicine"),
        ("letters", "faith"),
        ("letters", "medicine"),
        ("public", "faith"),
        ("design", "stage"),
        ("design", "letters"),
        ("science", "flight"),
        ("public", "flight"),
        ("public", "science"),
    )
)
# Occupations whose LRE label names a field the person worked in rather than their profession (the hand
# audit's "Julius Shulman known as an architect": he photographed architecture): never asked.
LEFT_OUT_OCCUPATIONS = {
    "architect": "LRE labels people who worked on architecture (Julius Shulman, its photographer) as architects",
    "photographer": "the other side of the same confusion (architects and artists who photographed)",
    "model": "a passing job of many actors and singers",
}
SPORT_NAMES = {"soccer": "soccer", "football": "American football", "baseball": "baseball", "basketball": "basketball", "hockey": "ice hockey"}
# Sports one person plays professionally together: the four North American major leagues share their
# two-sport athletes (Deion Sanders in the NFL and MLB, Chuck Connors in the NBA and MLB), so a false twin
# is always an athlete of the other group (a soccer player for an American sport, and back).
SPORT_GROUPS = {"soccer": "soccer", **dict.fromkeys(("football", "baseball", "basketball", "hockey"), "north american")}
# LRE's native languages are the language of the person's state: wrong where the state was multilingual.
LEFT_OUT_LANGUAGES = {
    "Latin": "nobody's native language",
    "Russian": "LRE gives the Russian Empire's and the Soviet Union's Poles, Balts and others Russian (Felix Dzerzhinsky: Polish)",
    "Chinese": "a family of languages (Mandarin, Cantonese...), not one native language",
    "Hindi": "LRE gives Hindi to Indians whose mother tongue is another (Rajesh Khanna: Punjabi)",
}


# LRE "people" that are peoples, not persons ("Is Russian the native language of Russians?").
PEOPLES = frozenset({"Russians", "Swedes", "Skolts", "Chveneburi", "Ingrian Finns"})


def person_key(name: str) -> str:
    """A person's name without titles, accents or punctuation: 'Queen Elizabeth II' -> 'elizabeth ii'."""
    words = [word for word in re.findall(r"[\w']+", name_key(name)) if word not in TITLES]
    return " ".join(words)


def person(name: str) -> Entity:
    return Entity(name, name, key=person_key(name))


def native_language_facts(kb: KnowledgeBase, rng: random.Random) -> FactTable:
    """'Is Russian the native language of Vladimir Putin?': the person is the entity swapped (each person
    is the true object once and a false one once), languages taking turns; a false twin's own native
    language differs."""
    speakers: dict[str, set[str]] = {}
    for name, language in kb.lre("person_native_language"):
        speakers.setdefault(language, set()).add(person_key(name))
    known = {language: frozenset(keys) for language, keys in speakers.items()}
    facts = [
        Fact(plain(language), person(name), known[language], None)
        for name, language in kb.lre("person_native_language")
        if language not in LEFT_OUT_LANGUAGES and name not in PEOPLES
    ]
    return FactTable(round_robin(shuffled(facts, rng), lambda fact: fact.subject.name), uniform_cost)


def occupation_facts(kb: KnowledgeBase, rng: random.Random) -> FactTable:
    """'Is Marie Curie known as a chemist?': the person is the entity swapped; a false twin's occupation is
    in a group people rarely combine with the subject's (never an actor for a politician)."""
    group_of = {person_key(name): OCCUPATION_GROUPS.get(occupation) for name, occupation in kb.lre("person_occupation")}
    facts = [
        Fact(Entity(occupation, with_article(occupation)), person(name), frozenset({person_key(name)}), None)
        for name, occupation in kb.lre("person_occupation")
        if occupation in OCCUPATION_GROUPS and occupation not in LEFT_OUT_OCCUPATIONS
    ]

    def cost(fact: Fact, candidate: Entity) -> float | None:
        mine, theirs = OCCUPATION_GROUPS[fact.subject.name], group_of[candidate.key]
        if theirs is None or mine == theirs or frozenset((mine, theirs)) in COMBINED_GROUPS:
            return None
        return 1.0

    return FactTable(round_robin(shuffled(facts, rng), lambda fact: fact.subject.name), cost)


def sport_facts(kb: KnowledgeBase, rng: random.Random) -> FactTable:
    """'Is Babe Ruth a professional baseball player?': the athlete is the entity swapped, sports taking turns;
    a false twin plays a sport of the other group (:data:`SPORT_GROUPS`), never one of the two-sport
    athletes' combinations."""
    facts = [
        Fact(plain(SPORT_NAMES[sport], key=sport), person(name), frozenset({person_key(name)}), None)
        for name, sport in kb.lre("person_plays_pro_sport")
        if sport in SPORT_NAMES and name not in ATHLETES_KNOWN_FOR_OTHER_THINGS
    ]
    sports_of: dict[str, set[str]] = {}
    for name, sport in kb.lre("person_plays_pro_sport"):
        sports_of.setdefault(person_key(name), set()).add(sport)
    left_out = {person_key(name) for name in ATHLETES_KNOWN_FOR_OTHER_THINGS}

    def cost(fact: Fact, candidate: Entity) -> float | None:
        groups = {SPORT_GROUPS.get(sport) for sport in sports_of.get(candidate.key, set())}
        return None if SPORT_GROUPS[fact.subject.key] in groups or candidate.key in left_out else 1.0

    ordered = round_robin(shuffled(facts, rng), lambda fact: fact.subject.name)
    soccer = [fact for fact in ordered if SPORT_GROUPS[fact.subject.key] == "soccer"]
    american = [fact for fact in ordered if SPORT_GROUPS[fact.subject.key] != "soccer"][: len(soccer)]
    # as many facts of each group: every athlete is then a false twin about once, as often as a true object
    kept = {id(fact) for fact in soccer + american}
    return FactTable([fact for fact in ordered if id(fact) in kept], cost)


PEOPLE = (
    Relation(
        "native_language",
        "people",
        "language (subject) and a person whose native language it is (object, the entity swapped)",
        ("Is {s} the native language of {o}?", "Is {o_poss} native language {s}?", "Is {s} the mother tongue of {o}?"),
        ("lre",),
        native_language_facts,
    ),
    Relation(
        "occupation",
        "people",
        "occupation (subject) and a person known for it (object, the entity swapped)",
        ("Is {o} known as {s}?", "Did {o} work as {s}?", "By profession, is {o} {s}?"),
        ("lre",),
        occupation_facts,
    ),
    Relation(
        "athlete_sport",
        "people",
        "sport (subject) and a professional player of it (object, the entity swapped)",
        ("Is {o} a professional {s} player?", "Did {o} play {s} professionally?", "Is {o} known for playing {s}?"),
        ("lre",),
        sport_facts,
    ),
)
