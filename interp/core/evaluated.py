"""The evaluation a report studies: run now, or read from what ``fk-bench eval`` wrote (``--from-results``).

Either way the report gets one :class:`EvaluatedRun`: the model, dataset and prompt settings the
numbers came from, the summary and per-relation metrics (the gates read them), and the evaluator's
per-question table (ids, questions, labels, relation, subject, object, pair ids and the unsigned
log-odds ``true_log_odds`` = log(p_True / p_False)) from which the pairs are chosen. Reading a run
never evaluates again; a run that does not match what the report was asked for (model, dataset,
prompt format) is refused with one line naming the folder and the mismatch.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from fk_bench.errors import FkBenchError
from fk_bench.results import RESULTS_FILE


@dataclass
class EvaluatedRun:
    """What one evaluation produced, as interp reads it (from a :class:`fk_bench.results.RunResult`)."""

    result: Any  # fk_bench.results.RunResult
    questions: pd.DataFrame  # the per-question table, with ``true_log_odds``
    source: str  # "evaluated for this report" or the results.json read

    @property
    def spec(self) -> Any:
        return self.result.spec

    @property
    def run_name(self) -> str:
        return str(self.result.run_name)

    @property
    def prompt_format(self) -> str:
        return str(self.spec.prompt_format)

    @property
    def fewshot_k(self) -> int | None:
        return self.spec.fewshot_k

    @property
    def model(self) -> dict:
        """What report.json records about the model (the run's record, and the spec it was asked as)."""
        record = self.result.model
        return {
            "spec": self.spec.model,
            "name": record.name,
            "path": record.path,
            "source": dict(record.source),
            "device": self.spec.device,
            "dtype": self.spec.dtype,
        }

    @property
    def dataset(self) -> dict:
        return {**self.spec.dataset.model_dump(), "n_questions": len(self.result.questions)}

    @property
    def settings(self) -> dict:
        return self.spec.model_dump(exclude={"dataset", "model"})

    @property
    def summary(self) -> dict:
        return dict(self.result.summary.model_dump())

    @property
    def per_relation(self) -> dict[str, dict]:
        return {name: summary.model_dump() for name, summary in self.result.per_relation.items()}

    @property
    def answer_words(self) -> dict[str, list[str]]:
        return dict(self.result.answer_words)

    def relations(self) -> list[str]:
        """Every relation with questions in the run, in name order."""
        if "relation" not in self.questions.columns:
            return []
        return sorted({str(r) for r in self.questions["relation"] if isinstance(r, str) and r})

    def relation_summary(self, relation: str | None) -> dict:
        """The evaluator's metrics over one relation's questions (the whole run for None)."""
        if relation is None:
            return self.summary
        return self.per_relation.get(relation, {})


def from_result(result: Any, source: str = "evaluated for this report") -> EvaluatedRun:
    """A :class:`fk_bench.results.RunResult`, fresh from :func:`fk_bench.evaluation.evaluate` or read from disk
    (its rows always hold ``true_log_odds``: version-1 files get it when they are upgraded)."""
    return EvaluatedRun(result, result.frame, source)


def read_run(folder: str | Path) -> EvaluatedRun:
    """The run in ``folder`` (OUT/<run>, or its results.json), read with :func:`fk_bench.results.read_results`."""
    from fk_bench.results import read_results

    path = Path(folder)
    path = path / RESULTS_FILE if path.is_dir() else path
    if not path.is_file():
        raise FkBenchError(f"--from-results {folder}: no {RESULTS_FILE} there (give a folder that fk-bench eval wrote, OUT/<run>)")
    return from_result(read_results(path), str(path))


def check_matches(run: EvaluatedRun, asked: dict[str, Any]) -> None:
    """Refuse a run whose model, dataset or prompt format differs from what the report was explicitly asked for.

    ``asked`` holds only the options given on the command line (``model``, ``dtype``, ``prompt_format``,
    ``fewshot_k``, ``dataset``, ``config``, ``split``, ``relation``, ``limit``). A ``relation`` that is
    a relation of the run selects its questions, and ``relation="all"`` every relation: neither is a mismatch.
    """
    where = f"--from-results {run.source}"
    differences = []
    model_names = {run.spec.model, run.result.model.name, run.result.model.path}
    if asked.get("model") is not None and asked["model"] not in model_names:
        differences.append(f"model {asked['model']!r} (the run's is {run.spec.model!r})")
    if asked.get("dtype") is not None and asked["dtype"] != run.spec.dtype:
        differences.append(f"dtype {asked['dtype']} (the run's is {run.spec.dtype})")
    if asked.get("prompt_format") is not None and asked["prompt_format"] != run.prompt_format:
        differences.append(f"prompt format {asked['prompt_format']!r} (the run's is {run.prompt_format!r})")
    if asked.get("fewshot_k") is not None and run.prompt_format == "fewshot" and asked["fewshot_k"] != run.fewshot_k:
        differences.append(f"fewshot k {asked['fewshot_k']} (the run's is {run.fewshot_k})")
    dataset_names = {"dataset": "id", "config": "config", "split": "split", "limit": "limit"}
    for option, key in dataset_names.items():
        value = asked.get(option)
        if value is None:
            continue
        recorded = run.dataset.get(key)
        same = str(value) == str(recorded)
        if not same:
            differences.append(f"dataset {option} {value!r} (the run's is {recorded!r})")
    relation = asked.get("relation")
    if relation is not None and relation != "all":
        recorded = run.dataset.get("relation")
        if recorded is not None and recorded != relation:
            differences.append(f"relation {relation!r} (the run evaluated relation {recorded!r} only)")
        elif relation not in run.relations():
            differences.append(f"relation {relation!r} (the run's relations: {', '.join(run.relations()) or 'none'})")
    if differences:
        raise FkBenchError(f"{where}: does not match this report's {'; '.join(differences)}")
