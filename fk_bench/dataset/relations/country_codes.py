"""Country codes and languages: internet domains and calling codes (GeoNames, countryinfo, country_converter)
and official languages (CLDR, countryinfo and the constitutions that list more)."""

from __future__ import annotations

import random
from collections import defaultdict

from fk_bench.dataset.entities import Entity, near_cost
from fk_bench.dataset.knowledge import CHANGED_LANGUAGES, NON_GEOGRAPHIC_CODES, KnowledgeBase
from fk_bench.dataset.relations.base import Fact, FactTable, Relation, shuffled

# official_language: where a country's constitution (the named source) lists its official languages and
# CLDR gives fewer, the constitution's count: true facts, never false twins.
CONSTITUTIONAL_LANGUAGES = {
    "ZW": (
        "Constitution of Zimbabwe (2013), section 6: 16 official languages",
        ("ny", "en", "kck", "nmq", "ndc", "nd", "ts", "sn", "st", "toi", "tn", "ve", "xh"),
    ),
    "ZA": (
        "Constitution of South Africa (1996), section 6: 11 official languages",
        ("af", "en", "nr", "xh", "zu", "nso", "st", "tn", "ss", "ve", "ts"),
    ),
    "BO": ("Constitution of Bolivia (2009), article 5: Spanish and 36 indigenous languages", ("es", "qu", "ay", "gn")),
}
# official_language: CLDR official status that the constitution does not give (never asked, true or false).
NOT_CONSTITUTIONAL_LANGUAGES = {
    ("NG", "yo"): "the 1999 constitution names English only; Yoruba, Hausa and Igbo are National Assembly languages",
    ("NG", "ha"): "the 1999 constitution names English only; Yoruba, Hausa and Igbo are National Assembly languages",
    ("NG", "ig"): "the 1999 constitution names English only; Yoruba, Hausa and Igbo are National Assembly languages",
    ("MW", "ny"): "the constitution names no official language; Chichewa is the national language",
    ("BW", "tn"): "English is the official language; Setswana is the national language",
    ("NR", "na"): "the constitution names no official language",
}
# India's scheduled languages are official in states, not of the Union: never asked about India.
SCHEDULED_LANGUAGES_OF_INDIA = frozenset(
    ["as", "bn", "brx", "doi", "gu", "kn", "ks", "kok", "mai", "ml", "mni", "mr", "ne", "or", "pa", "sa", "sat", "sd", "ta", "te", "ur"]
)  # fmt: skip

# calling_code leaves out countries whose code overlaps another's (never asked, true or false).
OVERLAPPING_CALLING_CODES = {"VA": "+379 is assigned but unused: Vatican numbers are in Italy's +39 (+39 06 698)"}


def _code_facts(kb: KnowledgeBase, rng: random.Random, values: dict[str, dict[str, str | None]], text: str) -> FactTable:
    """Facts 'country -> value' where every source that has a value gives the same one, and no other
    country has it in any source; false twins are other countries' values, nearest first."""
    holders: dict[str, set[str]] = defaultdict(set)
    for code, by_source in values.items():
        for value in by_source.values():
            if value:
                holders[value].add(code)
    facts, dropped = [], 0
    owner = {}
    for code, by_source in values.items():
        given = {value for value in by_source.values() if value}
        if not by_source.get("geonames"):
            continue
        if len(given) > 1:
            dropped += 1
            continue
        value = by_source.get("geonames") or ""
        if holders[value] != {code} or sum(1 for other in by_source.values() if other) < 2:
            continue  # another country's too, or no second source to confirm it
        owner[value] = code
        facts.append(Fact(kb.country(code), Entity(text.format(value), text.format(value), key=value), frozenset(given), kb.country(code).popularity))

    def cost(fact: Fact, candidate: Entity) -> float | None:
        return near_cost(fact.subject.where, kb.country(owner[candidate.key]).where)

    return FactTable(shuffled(facts, rng), cost, dropped=dropped, confirmed=True)


def domain_facts(kb: KnowledgeBase, rng: random.Random) -> FactTable:
    """'Is .fr the country code top-level domain of France?': GeoNames, countryinfo and country_converter
    agree, and the domain is one country's only."""
    values = {}
    for code, record in kb.countries.items():
        info_tlds = [tld for tld in kb.countryinfo.get(code, {}).get("tld") or [] if tld.isascii()]
        coco = kb.coco.get(code, {}).get("ccTLD")
        values[code] = {
            "geonames": record["tld"].strip() or None,
            "countryinfo": info_tlds[0] if len(info_tlds) == 1 else None,
            "coco": f".{coco}" if coco else None,
        }
    return _code_facts(kb, rng, values, "{}")


def calling_code_facts(kb: KnowledgeBase, rng: random.Random) -> FactTable:
    """'Is +33 the international calling code of France?': GeoNames and countryinfo give the same one code,
    used by no other country or territory, not a satellite or other non-geographic network's (+870), and
    not overlapping another country's (:data:`OVERLAPPING_CALLING_CODES`)."""
    values = {}
    for code, record in kb.countries.items():
        if code in OVERLAPPING_CALLING_CODES:
            continue
        phone = record["phone"].strip().lstrip("+")
        codes = kb.countryinfo.get(code, {}).get("callingCodes") or []
        values[code] = {
            "geonames": phone if phone.isdigit() and phone not in NON_GEOGRAPHIC_CODES else None,
            "countryinfo": codes[0] if len(codes) == 1 and codes[0].isdigit() else None,
        }
        if values[code]["geonames"] is None:
            values[code] = {"geonames": None}
    return _code_facts(kb, rng, values, "+{}")


def _language_status(kb: KnowledgeBase, code: str) -> tuple[set[str], set[str], int]:
    """(official, known, disagreements) languages of a country: official in CLDR (nationally, de jure) and listed by
    countryinfo, or named by its constitution (:data:`CONSTITUTIONAL_LANGUAGES`), less those whose status
    changed recently or that the constitution does not give; known: any status or 2%+ speakers in any
    source (never a false twin); disagreements: languages CLDR and countryinfo give differently."""
    from babel.languages import get_official_languages, get_territory_language_info

    cldr = set(get_official_languages(code))
    listed = {language.split("-")[0] for language in kb.countryinfo.get(code, {}).get("languages") or []}
    spoken = {
        language.split("_")[0]
        for language, info in get_territory_language_info(code).items()
        if info.get("official_status") or float(info.get("population_percent") or 0) >= 2
    }
    geonames = {language.split("-")[0] for language in kb.countries[code]["languages"].split(",") if language}
    constitution = set(CONSTITUTIONAL_LANGUAGES.get(code, ("", ()))[1])
    unasked = {language for country, language in (*CHANGED_LANGUAGES, *NOT_CONSTITUTIONAL_LANGUAGES) if country == code}
    if code == "IN":
        unasked |= SCHEDULED_LANGUAGES_OF_INDIA
    known = cldr | listed | spoken | geonames | constitution | unasked
    return ((cldr & listed) | constitution) - unasked, known, len(cldr ^ listed) if listed else 0


def language_facts(kb: KnowledgeBase, rng: random.Random) -> FactTable:
    """'Is French an official language of Belgium?': official per :func:`_language_status`; a false twin has
    no status there in any source. A language named like a country ("Nauru") is never asked: the question
    would answer itself."""
    from babel import Locale

    english = Locale("en")
    official_in: dict[str, set[str]] = defaultdict(set)
    facts, dropped = [], 0
    for code in kb.countries:
        official, known, disagreements = _language_status(kb, code)
        dropped += disagreements
        for language in sorted(official):
            name = english.languages.get(language)
            if name and kb.country_code(name) is None:
                official_in[language].add(code)
                facts.append(Fact(kb.country(code), Entity(name, name, key=language), frozenset(known), kb.country(code).popularity))

    def cost(fact: Fact, candidate: Entity) -> float | None:
        return min(
            (near_cost(fact.subject.where, kb.country(other).where) for other in official_in[candidate.key] if other in kb.countries), default=2.0
        )

    return FactTable(shuffled(facts, rng), cost, dropped=dropped, confirmed=True)


COUNTRY_CODES = (
    Relation(
        "country_domain",
        "geography",
        "country (subject) and its internet domain (object)",
        (
            "Is {o} the country code top-level domain of {s}?",
            "Is {s_poss} country code top-level domain {o}?",
            "{s_does} {s} use {o} as {s_its} internet country code domain?",
        ),
        ("geonames", "countryinfo", "coco"),
        domain_facts,
    ),
    Relation(
        "calling_code",
        "geography",
        "country (subject) and its telephone code (object)",
        (
            "Is {o} the international calling code of {s}?",
            "Is {s_poss} international calling code {o}?",
            "Do phone numbers in {s} use the country code {o}?",
        ),
        ("geonames", "countryinfo"),
        calling_code_facts,
    ),
    Relation(
        "official_language",
        "geography",
        "country (subject) and one of its official languages (object)",
        ("Is {o} an official language of {s}?", "Is {o} one of the official languages of {s}?", "{s_does} {s} have {o} as an official language?"),
        ("cldr", "countryinfo"),
        language_facts,
    ),
)
