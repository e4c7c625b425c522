"""Direct logit attribution: the closures (the numbers add up) and the helpers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fk_bench.answers import DEFAULT_GROUPS, AnswerGroups
from fk_bench.errors import FkBenchError
from fk_bench.models import load_bridge
from fk_bench.metrics import question_metrics
from fk_bench.prompts import encode
from interp import attribution
from support.interp import CLEAN, perturbed_tiny_model, private_embedded_model, tiny_answers

PROMPTS = [(CLEAN, True), ("Is the Louvre Museum in Rome?\n", False)]


def _dla(loaded, bridge, answers, prompt: str, label: bool) -> attribution.QuestionDLA:
    direction = attribution.logit_diff_directions(loaded.model, answers, [label])[0]
    tokens = torch.tensor(encode(loaded.tokenizer, prompt))
    return attribution.question_dla(bridge, loaded.model, tokens, direction, answers, label)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    loaded = perturbed_tiny_model(tmp_path_factory.mktemp("tiny-dla"))
    answers = tiny_answers(loaded)
    loaded.gain_before_bridge = attribution.rms_norm_gain(loaded.model.model.norm)
    loaded.directions_before_bridge = attribution.logit_diff_directions(loaded.model, answers, [True, False])
    bridge = load_bridge(loaded)
    return loaded, answers, [_dla(loaded, bridge, answers, prompt, label) for prompt, label in PROMPTS]


def _assert_closures(result: attribution.QuestionDLA, n_layers: int, n_heads: int, rel: float = 1e-3) -> None:
    scale = max(1.0, abs(result.final_projection))
    # Per-layer components (embed, attn_out, mlp_out of every layer) sum to the final residual's projection.
    assert result.per_layer.shape == (2 * n_layers + 1,)
    assert abs(result.per_layer.sum() - result.final_projection) < rel * scale
    # The logit lens at the last point equals the logit_diff computed from the model's own logits.
    assert result.lens_labels[-1] == "final_post"
    assert abs(result.logit_lens[-1] - result.logit_diff) < rel * scale
    assert abs(result.final_projection - result.logit_diff) < rel * scale
    # Heads (+ attention bias) sum to each attention layer's total.
    assert result.per_head.shape == (n_layers, n_heads)
    attn_totals = result.per_layer[1::2]
    np.testing.assert_allclose(result.per_head.sum(1) + result.attn_bias, attn_totals, rtol=0, atol=rel * scale)
    # The logit lens is the running sum of the per-layer components.
    np.testing.assert_allclose(result.logit_lens[0::2], np.cumsum(np.concatenate([[0.0], result.per_layer[2::2] + result.per_layer[1::2]]))[: n_layers + 1] + result.per_layer[0], atol=rel * scale)


def test_closures_on_tiny_model_with_norm_gains(tiny):
    loaded, _, results = tiny
    for result in results:
        _assert_closures(result, loaded.model.config.num_hidden_layers, loaded.model.config.num_attention_heads)
        assert np.abs(result.per_head).max() > 1e-3  # not vacuous


def test_direction_includes_the_final_norm_gain(tiny):
    """The direction carries the final RMSNorm gain (1 + w): read off the module before the bridge folds it
    into the unembedding, it gives the same directions as the folded model afterwards."""
    loaded, answers, _ = tiny
    gain = loaded.gain_before_bridge
    assert (gain - 1.0).abs().max() > 0.1
    after = attribution.logit_diff_directions(loaded.model, answers, [True, False])
    torch.testing.assert_close(loaded.directions_before_bridge, after, rtol=1e-4, atol=1e-4)


def test_directions_flip_with_the_label(tiny):
    loaded, answers, _ = tiny
    true_dir, false_dir = attribution.logit_diff_directions(loaded.model, answers, [True, False])
    torch.testing.assert_close(true_dir, -false_dir)


def test_logit_diff_matches_the_metrics_module(tiny):
    loaded, answers, results = tiny
    tokens = torch.tensor(encode(loaded.tokenizer, PROMPTS[1][0]))
    with torch.no_grad():
        logits = loaded.model(tokens[None]).logits[0, -1, answers.id_tensor()].double().numpy()
    expected = question_metrics(logits[None], np.asarray(answers.is_true_word), np.array([False]))["logit_diff"][0]
    assert results[1].logit_diff == pytest.approx(expected, abs=1e-4)


def test_single_token_answers_skip_multi_token_words(tiny):
    loaded, answers, _ = tiny
    assert answers.skipped  # the tiny BPE splits some of the default words
    assert set(answers.words) | set(answers.skipped) == set(DEFAULT_GROUPS.words)
    for word, token_id in zip(answers.words, answers.ids):
        assert encode(loaded.tokenizer, CLEAN + word)[len(encode(loaded.tokenizer, CLEAN)):] == [token_id]
    for word in answers.skipped:
        assert len(encode(loaded.tokenizer, CLEAN + word)) - len(encode(loaded.tokenizer, CLEAN)) > 1


def test_single_token_answers_need_both_groups(tiny):
    loaded, _, _ = tiny
    groups = AnswerGroups(("Absolutely",), ("No",), source="test")
    if len(encode(loaded.tokenizer, CLEAN + "Absolutely")) - len(encode(loaded.tokenizer, CLEAN)) == 1:
        pytest.skip("'Absolutely' is one token for this tokenizer")
    with pytest.raises(FkBenchError, match="both groups need a single-token word"):
        attribution.single_token_answers(loaded.tokenizer, [CLEAN], groups)


def test_top_heads_orders_by_sign():
    per_head = np.array([[0.5, -2.0], [3.0, 0.1]])
    top = attribution.top_heads(per_head, 2)
    assert top["positive"] == [(1, 0, 3.0), (0, 0, 0.5)]
    assert top["negative"] == [(0, 1, -2.0), (1, 1, 0.1)]


def test_attention_vs_mlp_summary_skips_layer_0_like_the_seed():
    # embed, attn0, mlp0, attn1, mlp1, attn2, mlp2
    per_layer = np.array([[9.0, 5.0, 7.0, -1.0, 2.0, 0.5, 2.5]])
    summary = attribution.attention_vs_mlp(per_layer)
    assert summary["attention"] == pytest.approx(-0.5)
    assert summary["mlp"] == pytest.approx(4.5)
    assert summary["mlp_share_of_net_increase"] == pytest.approx(4.5 / 4.0)
    assert attribution.attention_vs_mlp(per_layer, skip_first_layer=False)["attention"] == pytest.approx(4.5)


@pytest.mark.embedded
def test_closures_on_embedded_model():
    embedded_model = private_embedded_model()
    answers = attribution.single_token_answers(embedded_model.tokenizer, [p for p, _ in PROMPTS], DEFAULT_GROUPS)
    assert len(answers.words) == 16 and not answers.skipped
    bridge = load_bridge(embedded_model)
    for prompt, label in PROMPTS:
        result = _dla(embedded_model, bridge, answers, prompt, label)
        _assert_closures(result, 18, 4)
        assert result.patterns.shape[:2] == (18, 4)
        np.testing.assert_allclose(result.patterns.sum(-1), 1.0, atol=1e-4)
