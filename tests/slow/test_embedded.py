"""What only the real embedded model shows: Gemma 3 270M (dequantized from the PyPI GGUF)."""

import numpy as np
import pytest

from fk_bench.answers import DEFAULT_GROUPS
from fk_bench.data import load_questions
from fk_bench.evaluation import evaluate
from fk_bench.scoring import score_answer_words
from fk_bench.prompts import build_prompt

pytestmark = pytest.mark.embedded


def test_seed_words_are_single_tokens_and_seed_question_leans_true(embedded_model):
    prompts = [build_prompt("Is Paris the capital of France?")]
    scores, n_tokens = score_answer_words(embedded_model, prompts, DEFAULT_GROUPS.words, progress=False)
    assert (n_tokens == 1).all(), "every seed answer word is one Gemma token after the newline"
    assert np.isfinite(scores).all() and (scores < 0).all()
    true_mass = np.exp(scores[:, :8]).sum(axis=1)
    false_mass = np.exp(scores[:, 8:]).sum(axis=1)
    p_true = true_mass / (true_mass + false_mass)
    assert p_true[0] > 0.5, "the model says yes to the seed question"


def test_two_runs_give_identical_numbers(embedded_model):
    questions = load_questions(limit=8)
    first = evaluate(embedded_model, questions, DEFAULT_GROUPS, batch_size=4, progress=False)
    second = evaluate(embedded_model, questions, DEFAULT_GROUPS, batch_size=4, progress=False)
    for name in ("logit_diff", "prob_diff", "log_odds", "brier"):
        values = first.questions[name].to_numpy()
        assert np.isfinite(values).all()
        np.testing.assert_array_equal(values, second.questions[name].to_numpy())
    assert first.summary == {**second.summary, "questions_per_second": first.summary["questions_per_second"]}
