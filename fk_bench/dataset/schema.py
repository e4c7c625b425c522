"""The columns of a question: the one definition used by the dataset builder, the loader and the evaluator.

The builder writes its parquet files with :func:`arrow_schema`, the card documents :data:`COLUMNS`,
:func:`fk_bench.data.load_questions` returns every source with :func:`features`, and the evaluator copies
:data:`QUESTION_COLUMNS` into its per-question table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import datasets
    import pyarrow

DATASET_VERSION = "2.1.0"
"""The version of the packaged dataset; its card's YAML carries it as ``fk_bench_dataset_version``."""

DOMAINS = ("geography", "people", "organisations", "culture", "science")
"""The domains of the relations, in display order (the ``domain`` column)."""


@dataclass(frozen=True)
class Column:
    """One column: its name, its type (``string``, ``bool`` or ``float64``; every column may be null) and what it means."""

    name: str
    dtype: str
    meaning: str


COLUMNS: tuple[Column, ...] = (
    Column(
        "id",
        "string",
        "`<fact_id>-<template>-<true/false>`; the two questions of a pair share `<fact_id>-<template>`, their `pair_id`",
    ),
    Column("question", "string", 'the question, ending in "?" (the prompt adds "\\n")'),
    Column("answer", "bool", "whether the fact holds"),
    Column("relation", "string", "the relation (also the config name)"),
    Column("domain", "string", "the relation's domain: " + ", ".join(DOMAINS) + "; null in `paris`"),
    Column(
        "template",
        "string",
        "the wording of the question within its relation: `t0` (the canonical one, asked in every config), `t1`, `t2`... "
        "(the `paraphrase` config); null in `paris`",
    ),
    Column("subject", "string", "the entity the pair is about, as named in the knowledge base (the same in both questions of a pair)"),
    Column("object", "string", "the entity the question pairs it with; the one that differs between the two questions of a pair"),
    Column("corrupted_question", "string", "the other question of the pair: one entity (the object) swapped, opposite answer"),
    Column(
        "corrupted_same_length",
        "bool",
        "whether `question` and `corrupted_question` have the same number of tokens under the embedded model's "
        "tokenizer (Gemma 3 270M); check again for other tokenizers",
    ),
    Column(
        "pair_id",
        "string",
        "shared by a true question and its corrupted twin (the false question with the object swapped) in the same "
        "template, which is also in the data; null where the twin is not (the `paris` config)",
    ),
    Column(
        "fact_id",
        "string",
        "`<relation>-<number>`: shared by every question of one pair in every template (true and false, every wording), "
        "so consistency groups by it; null in `paris`",
    ),
    Column(
        "popularity",
        "float64",
        "how well known the pair's entity is where a source says (population of a place or country); the same on both "
        "questions of a pair; compare only within a relation; null where no source gives one",
    ),
)

QUESTION_COLUMNS: tuple[str, ...] = tuple(column.name for column in COLUMNS)
"""Every column of a validated question, in order."""

REQUIRED_COLUMNS = ("question", "answer")
"""The columns a user's file must have; the others are filled in when missing."""

STRING_COLUMNS: tuple[str, ...] = tuple(column.name for column in COLUMNS if column.dtype == "string")
FLOAT_COLUMNS: tuple[str, ...] = tuple(column.name for column in COLUMNS if column.dtype == "float64")


def arrow_schema() -> pyarrow.Schema:
    """The parquet schema of the packaged dataset."""
    import pyarrow as pa

    types = {"string": pa.string(), "bool": pa.bool_(), "float64": pa.float64()}
    return pa.schema([(column.name, types[column.dtype]) for column in COLUMNS])


def features() -> datasets.Features:
    """The :class:`datasets.Features` of every dataset :func:`fk_bench.data.load_questions` returns."""
    import datasets

    return datasets.Features({column.name: datasets.Value(column.dtype) for column in COLUMNS})
