"""Activation patching through the bridge's hooks, on a tiny random model of every family: equal to
``transformer_lens.patching``, the prefix cache and the answer-only unembedding change nothing, the
closures hold, and attribution patching is the first-order change."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import transformer_lens.patching as tl_patching
from support.interp import CLEAN, CORRUPTED, FAMILIES, booted_family, build_family_model, tiny_answers

from fk_bench.errors import FkBenchError
from interp.core import edits, runner
from interp.core import sweep as sweeps
from interp.core.model import SITES
from interp.core.studied_pairs import shared_prefix_length
from interp.patching import activation_patching as patching

TL_FUNCTIONS = {
    "resid_pre": tl_patching.get_act_patch_resid_pre,
    "attn_out": tl_patching.get_act_patch_attn_out,
    "mlp_out": tl_patching.get_act_patch_mlp_out,
    "head_out": tl_patching.get_act_patch_attn_head_out_all_pos,
}


class Pair:
    """One clean/corrupted pair on a booted model, with the normalized log_odds metric."""

    def __init__(self, family: str, clean_prompt: str = CLEAN, corrupted_prompt: str = CORRUPTED):
        _, self.model, self.answers = booted_family(family)
        self.ids = self.answers.id_tensor()
        self.clean_tokens = self.model.tensor(self.model.tokens(clean_prompt))
        self.corrupted_tokens = self.model.tensor(self.model.tokens(corrupted_prompt))
        self.start = shared_prefix_length(self.clean_tokens.tolist(), self.corrupted_tokens.tolist())
        with torch.no_grad():
            self.clean_logits, self.clean_cache = self.model.bridge.run_with_cache(self.clean_tokens[None])
            self.clean_value = float(self.answers.log_odds(self.clean_logits[0, -1, self.ids]))
            self.corrupted_value = float(self.answers.log_odds(self.model.bridge(self.corrupted_tokens[None])[0, -1, self.ids]))

    def metric(self, logits: torch.Tensor) -> torch.Tensor:
        """Normalized log_odds of last-position logits ``[rows, pos, d_vocab]`` -> ``[rows]``."""
        value = self.answers.log_odds(logits[:, -1, self.ids])
        return (value - self.corrupted_value) / (self.clean_value - self.corrupted_value)


@pytest.fixture(scope="module", params=FAMILIES)
def pair(request) -> Pair:
    return Pair(request.param)


def test_pair_is_informative(pair):
    """The grids below divide by clean - corrupted and compare numbers: the pair must move the answer."""
    assert abs(pair.clean_value - pair.corrupted_value) > 0.05
    assert 0 < pair.start < pair.clean_tokens.shape[0]


@pytest.mark.parametrize("site", SITES)
def test_grid_equals_transformer_lens(pair, site):
    reference = TL_FUNCTIONS[site](pair.model.bridge, pair.corrupted_tokens[None], pair.clean_cache, lambda logits: pair.metric(logits)[0])
    ours = patching.act_patch(pair.model, pair.corrupted_tokens, pair.clean_cache, pair.metric, site)
    n_cells = pair.model.n_heads if site == "head_out" else pair.clean_tokens.shape[0]
    assert ours.shape == reference.shape == (pair.model.n_layers, n_cells)
    assert reference.abs().max() > 0.01  # not trivially zero: a hundred times the tolerance
    np.testing.assert_allclose(ours.double().numpy(), reference.double().numpy(), rtol=0, atol=1e-4)


def test_prefix_cache_and_answer_only_unembedding_change_nothing(pair):
    """A run from the shared prefix's cache equals the full run, and the answer-only unembedding equals
    the full logits' answer columns (final norm, bias and soft-cap included)."""
    whole, suffix = (
        patching.clean_sites(pair.clean_cache, pair.model.n_layers),
        patching.clean_sites(pair.clean_cache, pair.model.n_layers, pair.start),
    )
    cells = [None, edits.Cell("mlp_out", 0, pair.start), edits.Cell("head_out", 1, 0)]
    full = runner.run_patched(pair.model, pair.corrupted_tokens, whole, cells, None)  # no prefix: every position runs
    prefix = runner.prefix_cache(pair.model, pair.corrupted_tokens, pair.start)
    cached = runner.run_patched(pair.model, pair.corrupted_tokens, suffix, cells, None, start=pair.start, prefix=prefix)
    answers_only = runner.run_patched(pair.model, pair.corrupted_tokens, suffix, cells, pair.ids, start=pair.start, prefix=prefix)
    reference = pair.model.bridge(pair.corrupted_tokens[None])[0, -1]
    torch.testing.assert_close(full[0], reference.float(), rtol=0, atol=1e-4)
    # Raw logits may shift by one constant per row (the bridge centres the unembedding); log-probs may not.
    torch.testing.assert_close(cached.log_softmax(-1), full.log_softmax(-1), rtol=0, atol=1e-4)
    torch.testing.assert_close(pair.answers.log_odds(answers_only), pair.answers.log_odds(full[:, pair.ids]), rtol=0, atol=1e-4)


def test_closures_no_patch_is_zero_and_the_whole_difference_is_one(pair):
    """The unpatched row is the corrupted run (0); the clean token at the only differing position,
    patched into resid_pre at layer 0, is the clean run (1)."""
    differing = (pair.clean_tokens != pair.corrupted_tokens).nonzero().ravel().tolist()
    assert differing == [pair.start]  # France -> Italy: one token
    clean = patching.clean_sites(pair.clean_cache, pair.model.n_layers, pair.start)
    exact = patching.exact_grids(pair.model, pair.corrupted_tokens.tolist(), clean, pair.start, pair.ids)
    assert exact.method == "layer sweeps" and pair.model.replay_ok  # the fast path covers every family tested
    grids, baseline = exact.grids, exact.corrupted
    norm = lambda logits: (pair.answers.log_odds(logits) - pair.corrupted_value) / (pair.clean_value - pair.corrupted_value)
    assert float(norm(baseline)) == pytest.approx(0.0, abs=1e-4)
    assert float(norm(grids["resid_pre"][0, 0])) == pytest.approx(1.0, abs=1e-4)
    # Every grid covers the positions from the first difference on (positional) or every head.
    assert grids["resid_pre"].shape[:2] == (pair.model.n_layers, pair.clean_tokens.shape[0] - pair.start)
    assert grids["head_out"].shape[:2] == (pair.model.n_layers, pair.model.n_heads)


def test_full_forwards_when_the_capability_check_fails_give_the_same_grids(pair, monkeypatch):
    """A model whose blocks do not replay exactly (here: a sweep made wrong on purpose) is found out
    by the capability check up front: exact patching runs full batched forwards, with the same
    numbers, and says which method and why."""
    clean = patching.clean_sites(pair.clean_cache, pair.model.n_layers, pair.start)
    fast = patching.exact_grids(pair.model, pair.corrupted_tokens.tolist(), clean, pair.start, pair.ids)
    ramp = lambda rows: rows + torch.linspace(0, 1, rows.shape[-1])  # not a constant shift: log-probs change
    monkeypatch.setattr(patching, "sweep", lambda *args, **kwargs: ramp(sweeps.sweep(*args, **kwargs)))
    monkeypatch.setattr(pair.model, "replay_ok", None)
    method = patching.patch_method(pair.model)
    assert method.name == patching.FULL_FORWARDS and "differs from the forward" in method.reason
    slow = patching.exact_grids(pair.model, pair.corrupted_tokens.tolist(), clean, pair.start, pair.ids)
    assert (slow.method, slow.reason) == (method.name, method.reason) and pair.model.replay_ok is False
    for site in SITES:
        torch.testing.assert_close(slow.grids[site], fast.grids[site], rtol=0, atol=1e-4)
    torch.testing.assert_close(slow.corrupted, fast.corrupted, rtol=0, atol=1e-4)
    monkeypatch.setattr(pair.model, "replay_ok", True)


def test_a_replay_that_breaks_after_the_check_is_an_error_not_a_switch(pair, monkeypatch):
    clean = patching.clean_sites(pair.clean_cache, pair.model.n_layers, pair.start)
    assert patching.patch_method(pair.model).name == patching.LAYER_SWEEPS
    monkeypatch.setattr(patching, "sweep", lambda *args, **kwargs: sweeps.sweep(*args, **kwargs) + 1.0)
    with pytest.raises(FkBenchError, match="differs from the forward .* although the capability check passed"):
        patching.exact_grids(pair.model, pair.corrupted_tokens.tolist(), clean, pair.start, pair.ids)


def test_a_forward_that_cannot_be_replayed_is_decided_up_front(monkeypatch):
    _, model, _ = booted_family("gpt_neox")

    def unsupported(*args, **kwargs):
        raise sweeps.ReplayUnsupported("block 1 is called more than once per forward")

    monkeypatch.setattr(patching, "record_layer_calls", unsupported)
    monkeypatch.setattr(model, "replay_ok", None)
    method = patching.patch_method(model)
    assert method.name == patching.FULL_FORWARDS and "called more than once" in method.reason
    assert patching.patch_method(model) == method  # kept on the model, not checked again
    monkeypatch.setattr(model, "replay_ok", None)
    monkeypatch.undo()
    assert patching.patch_method(model).name == patching.LAYER_SWEEPS


def test_one_site_table():
    """Every site's behaviour is one entry of the table: its hook, what its cells index, how it is written."""
    assert tuple(edits.SITE_TABLE) == SITES
    assert [edits.site(name).per_head for name in SITES] == [False, False, False, True]
    assert edits.site("head_out").hook(3) == "blocks.3.attn.hook_z" and edits.site("mlp_out").hook(0) == "blocks.0.hook_mlp_out"
    x = torch.zeros(2, 4, 3, 5)
    edits.site("head_out").setter(x, torch.tensor([1]), torch.tensor([2]), torch.ones(1, 4, 5), 0)
    assert x[1, :, 2].eq(1).all() and x.sum() == 20
    y = torch.zeros(2, 4, 5)
    edits.site("resid_pre").setter(y, torch.tensor([0, 1]), torch.tensor([3, 4]), torch.ones(2, 5), 2)
    assert y[0, 1].eq(1).all() and y[1, 2].eq(1).all() and y.sum() == 10
    with pytest.raises(ValueError, match="patching site 'resid_post'"):
        edits.site("resid_post")


def test_sweeps_in_chunks_give_the_same_grids(pair, monkeypatch):
    clean = patching.clean_sites(pair.clean_cache, pair.model.n_layers, pair.start)
    whole = patching.exact_grids(pair.model, pair.corrupted_tokens.tolist(), clean, pair.start, pair.ids)
    monkeypatch.setattr(patching, "SWEEP_ROWS", 7)  # several sweeps, each with its own unpatched row
    chunked = patching.exact_grids(pair.model, pair.corrupted_tokens.tolist(), clean, pair.start, pair.ids)
    assert chunked.method == "layer sweeps"
    for site in SITES:
        torch.testing.assert_close(chunked.grids[site], whole.grids[site], rtol=0, atol=1e-4)


def test_attribution_is_the_first_order_change(pair):
    """Each attribution cell equals the finite-difference slope of log_odds along clean - corrupted at that cell."""
    model, ids = pair.model, pair.ids
    corrupted_logits, corrupted, grads = runner.gradient_run(model, pair.corrupted_tokens[None], ids, pair.answers.log_odds)
    assert float(pair.answers.log_odds(corrupted_logits)[0]) == pytest.approx(pair.corrupted_value, abs=1e-4)
    clean = patching.clean_sites(pair.clean_cache, model.n_layers)  # every position: the runs below start at 0
    raw = patching.attribution_grids(clean, {s: a[0] for s, a in corrupted.items()}, {s: g[0] for s, g in grads.items()})
    eps = 1e-2
    for site in SITES:
        layer, index = model.n_layers - 1, (model.n_heads - 1 if site == "head_out" else pair.start)
        cell = [edits.Cell(site, layer, index)]
        moved = [
            float(
                pair.answers.log_odds(
                    runner.run_patched(
                        model, pair.corrupted_tokens, {site: corrupted[site][0] + step * (clean[site] - corrupted[site][0])}, cell, ids
                    )
                )[0]
            )
            for step in (eps, -eps)
        ]
        slope = (moved[0] - moved[1]) / (2 * eps)  # central difference: float32 rounding stays well below the tolerance
        assert raw[site][layer, index] == pytest.approx(slope, rel=0.05, abs=2e-3), site


def test_sliding_window_shorter_than_the_prompt_matches_transformer_lens(tmp_path):
    """A Gemma 3 window of 3 tokens: the prefix cache and the patched rows must respect it."""
    from interp.core.model import InterpModel

    loaded = build_family_model("gemma3", tmp_path / "m", seed=2)
    loaded.model.config.sliding_window = 3
    for layer in loaded.model.model.layers:
        if layer.self_attn.sliding_window is not None:
            layer.self_attn.sliding_window = 3
    model, answers = InterpModel.boot(loaded), tiny_answers(loaded)
    clean, corrupted = model.tensor(model.tokens(CLEAN)), model.tensor(model.tokens(CORRUPTED))
    _, cache = model.bridge.run_with_cache(clean[None])
    metric = lambda logits: answers.log_odds(logits[:, -1, answers.id_tensor()])
    reference = tl_patching.get_act_patch_resid_pre(model.bridge, corrupted[None], cache, lambda logits: metric(logits)[0])
    ours = patching.get_act_patch_resid_pre(model, corrupted, cache, metric)
    assert reference.abs().max() > 0.1
    np.testing.assert_allclose(ours.double().numpy(), reference.double().numpy(), rtol=0, atol=1e-4)


def test_cells_in_the_shared_prefix_are_refused():
    _, model, answers = booted_family("llama")
    tokens = model.tensor(model.tokens(CORRUPTED))
    with pytest.raises(ValueError, match="shared prefix"):
        runner.run_patched(model, tokens, {}, [edits.Cell("resid_pre", 0, 1)], answers.id_tensor(), start=3)


def test_unknown_site_is_rejected():
    _, model, _ = booted_family("llama")
    with pytest.raises(ValueError, match="patching site 'resid_post'"):
        patching.act_patch(model, torch.tensor([1, 2]), None, None, "resid_post")


@pytest.mark.embedded
def test_embedded_exact_cells_match_transformer_lens():
    """On the real model: the closures, and resid_pre cells of three layers against TransformerLens
    (``generic_activation_patch`` on just those cells: 9 full forwards)."""
    import pandas as pd
    from support.interp import private_embedded_model

    from fk_bench.answer_groups import DEFAULT_GROUPS
    from interp.core.answer_tokens import single_token_answers
    from interp.core.model import InterpModel

    loaded = private_embedded_model()
    corrupted_prompt = "Is Paris the capital of Italy?\n"
    answers = single_token_answers(loaded.tokenizer, [CLEAN, corrupted_prompt], DEFAULT_GROUPS)
    assert len(answers.words) == 16 and not answers.skipped
    model = InterpModel.boot(loaded)
    ids = answers.id_tensor()
    clean, corrupted = model.tensor(model.tokens(CLEAN)), model.tensor(model.tokens(corrupted_prompt))
    start = shared_prefix_length(clean.tolist(), corrupted.tolist())
    with torch.no_grad():
        logits, cache = model.bridge.run_with_cache(clean[None])
    clean_value = float(answers.log_odds(logits[0, -1, ids]))
    exact = patching.exact_grids(model, corrupted.tolist(), patching.clean_sites(cache, model.n_layers, start), start, ids, sites=("resid_pre",))
    assert exact.method == "layer sweeps"
    grids, baseline = exact.grids, exact.corrupted
    corrupted_value = float(answers.log_odds(baseline))
    assert abs(clean_value - corrupted_value) > 0.05
    norm = lambda values: (values - corrupted_value) / (clean_value - corrupted_value)
    assert float(norm(answers.log_odds(grids["resid_pre"][0, 0]))) == pytest.approx(1.0, abs=1e-3)
    layers = [0, model.n_layers // 2, model.n_layers - 1]
    index_df = pd.DataFrame([(layer, pos) for layer in layers for pos in range(start, clean.shape[0])], columns=["layer", "pos"])
    # In nats, not normalized: this pair's corruption moves log_odds little, and dividing by it would magnify float noise.
    reference = tl_patching.generic_activation_patch(
        model.bridge,
        corrupted[None],
        cache,
        lambda lg: answers.log_odds(lg[0, -1, ids]),
        tl_patching.layer_pos_patch_setter,
        "resid_pre",
        index_df=index_df,
    )
    ours = answers.log_odds(grids["resid_pre"][layers])
    np.testing.assert_allclose(ours.reshape(-1).double().numpy(), reference.double().numpy(), rtol=0, atol=1e-4)
