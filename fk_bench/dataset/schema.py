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


@dataclass(frozen=True)
class Column:
    """One column: its name, its type (``string`` or ``bool``; every column may be null) and what it means."""

    name: str
    dtype: str
    meaning: str


COLUMNS: tuple[Column, ...] = (
    Column("id", "string", "`<relation>-<pair>-<true/false>`; the two questions of a pair share `<relation>-<pair>`, their `pair_id`"),
    Column("question", "string", 'the question, ending in "?" (the prompt adds "\\n")'),
    Column("answer", "bool", "whether the fact holds"),
    Column("relation", "string", "the relation (also the config name)"),
    Column("subject", "string", "the entity the question is about, as named in the knowledge base"),
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
        "shared by a true question and its corrupted twin (the false question with the object swapped), "
        "which is also in the data; null where the twin is not (the `paris` config)",
    ),
)

QUESTION_COLUMNS: tuple[str, ...] = tuple(column.name for column in COLUMNS)
"""Every column of a validated question, in order."""

REQUIRED_COLUMNS = ("question", "answer")
"""The columns a user's file must have; the others are filled in when missing."""

BOOL_COLUMNS: tuple[str, ...] = tuple(column.name for column in COLUMNS if column.dtype == "bool")
STRING_COLUMNS: tuple[str, ...] = tuple(column.name for column in COLUMNS if column.dtype == "string")


def arrow_schema() -> pyarrow.Schema:
    """The parquet schema of the packaged dataset."""
    import pyarrow as pa

    types = {"string": pa.string(), "bool": pa.bool_()}
    return pa.schema([(column.name, types[column.dtype]) for column in COLUMNS])


def features() -> datasets.Features:
    """The :class:`datasets.Features` of every dataset :func:`fk_bench.data.load_questions` returns."""
    import datasets

    return datasets.Features({column.name: datasets.Value(column.dtype) for column in COLUMNS})
