"""The native evaluator: score every question (see :mod:`fk_bench.scoring`), compute the metrics, write results."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

import fk_bench
from fk_bench.answer_groups import AnswerGroups
from fk_bench.content_free import content_free_log_odds
from fk_bench.data import Questions
from fk_bench.dataset.schema import COLUMNS
from fk_bench.errors import FkBenchError
from fk_bench.files import atomic_dir
from fk_bench.metrics import PER_QUESTION_METRICS, by_popularity, passes_filter, question_metrics, summarize
from fk_bench.models import LoadedModel
from fk_bench.pages.tables import csv_safe
from fk_bench.pair_index import groups_of
from fk_bench.results import QUESTIONS_FILE, RESULTS_FILE, RunResult, portable_path
from fk_bench.scoring import score_answer_words
from fk_bench.spec import RunSpec
from fk_bench.torch_settings import dtype_name, resolve

RESULT_COLUMNS = tuple(column.name for column in COLUMNS if column.name != "corrupted_same_length")
"""The question columns copied into the per-question rows beside the metrics (where the data has them)."""


def _check_finite(scores: np.ndarray, questions: Questions, loaded: LoadedModel, spec: RunSpec) -> None:
    """Non-finite scores (float16 overflow, a broken model) must stop the run, never become accuracy 0."""
    bad = np.flatnonzero(~np.isfinite(scores).all(axis=1))
    if bad.size:
        ids = ", ".join(str(questions["id"][int(i)]) for i in bad[:3])
        raise FkBenchError(
            f"model {loaded.name} ({spec.dtype} on {spec.device}) gave non-finite scores for "
            f"{bad.size} of {len(scores)} question(s) (first: {ids}); try --dtype float32"
        )


def _check_spec(loaded: LoadedModel, questions: Questions, spec: RunSpec) -> None:
    """The spec describes this run: the model, its device and dtype (as torch objects: :func:`resolve`), and the questions as loaded."""
    device, dtype = resolve(spec)
    if (loaded.spec, torch.device(loaded.device), loaded.dtype) != (spec.model, device, dtype):
        raise FkBenchError(
            f"run spec says model {spec.model!r} ({spec.dtype} on {spec.device}), "
            f"the loaded model is {loaded.spec!r} ({dtype_name(loaded.dtype)} on {loaded.device})"
        )
    if questions.dataset != spec.dataset:
        raise FkBenchError(f"run spec's dataset {spec.dataset.model_dump()} is not the questions' {questions.dataset.model_dump()}")


def prompts_for(questions: Questions, spec: RunSpec, tokenizer: Any, model_name: str | None = None) -> list[str]:
    """Every question's prompt in the spec's format (its registry entry builds them; the few-shot examples
    are the packaged train split's first k)."""
    return spec.format.prompts(questions["question"], tokenizer, spec.fewshot_k, model_name)


def spec_for(loaded: LoadedModel, questions: Questions, answer_groups: AnswerGroups, **settings: Any) -> RunSpec:
    """The run spec of scoring ``questions`` on ``loaded`` with ``answer_groups``; ``settings`` are the other
    fields of :class:`RunSpec` (prompt_format, fewshot_k, batch_size, filter_threshold), defaults elsewhere."""
    return RunSpec(
        model=loaded.spec,
        dtype=dtype_name(loaded.dtype),
        device=loaded.device,
        dataset=questions.dataset,
        answer_map=answer_groups.name,
        **settings,
    )


def evaluate(
    loaded: LoadedModel, questions: Questions, answer_groups: AnswerGroups, spec: RunSpec | None = None, progress: bool = True, **settings: Any
) -> RunResult:
    """Score ``questions`` (from :func:`fk_bench.data.load_questions`) as ``spec`` says: its prompt format,
    batch size and filter threshold, on ``loaded`` (which must be the spec's model, device and dtype).

    Without ``spec``, the spec is :func:`spec_for` the model, questions and ``settings``.
    """
    if spec is None:
        spec = spec_for(loaded, questions, answer_groups, **settings)
    elif settings:
        raise TypeError(f"evaluate: give the settings {sorted(settings)} in the spec, not beside it")
    if len(questions) == 0:
        raise FkBenchError(f"dataset {spec.dataset.id}: no questions to evaluate")
    _check_spec(loaded, questions, spec)
    prompts = prompts_for(questions, spec, loaded.tokenizer, loaded.name)
    labels = np.asarray(questions["answer"], dtype=bool)
    start = time.perf_counter()
    scored = score_answer_words(loaded, prompts, answer_groups.words, spec.batch_size, progress, names=questions["id"])
    seconds = time.perf_counter() - start
    scores = scored.scores
    _check_finite(scores, questions, loaded, spec)

    per_question = question_metrics(scores, np.asarray(answer_groups.is_true_word), labels)
    bias = content_free_log_odds(loaded, spec, answer_groups)  # contextual calibration's three extra prompts
    summary, per_group = _summaries(per_question, labels, questions, spec, bias)
    columns = questions.table.column_names
    popularity = questions["popularity"] if "popularity" in columns else [None] * len(questions)
    rows = _question_rows(questions, per_question, scores, answer_groups, spec.filter_threshold)
    max_tokens = scored.n_tokens.max(axis=0)
    result = RunResult.model_validate(
        {
            "fk_bench_version": fk_bench.__version__,
            "spec": spec,
            "model": {"name": loaded.name, "path": portable_path(loaded.path), "source": loaded.source},
            "answer_words": answer_groups.to_map(),
            "answer_word_tokens": {
                "single_token": [w for w, n in zip(answer_groups.words, max_tokens) if n == 1],
                "multi_token": {w: int(n) for w, n in zip(answer_groups.words, max_tokens) if n > 1},
            },
            "scoring": {"seconds": seconds, "questions_per_second": len(prompts) / seconds if seconds else None, "batch_size": scored.batch_size},
            "summary": summary,
            "per_relation": per_group["relation"],
            "per_domain": per_group["domain"],
            "by_popularity": by_popularity(per_question["true_log_odds"], popularity, questions["relation"], questions.pairs),
            "questions": rows,
        }
    )
    result._prompts, result._prompt_tokens = prompts, scored.prompt_tokens
    return result


def _summaries(
    per_question: dict[str, np.ndarray], labels: np.ndarray, questions: Questions, spec: RunSpec, bias: float | None
) -> tuple[dict[str, Any], dict[str, dict[Any, Any]]]:
    """The run's summary, and per relation and per domain the same summary of their questions (``bias``: the
    content-free log-odds that contextual calibration removes)."""
    columns = questions.table.column_names
    fact_ids = questions["fact_id"] if "fact_id" in columns else None
    threshold = spec.filter_threshold
    try:
        summary = summarize(per_question, labels, threshold, questions.pairs, fact_ids, content_free_log_odds=bias)
        per_group = {}
        for column in ("relation", "domain"):
            values = questions[column] if column in columns else [None] * len(questions)
            per_group[column] = {
                key: summarize(
                    {k: v[rows] for k, v in per_question.items()},
                    labels[rows],
                    threshold,
                    questions.pairs.select(rows),
                    [fact_ids[i] for i in rows] if fact_ids is not None else None,
                    content_free_log_odds=bias,
                )
                for key, rows in sorted(groups_of(values, min_size=1).items())
            }
    except ValueError as err:  # a pair id shared by questions of one label: the data is wrong
        raise FkBenchError(f"dataset {spec.dataset.id}: {err}") from None
    return summary, per_group


def _question_rows(
    questions: Questions, per_question: dict[str, np.ndarray], scores: np.ndarray, answer_groups: AnswerGroups, threshold: float
) -> list[dict[str, Any]]:
    """One row per question: its data columns, its metrics, whether it passes the filter, and each word's score."""
    columns = questions.table.column_names
    record = {name: questions[name] for name in RESULT_COLUMNS if name in columns}
    filtered = passes_filter(per_question, threshold)
    return [
        {
            **{name: values[i] for name, values in record.items()},
            **{name: float(per_question[name][i]) for name in PER_QUESTION_METRICS},
            "passes_filter": bool(filtered[i]),
            "scores": {word: float(scores[i, w]) for w, word in enumerate(answer_groups.words)},
        }
        for i in range(len(questions))
    ]


def write_results(result: RunResult, out_dir: str | Path) -> Path:
    """Write ``<out>/<run-name>/results.json`` and ``questions.csv`` as one unit: both new, or both as before.

    Other files in that folder (an interp report written there) are kept.
    """
    with atomic_dir(Path(out_dir) / result.run_name, keep_existing=True) as staging:
        csv_safe(result.frame).to_csv(staging / QUESTIONS_FILE, index=False)  # dataset text never runs as a spreadsheet formula
        (staging / RESULTS_FILE).write_text(result.to_json(), encoding="utf-8")
    return Path(out_dir) / result.run_name / RESULTS_FILE
