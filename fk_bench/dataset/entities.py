"""Entities and the grammar of a question: names as written in a sentence, agreement, possessives.

An :class:`Entity` is what a question names: ``name`` goes into the subject/object columns (as the
knowledge base spells it), ``text`` into the question ("the United Kingdom", "the Euro"), ``plural``
chooses "Are"/"Do" over "Is"/"Does" ("Are the Cayman Islands in Europe?"). A question template names its
slots ``{s}``/``{o}`` (the text), ``{s_is}``/``{o_is}`` ("is"/"are"), ``{s_does}``/``{o_does}``
("does"/"do"), ``{s_its}``/``{o_its}`` ("its"/"their") and ``{s_poss}``/``{o_poss}`` ("France's", "the Cayman Islands'").
"""

from __future__ import annotations

import functools
import math
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field

# Country and territory names that take "the" inside a sentence ("the capital of the United Kingdom").
NAMES_WITH_ARTICLE = frozenset(
    {
        "Bahamas",
        "Comoros",
        "Gambia",
        "Maldives",
        "Netherlands",
        "Philippines",
        "Seychelles",
        "Isle of Man",
        "British Indian Ocean Territory",
        "Central African Republic",
        "Czech Republic",
        "Dominican Republic",
        "Democratic Republic of the Congo",
        "Republic of the Congo",
        "European Union",
    }
)


@dataclass(frozen=True)
class Entity:
    """A knowledge-base entity: ``name`` is stored in the subject/object columns, ``text`` goes in the question.

    ``popularity`` (population of a place...) and ``where`` ((latitude, longitude), for "near") are what
    the sources say, or None; ``key`` identifies the entity across spellings (defaults to :func:`name_key`
    of the name).
    """

    name: str
    text: str
    plural: bool = False
    popularity: float | None = field(default=None, compare=False)
    where: tuple[float, float] | None = field(default=None, compare=False)
    key: str = ""

    def __post_init__(self) -> None:
        if not self.key:
            object.__setattr__(self, "key", name_key(self.name))


def plain(name: str, *, plural: bool = False, popularity: float | None = None, where: tuple[float, float] | None = None, key: str = "") -> Entity:
    """An entity written as it is named."""
    return Entity(name, name, plural=plural, popularity=popularity, where=where, key=key)


@functools.cache
def name_key(name: str) -> str:
    """Accent- and case-insensitive form of a name, to detect the same name in several places."""
    decomposed = unicodedata.normalize("NFKD", name)
    return " ".join("".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold().split())


def loose_key(name: str) -> str:
    """:func:`name_key` without punctuation or spaces and with "St." as "Saint": "St. John's" = "Saint Johns"."""
    key = re.sub(r"\bst\b\.?", "saint", name_key(name))
    return re.sub(r"[^0-9a-z]", "", key)


def contains_name(text: str, name: str) -> bool:
    """Whether ``name`` appears in ``text`` as whole words, ignoring accents and case."""
    return re.search(rf"\b{re.escape(name_key(name))}\b", name_key(text)) is not None


def names_pattern(names: Iterable[str]) -> re.Pattern[str]:
    """One pattern for many :func:`contains_name` checks: ``pattern.search(name_key(text))`` finds any of
    ``names`` in ``text`` as whole words, in one search instead of one per name."""
    alternatives = sorted({re.escape(name_key(name)) for name in names if name.strip()}, key=lambda text: (-len(text), text))
    return re.compile(r"\b(?:" + "|".join(alternatives) + r")\b")


def name_tokens(name: str) -> frozenset[str]:
    """The words of a name longer than two letters (for 'do these two names share a word?')."""
    return frozenset(word for word in re.findall(r"\w+", name_key(name)) if len(word) > 2)


def country_text(name: str) -> str:
    """A country name as written inside a question: 'the United Kingdom', 'the Netherlands', 'France'."""
    if name in NAMES_WITH_ARTICLE or name.startswith("United ") or name.endswith(" Islands") or name.startswith("U.S. "):
        return "the " + name
    return name


def is_plural_name(name: str) -> bool:
    """Whether a place name takes a plural verb: 'the Cayman Islands are'; 'the Netherlands is' (a country)."""
    return name.endswith(" Islands")


def with_article(noun: str) -> str:
    """'an actor', 'a poet'."""
    return ("an " if noun[:1].lower() in "aeiou" else "a ") + noun


def possessive(text: str, plural: bool) -> str:
    """'France's', 'Texas's', 'the Cayman Islands'', and for a singular name in a plural form (a name with
    "the" ending in s, or ending in a plural word): 'the Bahamas'', 'Saint Vincent and the Grenadines''."""
    plural_form = text.endswith("s") and (text.startswith("the ") or " the " in text)
    return text + ("'" if plural or plural_form else "'s")


def render(template: str, subject: Entity, obj: Entity) -> str:
    """The question ``template`` asks of (``subject``, ``obj``), its first letter capitalised."""
    slots = {}
    for prefix, entity in (("s", subject), ("o", obj)):
        slots[prefix] = entity.text
        slots[f"{prefix}_is"] = "are" if entity.plural else "is"
        slots[f"{prefix}_does"] = "do" if entity.plural else "does"
        slots[f"{prefix}_poss"] = possessive(entity.text, entity.plural)
        slots[f"{prefix}_its"] = "their" if entity.plural else "its"
    question = template.format(**slots)
    return question[:1].upper() + question[1:]


def distance_km(a: tuple[float, float] | None, b: tuple[float, float] | None) -> float | None:
    """Great-circle distance between two (latitude, longitude) points; None where either is unknown."""
    if a is None or b is None:
        return None
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371.0 * math.asin(min(1.0, math.sqrt(h)))


def near_cost(a: tuple[float, float] | None, b: tuple[float, float] | None) -> float:
    """How implausible a false twin is for being far away: 0 next door, 1 per 1,500 km, at most 4 (unknown: 2)."""
    distance = distance_km(a, b)
    return 2.0 if distance is None else min(distance / 1500.0, 4.0)
