"""Direct logit attribution on a tiny random model of every family: the decomposition adds up."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from support.interp import CLEAN, FAMILIES, booted_family

from fk_bench.answers import AnswerGroups
from fk_bench.errors import FkBenchError
from interp.attribution import dla
from interp.core import runner
from interp.core.answer_tokens import single_token_answers

PROMPTS = [CLEAN, "Is Berlin the capital of Germany?\n"]  # two rows of one batch (the same token length)


@pytest.fixture(scope="module", params=FAMILIES)
def results(request):
    _loaded, model, answers = booted_family(request.param)
    tokens = model.tensor([model.tokens(p) for p in PROMPTS])
    _, cache, unembedded = runner.record(model, tokens, dla.dla_hooks(with_patterns=True), answers.id_tensor())
    rows = dla.question_dla(model, cache, unembedded, dla.Direction.of(model, answers), answers)
    return model, cache, rows


def test_closures(results):
    model, _, rows = results
    assert len(rows) == len(PROMPTS)
    for row in rows:
        scale = max(1.0, abs(row.logit_diff))
        tolerance = 1e-4 * scale
        # The per-layer components (embeddings, every attention and MLP output) sum to the final residual's projection.
        attention = [i for i, label in enumerate(row.layer_labels) if label.endswith("_attn_out")]
        assert len(attention) == model.n_layers and len(row.layer_labels) >= 2 * model.n_layers + 1
        assert row.per_layer.sum() == pytest.approx(row.final_projection, abs=tolerance)
        # ... which plus the unembedding bias's share is the model's own logit_diff; the lens ends there.
        assert row.final_projection + row.unembed_bias == pytest.approx(row.logit_diff, abs=tolerance)
        assert row.lens_labels[-1] == "final_post"
        assert row.logit_lens[-1] == pytest.approx(row.logit_diff, abs=tolerance)
        # Heads plus the attention bias sum to each attention layer's output.
        assert row.per_head.shape == (model.n_layers, model.n_heads)
        np.testing.assert_allclose(row.per_head.sum(1) + row.attn_bias, row.per_layer[attention], rtol=0, atol=tolerance)
        # The lens at each block's input is the embeddings plus every component before it.
        pre = [i for i, label in enumerate(row.lens_labels) if label.endswith("_pre")]
        running = np.cumsum(row.per_layer)
        for layer, point in enumerate(pre):
            embeddings = len(row.layer_labels) - 2 * model.n_layers  # embed (+ pos_embed)
            assert row.logit_lens[point] - row.unembed_bias == pytest.approx(running[embeddings - 1 + 2 * layer], abs=tolerance)


def test_rows_differ_and_the_decomposition_is_not_trivial(results):
    _, _, rows = results
    assert abs(rows[0].logit_diff - rows[1].logit_diff) > 1e-3
    assert np.abs(rows[0].per_layer).max() > 1e-2


def test_patterns_are_distributions_over_earlier_keys(results):
    model, cache, _ = results
    patterns = dla.attention_patterns(cache, model.n_layers, row=0)
    n = patterns.shape[-1]
    assert patterns.shape == (model.n_layers, model.n_heads, n, n)
    np.testing.assert_allclose(patterns.sum(-1), 1.0, atol=1e-5)
    assert np.triu(patterns, k=1).max() == 0.0  # causal


def test_direction_is_the_true_minus_false_unembedding_times_the_final_gain():
    loaded, model, answers = booted_family("llama")
    direction = dla.Direction.of(model, answers)
    W_U = model.bridge.W_U.detach()
    true_ids = [i for i, t in zip(answers.ids, answers.is_true_word) if t]
    false_ids = [i for i, t in zip(answers.ids, answers.is_true_word) if not t]
    gain = loaded.model.model.norm.weight.detach()  # Llama's RMSNorm: x / rms * w
    torch.testing.assert_close(direction.vector, (W_U[:, true_ids].mean(1) - W_U[:, false_ids].mean(1)) * gain)
    assert direction.bias == 0.0  # no norm bias, no unembedding bias


@pytest.mark.parametrize("d_model", [6, 7])
def test_norm_affine_reads_gain_and_bias_of_any_norm(d_model):
    from transformers.models.gemma3.modeling_gemma3 import Gemma3RMSNorm

    torch.manual_seed(0)
    layer_norm = torch.nn.LayerNorm(d_model)
    gemma = Gemma3RMSNorm(d_model)  # x / rms * (1 + w)
    with torch.no_grad():
        layer_norm.weight.normal_()
        layer_norm.bias.normal_()
        gemma.weight.normal_()
    gain, bias = dla.norm_affine(layer_norm, d_model)
    torch.testing.assert_close(gain, layer_norm.weight.detach(), rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(bias, layer_norm.bias.detach(), rtol=1e-4, atol=1e-4)
    gain, bias = dla.norm_affine(gemma, d_model)
    torch.testing.assert_close(gain, 1 + gemma.weight.detach(), rtol=1e-4, atol=1e-4)
    assert bias.abs().max() < 1e-4


def test_answer_words_that_split_are_skipped_and_a_missing_group_is_an_error():
    loaded, _, _ = booted_family("llama")
    groups = AnswerGroups.from_map({"True": ["Yes", "Absolutely certainly"], "False": ["No"]}, "test map")
    answers = single_token_answers(loaded.tokenizer, [CLEAN], groups)
    assert answers.words == ("Yes", "No") and answers.skipped == ("Absolutely certainly",)
    with pytest.raises(FkBenchError, match="both groups need a word that is one token"):
        single_token_answers(loaded.tokenizer, [CLEAN], AnswerGroups.from_map({"True": ["Absolutely certainly"], "False": ["No"]}, "test map"))
