"""Every relation of the dataset, by domain: one module per domain, :mod:`.base` for what a relation is."""

from __future__ import annotations

from fk_bench.dataset.relations.base import Fact, FactTable, Relation
from fk_bench.dataset.relations.country_codes import COUNTRY_CODES
from fk_bench.dataset.relations.culture import CULTURE
from fk_bench.dataset.relations.geography import GEOGRAPHY
from fk_bench.dataset.relations.organisations import ORGANISATIONS_RELATIONS
from fk_bench.dataset.relations.people import PEOPLE
from fk_bench.dataset.relations.science import SCIENCE
from fk_bench.dataset.relations.us_states import US_STATES

RELATIONS: tuple[Relation, ...] = (*GEOGRAPHY, *COUNTRY_CODES, *US_STATES, *PEOPLE, *ORGANISATIONS_RELATIONS, *CULTURE, *SCIENCE)
RELATION_NAMES = tuple(relation.name for relation in RELATIONS)

__all__ = ["RELATIONS", "RELATION_NAMES", "Fact", "FactTable", "Relation"]
