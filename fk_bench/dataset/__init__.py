"""The packaged yes/no dataset (``fk-bench build-dataset``), generated from offline knowledge bases.

One module per step: :mod:`~fk_bench.dataset.knowledge` (the knowledge bases and the tables of facts
left out), :mod:`~fk_bench.dataset.relations` (the nine fact generators), :mod:`~fk_bench.dataset.pairs`
(true question + corrupted twin, the splits and their order), :mod:`~fk_bench.dataset.card` (the
README card), :mod:`~fk_bench.dataset.write` (the parquet folder), and :mod:`~fk_bench.dataset.schema`,
the one definition of the columns that the loader (:mod:`fk_bench.data`) and the evaluator use too.
Importing the package imports none of them, so the loader pays only for the schema.
"""
