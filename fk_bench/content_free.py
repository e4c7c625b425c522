"""Contextual calibration's forward passes: what the model says to content-free inputs in the run's prompt format.

Zhao et al. (2021, "Calibrate Before Use") estimate a prompt's bias by asking it about nothing: the
inputs "N/A", "" and "[MASK]" in place of the question. The mean p(True) there is the bias that
:func:`fk_bench.stats.calibration.contextual_calibration` removes from every question's log-odds. Three
extra prompts per run, scored by the scorer's public API like every question.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit, logit

from fk_bench.answer_groups import AnswerGroups
from fk_bench.metrics import true_vs_false
from fk_bench.models import LoadedModel
from fk_bench.prompts import split_context
from fk_bench.scoring import score_answer_words
from fk_bench.spec import RunSpec

CONTENT_FREE_INPUTS = ("N/A", "", "[MASK]")
"""The content-free inputs of Zhao et al. (2021)."""
P_TRUE_LIMIT = 1e-6
"""p(True) on content-free inputs is kept inside [1e-6, 1 - 1e-6], so its log-odds stays finite."""


def content_free_prompts(spec: RunSpec, tokenizer: object, model_name: str | None = None) -> list[str]:
    """Each content-free input as a prompt of the spec's format (with its few-shot examples, if any)."""
    return spec.format.prompts(CONTENT_FREE_INPUTS, tokenizer, spec.fewshot_k, model_name)


def content_free_log_odds(loaded: LoadedModel, spec: RunSpec, answer_groups: AnswerGroups) -> float | None:
    """log(p/(1-p)) of the mean p(True) over the content-free inputs: the prompt format's own yes/no bias
    (None when the model gives them non-finite scores: no bias is better than a wrong one)."""
    # "" in the plain format leaves no context at all (the scorer needs one): it is left out there.
    kept = [
        (text, prompt)
        for text, prompt in zip(CONTENT_FREE_INPUTS, content_free_prompts(spec, loaded.tokenizer, loaded.name))
        if split_context(prompt)[0]
    ]
    scored = score_answer_words(
        loaded, [p for _, p in kept], answer_groups.words, batch_size=len(kept), progress=False, names=[f"content-free input {t!r}" for t, _ in kept]
    )
    p_true = float(np.mean(expit(true_vs_false(scored.scores, answer_groups.is_true_word))))
    if not np.isfinite(p_true):
        return None
    return float(logit(min(max(p_true, P_TRUE_LIMIT), 1.0 - P_TRUE_LIMIT)))
