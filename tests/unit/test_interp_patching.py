"""Batched activation patching: equal to TransformerLens's patching functions, closures, attribution patching."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import transformer_lens.patching as tl_patching

from fk_bench.errors import FkBenchError
from fk_bench.models import load_bridge
from interp import patching
from support.interp import CLEAN, CORRUPTED, perturbed_tiny_model, private_embedded_model, tiny_answers

TL_FUNCTIONS = {
    "resid_pre": (tl_patching.get_act_patch_resid_pre, patching.get_act_patch_resid_pre),
    "attn_out": (tl_patching.get_act_patch_attn_out, patching.get_act_patch_attn_out),
    "mlp_out": (tl_patching.get_act_patch_mlp_out, patching.get_act_patch_mlp_out),
    "head_out": (tl_patching.get_act_patch_attn_head_out_all_pos, patching.get_act_patch_attn_head_out_all_pos),
}


class Setup:
    """A model with its bridge, one clean/corrupted pair and the normalized log_odds metric."""

    def __init__(self, loaded, clean_prompt: str = CLEAN, corrupted_prompt: str = CORRUPTED, label: bool = True):
        self.loaded, self.model = loaded, loaded.model
        self.answers = None
        self.label = label
        self.clean_tokens, self.corrupted_tokens = patching.tokenize_pair(loaded.tokenizer, "pair", clean_prompt, corrupted_prompt)

    def prepare(self, answers) -> "Setup":
        self.answers = answers
        self.ids = answers.id_tensor()
        self.clean = patching.record_activations(self.model, self.clean_tokens, self.ids)
        self.corrupted = patching.record_activations(self.model, self.corrupted_tokens, self.ids)
        self.clean_value = self.log_odds(self.clean.answer_logits)
        self.corrupted_value = self.log_odds(self.corrupted.answer_logits)
        return self

    def log_odds(self, answer_logits: torch.Tensor) -> np.ndarray:
        return patching.answer_metrics(answer_logits, self.answers.is_true_word, self.label)["log_odds"]

    def metric(self, answer_logits: torch.Tensor) -> torch.Tensor:
        return torch.as_tensor(patching.normalize(self.log_odds(answer_logits), self.clean_value, self.corrupted_value))

    def tl_metric(self, logits: torch.Tensor) -> torch.Tensor:
        return self.metric(logits[:, -1, self.ids])[0]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Setup:
    loaded = perturbed_tiny_model(tmp_path_factory.mktemp("tiny-patching"))
    setup = Setup(loaded).prepare(tiny_answers(loaded))
    setup.bridge = load_bridge(loaded)
    return setup


def test_recorded_sites_are_the_bridge_hooks(tiny):
    """resid_pre/attn_out/mlp_out/z recorded on the Hugging Face modules equal the bridge's hook values."""
    logits, cache = tiny.bridge.run_with_cache(tiny.clean_tokens[None])
    hooks = {"resid_pre": "blocks.{}.hook_resid_pre", "attn_out": "blocks.{}.hook_attn_out", "mlp_out": "blocks.{}.hook_mlp_out", "head_out": "blocks.{}.attn.hook_z"}
    for site, hook in hooks.items():
        for layer in range(tiny.bridge.cfg.n_layers):
            torch.testing.assert_close(tiny.clean.site(site)[layer], cache[hook.format(layer)][0], rtol=1e-5, atol=1e-5)
    # The bridge centers the unembedding (a constant shift per position): compare the metrics, not raw logits.
    ours = patching.answer_metrics(tiny.clean.answer_logits, tiny.answers.is_true_word, True)
    bridge = patching.answer_metrics(logits[0, -1, tiny.ids], tiny.answers.is_true_word, True)
    for name in patching.METRICS:
        assert ours[name] == pytest.approx(bridge[name], abs=1e-5)


def test_pair_is_informative(tiny):
    """The equivalence tests below divide by clean - corrupted: it must not be near zero."""
    assert abs(tiny.clean_value - tiny.corrupted_value) > 0.3


@pytest.mark.parametrize("site", list(TL_FUNCTIONS))
def test_batched_grid_equals_transformer_lens(tiny, site):
    tl_function, batched_function = TL_FUNCTIONS[site]
    reference = tl_function(tiny.bridge, tiny.corrupted_tokens[None], tiny.bridge.run_with_cache(tiny.clean_tokens[None])[1], tiny.tl_metric)
    ours = batched_function(tiny.model, tiny.corrupted_tokens, tiny.clean, tiny.ids, tiny.metric)
    n_cells = tiny.model.config.num_attention_heads if site == "head_out" else tiny.clean_tokens.shape[0]
    assert ours.shape == reference.shape == (tiny.model.config.num_hidden_layers, n_cells)
    assert reference.abs().max() > 0.05  # the grid is not trivially zero
    np.testing.assert_allclose(ours.numpy(), reference.double().numpy(), rtol=0, atol=1e-4)


def test_all_sites_at_once_equal_one_site_at_a_time(tiny):
    together = patching.patched_answer_logits(tiny.model, tiny.clean, tiny.corrupted, tiny.ids)
    for site in patching.SITES:
        alone = patching.patched_answer_logits(tiny.model, tiny.clean, tiny.corrupted, tiny.ids, sites=(site,), max_rows=5)
        torch.testing.assert_close(together[site], alone[site], rtol=0, atol=1e-5)


def test_packed_rows_equal_full_recompute(tiny):
    """run_rows (suffix-only, packed) equals run_from_layer (every position, the model's own layers)."""
    for layer in range(tiny.model.config.num_hidden_layers):
        patches, cells = patching._layer_patches(tiny.model, tiny.clean, layer, patching.SITES, tiny.clean_tokens.shape[0])
        packed = patching.run_rows(tiny.model, tiny.corrupted, layer, tiny.ids, patches)
        resid = tiny.corrupted.resid_pre[layer].expand(len(cells), -1, -1)
        full = patching.run_from_layer(tiny.model, resid, layer, tiny.ids, patches)
        torch.testing.assert_close(packed, full, rtol=0, atol=1e-5)


def _all_positions(tiny, site_tensor: torch.Tensor) -> patching.Patch:
    return patching.Patch(torch.ones(1, tiny.clean_tokens.shape[0], dtype=torch.bool), site_tensor)


def test_closure_whole_clean_residual_at_layer_0_gives_one_and_nothing_gives_zero(tiny):
    whole = patching.run_rows(tiny.model, tiny.corrupted, 0, tiny.ids, {"resid_pre": _all_positions(tiny, tiny.clean.resid_pre[0])})
    nothing = patching.run_rows(tiny.model, tiny.corrupted, 0, tiny.ids, {"resid_pre": patching.Patch(torch.zeros(1, tiny.clean_tokens.shape[0], dtype=torch.bool), tiny.clean.resid_pre[0])})
    assert float(tiny.metric(whole)[0]) == pytest.approx(1.0, abs=1e-4)
    assert float(tiny.metric(nothing)[0]) == pytest.approx(0.0, abs=1e-4)


def test_sliding_window_masks_match_transformer_lens(tmp_path):
    """A window shorter than the prompt exercises the packed sliding-window mask."""
    loaded = perturbed_tiny_model(tmp_path / "m", seed=2, sliding_window=3)
    setup = Setup(loaded).prepare(tiny_answers(loaded))
    bridge = load_bridge(loaded)
    _, cache = bridge.run_with_cache(setup.clean_tokens[None])
    logits_metric = lambda logits: torch.as_tensor(setup.log_odds(logits[:, -1, setup.ids]))[0]
    reference = tl_patching.get_act_patch_resid_pre(bridge, setup.corrupted_tokens[None], cache, logits_metric)
    ours = patching.get_act_patch_resid_pre(loaded.model, setup.corrupted_tokens, setup.clean, setup.ids, lambda x: torch.as_tensor(setup.log_odds(x)))
    np.testing.assert_allclose(ours.numpy(), reference.double().numpy(), rtol=0, atol=1e-4)


def test_bridge_wrapping_does_not_change_results(tmp_path):
    """load_bridge wraps the Hugging Face modules in place (and centers the unembedding, which shifts every
    logit of a position by one constant); the patching metrics are the same before and after."""
    loaded = perturbed_tiny_model(tmp_path / "m", seed=3)
    setup = Setup(loaded).prepare(tiny_answers(loaded))
    before = patching.patched_answer_logits(loaded.model, setup.clean, setup.corrupted, setup.ids)
    load_bridge(loaded)
    setup.prepare(setup.answers)
    after = patching.patched_answer_logits(loaded.model, setup.clean, setup.corrupted, setup.ids)
    for site in patching.SITES:
        np.testing.assert_allclose(setup.log_odds(after[site]), setup.log_odds(before[site]), rtol=0, atol=1e-5)


def test_attribution_is_the_directional_derivative(tiny):
    """Each attribution cell equals the finite-difference slope of log_odds along clean - corrupted at that cell."""
    raw = patching.attribution_patch(tiny.model, tiny.clean, tiny.corrupted_tokens, tiny.ids, tiny.answers.is_true_word, tiny.label)
    n_pos, eps = tiny.clean_tokens.shape[0], 1e-2
    for site in patching.SITES:
        assert raw[site].shape == (tiny.model.config.num_hidden_layers, patching.grid_size(tiny.model, site, n_pos))
        for layer, index in [(0, 1), (1, raw[site].shape[1] - 1)]:
            mask_shape = (1, n_pos, tiny.model.config.num_attention_heads) if site == "head_out" else (1, n_pos)
            mask = torch.zeros(mask_shape, dtype=torch.bool)
            if site == "head_out":
                mask[0, :, index] = True
            else:
                mask[0, index] = True
            corrupted_act, clean_act = tiny.corrupted.site(site)[layer], tiny.clean.site(site)[layer]
            nudged = patching.Patch(mask, corrupted_act + eps * (clean_act - corrupted_act))
            moved = patching.run_rows(tiny.model, tiny.corrupted, layer, tiny.ids, {site: nudged})
            slope = (tiny.log_odds(moved)[0] - tiny.corrupted_value) / eps
            assert raw[site][layer, index] == pytest.approx(slope, rel=0.05, abs=1e-3), (site, layer, index)


def test_patch_pair_normalizes_and_correlates(tiny):
    result = patching.patch_pair(tiny.model, tiny.loaded.tokenizer, "q1", CLEAN, CORRUPTED, True, tiny.ids, tiny.answers.is_true_word)
    assert result.clean["log_odds"] == pytest.approx(float(tiny.clean_value))
    assert set(result.exact) == {"log_odds", "logit_diff"}
    for site in patching.SITES:
        exact, approx = result.exact["log_odds"][site], result.attribution[site]
        assert exact.shape == approx.shape
        assert np.isfinite(exact).all() and np.isfinite(approx).all()
    # The last layer's MLP output at the last position is nearly linear in the metric: attribution matches closely.
    assert np.corrcoef(result.exact["log_odds"]["mlp_out"].ravel(), result.attribution["mlp_out"].ravel())[0, 1] > 0.9
    json_form = result.to_json()
    assert len(json_form["exact"]["logit_diff"]["resid_pre"]) == tiny.model.config.num_hidden_layers


def test_length_mismatch_is_a_one_line_error(tiny):
    with pytest.raises(FkBenchError, match=r"question paris-9: clean prompt has \d+ tokens but corrupted prompt has \d+") as err:
        patching.tokenize_pair(tiny.loaded.tokenizer, "paris-9", "Is Rome in Italy?\n", "Is the Eiffel Tower located in Paris?\n")
    assert "\n" not in str(err.value)


def test_unknown_site_is_rejected(tiny):
    with pytest.raises(FkBenchError, match="patching site 'resid_post'"):
        patching.grid_size(tiny.model, "resid_post", 9)


@pytest.mark.embedded
def test_embedded_closures_and_heads_grid_match_transformer_lens():
    embedded_model = private_embedded_model()
    """On the real model: the closures, and the layer x head grid against TransformerLens (72 full forwards)."""
    from fk_bench.answers import DEFAULT_GROUPS
    from interp.attribution import single_token_answers

    setup = Setup(embedded_model, CLEAN, "Is Paris the capital of Spain?\n")
    setup.prepare(single_token_answers(embedded_model.tokenizer, [CLEAN], DEFAULT_GROUPS))
    assert len(setup.answers.words) == 16 and not setup.answers.skipped
    whole = patching.run_rows(setup.model, setup.corrupted, 0, setup.ids, {"resid_pre": _all_positions(setup, setup.clean.resid_pre[0])})
    assert float(setup.metric(whole)[0]) == pytest.approx(1.0, abs=1e-3)
    nothing = patching.run_rows(setup.model, setup.corrupted, 5, setup.ids, {"mlp_out": patching.Patch(torch.zeros(1, setup.clean_tokens.shape[0], dtype=torch.bool), setup.clean.mlp_out[5])})
    assert float(setup.metric(nothing)[0]) == pytest.approx(0.0, abs=1e-3)
    bridge = load_bridge(embedded_model)
    _, cache = bridge.run_with_cache(setup.clean_tokens[None])
    raw = lambda logits: torch.as_tensor(setup.log_odds(logits[:, -1, setup.ids]))[0]
    reference = tl_patching.get_act_patch_attn_head_out_all_pos(bridge, setup.corrupted_tokens[None], cache, raw)
    ours = patching.get_act_patch_attn_head_out_all_pos(setup.model, setup.corrupted_tokens, setup.clean, setup.ids, lambda x: torch.as_tensor(setup.log_odds(x)))
    np.testing.assert_allclose(ours.numpy(), reference.double().numpy(), rtol=0, atol=1e-4)
