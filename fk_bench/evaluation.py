"""The native evaluator: score every question (see :mod:`fk_bench.scoring`), compute the metrics, write results."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import fk_bench
from fk_bench.answers import AnswerGroups
from fk_bench.data import fewshot_pool
from fk_bench.dataset.schema import QUESTION_COLUMNS
from fk_bench.errors import FkBenchError
from fk_bench.files import atomic_dir, strict_json
from fk_bench.metrics import DEFAULT_FILTER_THRESHOLD, PER_QUESTION_METRICS, passes_filter, question_metrics, summarize
from fk_bench.models import LoadedModel
from fk_bench.prompts import build_prompt
from fk_bench.scoring import score_answer_words

RESULT_COLUMNS = tuple(name for name in QUESTION_COLUMNS if name != "corrupted_same_length")
"""The question columns copied into questions.csv beside the metrics."""


@dataclass
class EvalResult:
    """Everything one evaluation produced: settings, per-question table and summary."""

    model: dict
    dataset: dict
    settings: dict
    answer_groups: AnswerGroups
    questions: pd.DataFrame
    summary: dict
    per_relation: dict
    word_tokens: dict
    seconds: float

    @property
    def run_name(self) -> str:
        """The result folder's name: the model's, plus the prompt format when it is not the plain one, so
        runs of one model under different prompts never overwrite each other."""
        name, fmt = self.model["name"], self.settings["prompt_format"]
        if fmt == "plain":
            return name
        return f"{name}--{fmt}" + (f"-k{self.settings['fewshot_k']}" if fmt == "fewshot" else "")

    def headline(self) -> str:
        """One line of the main numbers, for the terminal."""
        s = self.summary
        paired = "n/a" if s["paired_accuracy"] is None else f"{s['paired_accuracy']:.3f}"
        return (
            f"n={s['n_questions']} accuracy={s['accuracy']:.3f} paired_accuracy={paired} yes_rate={s['yes_rate']:.3f} "
            f"log_odds={s['log_odds']:.3f} logit_diff={s['logit_diff']:.3f} prob_diff={s['prob_diff']:.3f} "
            f"ece={s['ece']:.3f} pass_filter={s['n_pass_filter']} ({s['questions_per_second']:.1f} q/s)"
        )

    def to_json(self) -> dict:
        rows = self.questions.astype(object).where(self.questions.notna(), None).to_dict(orient="records")
        return {
            "fk_bench_version": fk_bench.__version__,
            "model": self.model,
            "dataset": self.dataset,
            "settings": self.settings,
            "prompt_format": self.settings["prompt_format"],
            "answer_words": self.answer_groups.to_map(),
            "answer_word_tokens": self.word_tokens,
            "summary": self.summary,
            "per_relation": self.per_relation,
            "seconds": self.seconds,
            "questions": rows,
        }


def _check_finite(scores: np.ndarray, questions: Any, loaded: LoadedModel) -> None:
    """Non-finite scores (float16 overflow, a broken model) must stop the run, never become accuracy 0."""
    bad = np.flatnonzero(~np.isfinite(scores).all(axis=1))
    if bad.size:
        ids = ", ".join(str(questions["id"][int(i)]) for i in bad[:3])
        raise FkBenchError(
            f"model {loaded.name} ({str(loaded.dtype).removeprefix('torch.')} on {loaded.device}) gave non-finite scores for "
            f"{bad.size} of {len(scores)} question(s) (first: {ids}); try --dtype float32"
        )


def evaluate(
    loaded: LoadedModel,
    questions: Any,
    answer_groups: AnswerGroups,
    prompt_format: str = "plain",
    batch_size: int = 128,
    filter_threshold: float = DEFAULT_FILTER_THRESHOLD,
    fewshot_k: int = 4,
    dataset_id: str = "default",
    dataset_settings: dict | None = None,
    progress: bool = True,
) -> EvalResult:
    """Score ``questions`` (a validated dataset from :func:`fk_bench.data.load_questions`).

    ``dataset_settings`` (config, split, relation, limit) is recorded beside the numbers it produced.
    """
    if batch_size < 1:
        raise FkBenchError(f"batch size {batch_size}: must be at least 1")
    if len(questions) == 0:
        raise FkBenchError(f"dataset {dataset_id}: no questions to evaluate")
    if prompt_format == "fewshot" and fewshot_k < 1:
        raise FkBenchError(f"fewshot k={fewshot_k}: must be at least 1")
    examples = fewshot_pool(fewshot_k) if prompt_format == "fewshot" else []
    prompts = [build_prompt(q, prompt_format, loaded.tokenizer, examples, model_name=loaded.name) for q in questions["question"]]
    labels = np.asarray(questions["answer"], dtype=bool)
    start = time.perf_counter()
    scores, n_tokens = score_answer_words(loaded, prompts, answer_groups.words, batch_size, progress)
    seconds = time.perf_counter() - start
    _check_finite(scores, questions, loaded)

    per_question = question_metrics(scores, answer_groups.is_true_word, labels)
    pair_ids = list(questions["pair_id"])
    table = pd.DataFrame({name: questions[name] for name in RESULT_COLUMNS})
    for name in PER_QUESTION_METRICS:
        table[name] = per_question[name]
    table["passes_filter"] = passes_filter(per_question, filter_threshold)
    for column, word in enumerate(answer_groups.words):
        table[f"score[{word}]"] = scores[:, column]

    try:
        summary = summarize(per_question, labels, filter_threshold, pair_ids)
        per_relation = {}
        for relation, group in table.groupby("relation", sort=True):
            index = group.index.to_numpy()
            per_relation[relation] = summarize(
                {k: v[index] for k, v in per_question.items()}, labels[index], filter_threshold, [pair_ids[i] for i in index]
            )
    except ValueError as err:  # a pair id shared by questions of one label: the data is wrong
        raise FkBenchError(f"dataset {dataset_id}: {err}") from None

    max_tokens = n_tokens.max(axis=0)
    dtype = str(loaded.dtype).removeprefix("torch.")
    return EvalResult(
        model=loaded.describe(),
        dataset={"id": dataset_id, **(dataset_settings or {}), "n_questions": len(prompts)},
        settings={
            "prompt_format": prompt_format,
            "fewshot_k": fewshot_k if prompt_format == "fewshot" else None,
            "dtype": dtype,
            "device": loaded.device,
            "answer_map": answer_groups.source,
            "batch_size": batch_size,
            "filter_threshold": filter_threshold,
        },
        answer_groups=answer_groups,
        questions=table,
        summary={**summary, "questions_per_second": len(prompts) / seconds if seconds else None},
        per_relation=per_relation,
        word_tokens={
            "single_token": [w for w, n in zip(answer_groups.words, max_tokens) if n == 1],
            "multi_token": {w: int(n) for w, n in zip(answer_groups.words, max_tokens) if n > 1},
        },
        seconds=seconds,
    )


def write_results(result: EvalResult, out_dir: str | Path) -> Path:
    """Write ``<out>/<run-name>/results.json`` and ``questions.csv`` as one unit: both new, or both as before.

    Other files in that folder (an interp report written there) are kept.
    """
    with atomic_dir(Path(out_dir) / result.run_name, keep_existing=True) as staging:
        result.questions.to_csv(staging / "questions.csv", index=False)
        (staging / "results.json").write_text(strict_json(result.to_json()), encoding="utf-8")
    return Path(out_dir) / result.run_name / "results.json"
