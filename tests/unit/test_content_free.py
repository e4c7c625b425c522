"""Contextual calibration's content-free prompts: in the run's format, scored like questions, summarised once."""

import numpy as np
import pytest
from scipy.special import expit

from fk_bench.answer_groups import DEFAULT_GROUPS
from fk_bench.content_free import CONTENT_FREE_INPUTS, content_free_log_odds, content_free_prompts
from fk_bench.evaluation import evaluate
from fk_bench.metrics import true_vs_false
from fk_bench.prompt_formats import build_prompt
from fk_bench.scoring import score_answer_words
from fk_bench.stats.calibration import contextual_calibration


def test_prompts_follow_the_run_format(tiny_model, paris_questions):
    result = evaluate(tiny_model, paris_questions, DEFAULT_GROUPS, prompt_format="fewshot", fewshot_k=2, progress=False)
    prompts = content_free_prompts(result.spec, tiny_model.tokenizer)
    assert len(prompts) == len(CONTENT_FREE_INPUTS) == 3
    assert prompts[0].endswith(build_prompt("N/A")) and prompts[0] != build_prompt("N/A"), "few-shot examples come first"


def test_evaluate_reports_contextual_calibration(tiny_model, paris_questions):
    result = evaluate(tiny_model, paris_questions, DEFAULT_GROUPS, progress=False)
    # The plain format's "" prompt is "\n": no context to score, so it is left out.
    scored = score_answer_words(tiny_model, [build_prompt("N/A"), build_prompt("[MASK]")], DEFAULT_GROUPS.words, progress=False)
    p_true = float(np.mean(expit(true_vs_false(scored.scores, DEFAULT_GROUPS.is_true_word))))
    calibrated = result.summary.contextual_calibration
    assert calibrated is not None and calibrated.p_true_content_free == pytest.approx(p_true, abs=1e-6)
    bias = content_free_log_odds(tiny_model, result.spec, DEFAULT_GROUPS)
    assert bias is not None
    expected = contextual_calibration(result.frame["true_log_odds"].to_numpy(), result.frame["answer"].to_numpy(), bias)
    assert calibrated.accuracy == pytest.approx(expected["accuracy"]) and calibrated.yes_rate == pytest.approx(expected["yes_rate"])
    assert result.summary.batch_calibration is not None
    assert all(s.contextual_calibration is not None for s in result.per_relation.values())
