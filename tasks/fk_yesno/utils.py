"""lm-eval hooks for the fk_yesno tasks: data, prompt, choices and grouped-answer metrics.

The plain prompt is the question, the target delimiter "\\n", then the answer word; the choices are
the answer words themselves. A word's score must be log P(word | prompt), as in ``fk-bench eval``, so
:class:`FkYesNoTask` adds one request per question: the bare delimiter, whose log-likelihood
``process_results`` subtracts from every word's. With ``--apply_chat_template`` lm-eval drops the
target delimiter and the word follows the template's generation prompt directly; the bare request
then scores whatever whitespace ends the template (HFLM moves it into every continuation), so the
score is log P(word | chat prompt), exactly ``fk-bench eval --prompt-format chat`` (same token ids).
The metrics are fk_bench.metrics' own functions, not a copy.
"""

from __future__ import annotations

import math
from typing import Any

import datasets
import numpy as np
from lm_eval.api.instance import Instance
from lm_eval.api.task import ConfigurableTask
from scipy.special import expit

from fk_bench import metrics
from fk_bench.answer_groups import DEFAULT_GROUPS
from fk_bench.data import fewshot_pool, load_questions
from fk_bench.pair_index import PairIndex
from fk_bench.prompts import example_answer
from fk_bench.spec import DEFAULT_CONFIG
from fk_bench.stats import calibration
from fk_bench.task_plugin import lm_eval_name

WORDS = list(DEFAULT_GROUPS.words)
FEWSHOT_POOL_SIZE = 8


class FkYesNoTask(ConfigurableTask):
    """A multiple-choice task whose requests are the bare target delimiter followed by one per answer word."""

    def __init__(self, config: dict | None = None) -> None:
        # lm-eval hands over the whole YAML, including the ``class`` key that chose this class.
        super().__init__(config={key: value for key, value in (config or {}).items() if key != "class"})

    def construct_requests(self, doc: dict, ctx: Any, **kwargs: Any) -> list[Instance]:
        requests = super().construct_requests(doc, ctx, **kwargs)
        context, first = requests[0].arguments[:2]
        delimiter = first[: len(first) - len(WORDS[0])]  # what lm-eval put before every word
        if not delimiter and context == context.rstrip():
            return requests  # nothing between prompt and word: log P(empty continuation) = 0
        bare = Instance(request_type="loglikelihood", doc=doc, arguments=(context, delimiter), idx=0, metadata=requests[0].metadata)
        for request in requests:
            request.idx += 1
        return [bare, *requests]


def load_fk_yesno(config: str = DEFAULT_CONFIG, **_metadata) -> datasets.DatasetDict:
    """The packaged dataset's train (few-shot pool) and test splits for one config."""
    return datasets.DatasetDict({split: load_questions(config=config, split=split).table for split in ("train", "test")})


def fewshot_samples() -> list[dict]:
    return fewshot_pool(FEWSHOT_POOL_SIZE)


def doc_to_text(doc: dict) -> str:
    return doc["question"]


def doc_to_choice(doc: dict) -> list[str]:
    return WORDS


def doc_to_target(doc: dict) -> int:
    """The index of "Yes" or "No": what a solved few-shot example shows."""
    return WORDS.index(example_answer(doc["answer"]))


def process_results(doc: dict, results: list[tuple[float, bool]], paraphrase: bool = False) -> dict:
    """Per-question metrics as numbers; corpus-level ones as (log(p_True/p_False), label, pair id, fact id) for the aggregations.
    The consistencies only with ``paraphrase`` (the paraphrase task, :func:`process_results_paraphrase`)."""
    loglik = [ll for ll, _ in results]
    if len(loglik) == len(WORDS):  # no bare-delimiter request (see FkYesNoTask)
        loglik = [0.0, *loglik]
    scores = metrics.relative_to_delimiter(np.array([loglik]))
    label = bool(doc["answer"])
    per_question = metrics.question_metrics(scores, np.asarray(DEFAULT_GROUPS.is_true_word), np.array([label]))
    sample = (float(per_question["true_log_odds"][0]), label, doc.get("pair_id"), doc.get("fact_id"))
    return {
        lm_eval_name(metric.name): float(per_question[metric.name][0]) if metric.per_question else sample
        for metric in (*metrics.METRICS.values(), *metrics.LM_EVAL_EXTRA_METRICS)
        if paraphrase or not metric.paraphrase_only
    }


def process_results_paraphrase(doc: dict, results: list[tuple[float, bool]]) -> dict:
    """:func:`process_results` plus the samples of the consistency metrics (the paraphrase task's)."""
    return process_results(doc, results, paraphrase=True)


def _unpack(items: list[tuple]) -> tuple[np.ndarray, np.ndarray, list, list]:
    true_log_odds, labels, pair_ids, fact_ids = zip(*items)
    return np.array(true_log_odds, dtype=np.float64), np.array(labels, dtype=bool), list(pair_ids), list(fact_ids)


def _number(value: float | None) -> float:
    """lm-eval needs a number from an aggregation: an absent metric (no pairs, one class) is NaN, not 0."""
    return math.nan if value is None else value


def ece(items: list[tuple]) -> float:
    true_log_odds, labels, _, _ = _unpack(items)
    return metrics.expected_calibration_error(expit(true_log_odds), labels)


def yes_rate(items: list[tuple]) -> float:
    true_log_odds, _, _, _ = _unpack(items)
    return metrics.yes_rate(true_log_odds)


def paired_accuracy(items: list[tuple]) -> float:
    """Over the pairs whose both questions are in the evaluated slice; NaN when there are none."""
    true_log_odds, labels, pair_ids, _ = _unpack(items)
    return _number(metrics.paired_accuracy(true_log_odds, PairIndex.from_ids(pair_ids, labels)))


def auroc(items: list[tuple]) -> float:
    true_log_odds, labels, _, _ = _unpack(items)
    return _number(metrics.auroc(true_log_odds, labels))


def consistency(items: list[tuple]) -> float:
    """Over the statements asked in several wordings (the paraphrase task); NaN when none is."""
    true_log_odds, labels, _, fact_ids = _unpack(items)
    accuracy = (np.where(labels, true_log_odds, -true_log_odds) > 0).astype(np.float64)
    return _number(metrics.consistency(accuracy, labels, fact_ids))


def paired_consistency(items: list[tuple]) -> float:
    true_log_odds, labels, pair_ids, fact_ids = _unpack(items)
    return _number(metrics.paired_consistency(true_log_odds, PairIndex.from_ids(pair_ids, labels), fact_ids))


def ece_adaptive(items: list[tuple]) -> float:
    true_log_odds, labels, _, _ = _unpack(items)
    return calibration.adaptive_ece(expit(true_log_odds), labels)


def aurc(items: list[tuple]) -> float:
    true_log_odds, labels, _, _ = _unpack(items)
    return calibration.aurc(true_log_odds, (np.where(labels, true_log_odds, -true_log_odds) > 0).astype(np.float64))


def _brier_part(items: list[tuple], part: str) -> float:
    true_log_odds, labels, _, _ = _unpack(items)
    return calibration.brier_decomposition(expit(true_log_odds), labels)[part]


def brier_reliability(items: list[tuple]) -> float:
    return _brier_part(items, "reliability")


def brier_resolution(items: list[tuple]) -> float:
    return _brier_part(items, "resolution")


def brier_uncertainty(items: list[tuple]) -> float:
    return _brier_part(items, "uncertainty")


def batch_calibrated_accuracy(items: list[tuple]) -> float:
    """Batch calibration (an aggregation: the bias is the mean log-odds over every document of the task)."""
    true_log_odds, labels, _, _ = _unpack(items)
    return calibration.batch_calibration(true_log_odds, labels)["accuracy"]
