"""lm-eval hooks for the fk_yesno tasks: data, prompt, choices and grouped-answer metrics.

The seed's prompt is "Q\\n" followed by the answer word. HFLM moves a context's trailing newline into
the continuation anyway, so here the context is the bare question and every choice starts with the
newline: choice 0 is the newline alone, and its log-likelihood is subtracted from every answer word's,
so a word's score is log P(word | "Q\\n") exactly as in ``fk-bench eval`` (same token ids, same
split). The metrics are fk_bench.metrics' own functions, not a copy.
"""

from __future__ import annotations

import datasets
import numpy as np

from fk_bench.answers import DEFAULT_GROUPS
from fk_bench.data import DEFAULT_CONFIG, fewshot_pool, load_questions
from fk_bench.metrics import expected_calibration_error, question_metrics, relative_to_delimiter
from fk_bench.prompts import QUESTION_SUFFIX, example_answer

CHOICES = [QUESTION_SUFFIX + word for word in ("", *DEFAULT_GROUPS.words)]
FEWSHOT_POOL_SIZE = 8


def load_fk_yesno(config: str = DEFAULT_CONFIG, **_metadata) -> datasets.DatasetDict:
    """The packaged dataset's train (few-shot pool) and test splits for one config."""
    return datasets.DatasetDict({split: load_questions(config=config, split=split) for split in ("train", "test")})


def fewshot_samples() -> list[dict]:
    return fewshot_pool(FEWSHOT_POOL_SIZE)


def doc_to_text(doc: dict) -> str:
    return doc["question"]


def doc_to_choice(doc: dict) -> list[str]:
    return CHOICES


def doc_to_target(doc: dict) -> int:
    """The index of "Yes" or "No": what a solved few-shot example shows."""
    return CHOICES.index(QUESTION_SUFFIX + example_answer(doc["answer"]))


def process_results(doc: dict, results: list[tuple[float, bool]]) -> dict:
    loglik = np.array([[ll for ll, _ in results]])
    scores = relative_to_delimiter(loglik)
    metrics = question_metrics(scores, DEFAULT_GROUPS.is_true_word, np.array([doc["answer"]]))
    return {
        "acc": float(metrics["accuracy"][0]),
        "log_odds": float(metrics["log_odds"][0]),
        "logit_diff": float(metrics["logit_diff"][0]),
        "prob_diff": float(metrics["prob_diff"][0]),
        "brier": float(metrics["brier"][0]),
        "ece": (float(metrics["p_true"][0]), bool(doc["answer"])),
    }


def ece(items: list[tuple[float, bool]]) -> float:
    p_true, labels = zip(*items)
    return expected_calibration_error(np.array(p_true), np.array(labels))
