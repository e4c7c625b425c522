"""Studying pairs from their shared prefix's cache gives the numbers of whole-prompt runs."""

from __future__ import annotations

import numpy as np
import pytest
from support.interp import build_family_model

from fk_bench.answers import DEFAULT_GROUPS
from fk_bench.prompts import build_prompt
from interp.attribution import dla
from interp.core import runner
from interp.core.answer_tokens import single_token_answers
from interp.core.model import SITES, InterpModel
from interp.core.studied_pairs import Pair
from interp.patching import activation_patching as patching
from interp.study.pair_studies import study_pairs

QUESTIONS = [
    ("Is Paris the capital of France?", "Is Paris the capital of Italy?"),
    ("Is Berlin the capital of Germany?", "Is Berlin the capital of Spain?"),
]


@pytest.fixture(scope="module", params=["gemma3", "gpt2"])
def setup(request, tmp_path_factory):
    loaded = build_family_model(request.param, tmp_path_factory.mktemp(request.param), chat=True)
    pairs = []
    for number, (clean, corrupted) in enumerate(QUESTIONS):
        prompts = [build_prompt(q, "chat", loaded.tokenizer) for q in (clean, corrupted)]
        tokens = [tuple(loaded.tokenizer.encode(p, add_special_tokens=False)) for p in prompts]  # the chat template writes BOS
        pairs.append(Pair(f"p{number}", f"p{number}-t", f"p{number}-f", clean, corrupted, 1.0, *prompts, *tokens))
    assert pairs[0].shared_prefix > 10 and pairs[0].n_tokens == pairs[1].n_tokens and pairs[0].shared_prefix == pairs[1].shared_prefix
    answers = single_token_answers(loaded.tokenizer, [p for pair in pairs for p in (pair.clean_prompt, pair.corrupted_prompt)], DEFAULT_GROUPS)
    model = InterpModel.boot(loaded)
    seconds: dict[str, float] = {}
    studies = study_pairs(model, pairs, answers, {"p0"}, {"p1"}, progress=False, seconds=seconds)
    return model, answers, pairs, studies, seconds


def test_study_equals_whole_prompt_runs(setup):
    model, answers, pairs, studies, seconds = setup
    assert set(seconds) == {"prefixes", "clean runs and DLA", "corrupted runs and attribution patching", "exact patching"}
    ids = answers.id_tensor()
    direction = dla.Direction.of(model, answers)
    for pair, study in zip(pairs, studies):
        start = pair.shared_prefix
        clean_logits, cache, unembedded = runner.record(model, model.tensor([pair.clean_tokens]), dla.dla_hooks(True), ids)
        whole = dla.question_dla(model, cache, unembedded, direction, answers)[0]
        assert study.clean["log_odds"] == pytest.approx(float(answers.log_odds(clean_logits)[0]), abs=1e-4)
        np.testing.assert_allclose(study.dla.per_layer, whole.per_layer, rtol=0, atol=1e-4)
        np.testing.assert_allclose(study.dla.per_head, whole.per_head, rtol=0, atol=1e-4)
        np.testing.assert_allclose(study.dla.logit_lens, whole.logit_lens, rtol=0, atol=1e-4)
        corrupted_logits, corrupted, grads = runner.gradient_run(model, model.tensor([pair.corrupted_tokens]), ids, answers.log_odds)
        assert study.corrupted["log_odds"] == pytest.approx(float(answers.log_odds(corrupted_logits)[0]), abs=1e-4)
        clean = patching.clean_sites(cache, model.n_layers)
        raw = patching.attribution_grids(clean, {s: a[0] for s, a in corrupted.items()}, {s: g[0] for s, g in grads.items()})
        for site in SITES:
            expected = raw[site] if site == "head_out" else raw[site][:, start:]
            np.testing.assert_allclose(study.attribution[site] * study.drop(), expected, rtol=0, atol=1e-4)
            if site != "head_out":  # before the first difference, clean - corrupted is exactly zero
                assert np.abs(raw[site][:, :start]).max() == 0.0
        if study.patterns is not None:  # queries from the first difference on, every key
            full = dla.attention_patterns(cache, model.n_layers, row=0)
            np.testing.assert_allclose(study.patterns, full[:, :, start:], rtol=0, atol=1e-5)
    assert studies[0].exact is not None and studies[1].exact is None
    assert studies[0].exact["log_odds"]["resid_pre"][0, 0] == pytest.approx(1.0, abs=1e-4)


def test_twin_tracing_by_role_equals_exact_patching_on_a_same_length_pair(setup):
    """The role-aligned path (alignment, aligned clean activations, exact_grids) gives the exact patching grids
    where the twin has the same length; knockout and noise tracing run on the same pairs."""
    from dataclasses import replace

    from interp.core.corruption import noise_scale
    from interp.study.pair_studies import knockout_pairs, trace_pairs

    model, answers, _, studies, _ = setup
    study = studies[0]
    (traced,) = trace_pairs(model, [replace(study, exact=None)], {study.pair.pair_id}, answers, "twin")
    assert traced.detail["aligned_by_role"] is False and traced.drop == pytest.approx(study.drop())
    for site in ("resid_pre", "attn_out", "mlp_out"):
        np.testing.assert_allclose(traced.grids[site], study.exact["log_odds"][site], rtol=0, atol=1e-4)
    assert traced.columns[-1] == "last" and "object last" in traced.columns  # the twin's differing word is its object
    (reused,) = trace_pairs(model, [study], {study.pair.pair_id}, answers, "twin")
    assert reused.detail["reused"] == "exact patching"

    (noised,) = trace_pairs(model, [study], {study.pair.pair_id}, answers, "noise", "object", noise_scale(model), seed=1)
    assert set(noised.grids) == {"resid_pre", "attn_out", "mlp_out", "resid_pre, mlp_out severed"}
    assert noised.detail["closure"] == pytest.approx(study.clean["log_odds"], abs=1e-4)  # every noised embedding restored = the clean run
    (again,) = trace_pairs(model, [study], {study.pair.pair_id}, answers, "noise", "object", noise_scale(model), seed=1)
    np.testing.assert_array_equal(again.grids["resid_pre"], noised.grids["resid_pre"])  # seeded

    (knocked,) = knockout_pairs(model, [study], answers)
    assert "object" in knocked.drop and knocked.drop["object"].shape == (model.n_layers,) and knocked.window == 1


def test_clean_only_studies_share_the_prompts_prefix_and_give_the_same_dla(setup):
    """Noise corruption studies the clean prompts alone, after their common prefix run once: the same DLA."""
    model, answers, pairs, studies, _ = setup
    seconds: dict[str, float] = {}
    alone = study_pairs(model, pairs, answers, set(), {"p1"}, progress=False, seconds=seconds, twin_patching=False)
    assert seconds["prefixes"] > 0 and "corrupted runs and attribution patching" not in seconds
    for one, both in zip(alone, studies):
        assert one.attribution is None and one.corrupted is None and one.exact is None
        assert one.clean["log_odds"] == pytest.approx(both.clean["log_odds"], abs=1e-4)
        np.testing.assert_allclose(one.dla.per_layer, both.dla.per_layer, rtol=0, atol=1e-4)
        np.testing.assert_allclose(one.dla.per_head, both.dla.per_head, rtol=0, atol=1e-4)
        np.testing.assert_allclose(one.dla.logit_lens, both.dla.logit_lens, rtol=0, atol=1e-4)
    full = dla.attention_patterns(
        runner.record(model, model.tensor([pairs[1].clean_tokens]), dla.dla_hooks(True), answers.id_tensor())[1], model.n_layers, 0
    )
    np.testing.assert_allclose(alone[1].patterns, full[:, :, alone[1].patterns_start :], rtol=0, atol=1e-5)
