"""The packaged yes/no dataset (``fk-bench build-dataset``), built from pinned offline knowledge bases.

One module per step: :mod:`~fk_bench.dataset.knowledge` (the sources and the tables of facts left out),
:mod:`~fk_bench.dataset.entities` (names as a sentence writes them, agreement, distance),
:mod:`~fk_bench.dataset.relations` (one module per domain: each relation's templates, sources and true
facts), :mod:`~fk_bench.dataset.matching` (every false twin of a relation chosen at once, so the object
alone tells nothing), :mod:`~fk_bench.dataset.pairs` (rows, splits and configs),
:mod:`~fk_bench.dataset.checks` (object-only baseline and balance), :mod:`~fk_bench.dataset.card` (the
README card), :mod:`~fk_bench.dataset.write` (the parquet folder), :mod:`~fk_bench.dataset.audit` (the
hand audit's sample) and :mod:`~fk_bench.dataset.schema`, the one definition of the columns that the
loader (:mod:`fk_bench.data`) and the evaluator use too. Importing the package imports none of them, so
the loader pays only for the schema.
"""
