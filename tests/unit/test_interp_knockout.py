"""Attention knockout on a tiny random model of every family, against the Hugging Face model itself
(loaded afresh, eager attention, never booted) run with a 4D attention mask written out by hand on
the window's layers; the window rule; and the pre-softmax capability check."""

from __future__ import annotations

import pytest
import torch
from support.interp import CLEAN, FAMILIES, booted_family, hand_masked_logits

from fk_bench.errors import FkBenchError
from interp.core import corruption, edits, runner
from interp.patching import knockout
from interp.patching.activation_patching import FULL_FORWARDS

QUESTION, TWIN = CLEAN.strip(), "Is Paris the capital of Italy?"


@pytest.mark.parametrize("family", FAMILIES)
def test_knockout_equals_a_hand_masked_forward(family):
    loaded, model, answers = booted_family(family)
    ids = answers.id_tensor()
    tokens = model.tokens(CLEAN)
    roles = corruption.token_roles(model.tokenizer, CLEAN, tokens, QUESTION, "Paris", "France", TWIN)
    targets = {**knockout.knockout_targets(roles), "everything before": tuple(range(len(tokens) - 1))}
    for window in (1, 2):
        grids = knockout.knockout(model, tokens, targets, ids, window=window)
        full = knockout.knockout(model, tokens, targets, ids, window=window, method=FULL_FORWARDS)
        assert grids.window == window and not grids.missing
        unmasked = hand_masked_logits(loaded.path, tokens, {})
        assert float(answers.log_odds(grids.clean)) == pytest.approx(float(answers.log_odds(unmasked[ids])), abs=1e-4)
        moved = 0.0
        for name, keys in targets.items():
            for centre in range(model.n_layers):
                blocked = {layer: list(keys) for layer in edits.layer_window(centre, window, model.n_layers)}
                reference = float(answers.log_odds(hand_masked_logits(loaded.path, tokens, blocked)[ids]))
                assert float(answers.log_odds(grids.logits[name][centre])) == pytest.approx(reference, abs=1e-4), (name, centre)
                assert float(answers.log_odds(full.logits[name][centre])) == pytest.approx(reference, abs=1e-4), (name, centre)
                moved = max(moved, abs(reference - float(answers.log_odds(grids.clean))))
        assert moved > 1e-2  # blocking moved the answer somewhere: the comparison is not trivially equal


def test_relative_change_is_the_papers():
    _, model, answers = booted_family("llama")
    tokens = model.tokens(CLEAN)
    roles = corruption.token_roles(model.tokenizer, CLEAN, tokens, QUESTION, "Paris", "France", TWIN)
    grids = knockout.knockout(model, tokens, {**knockout.knockout_targets(roles), "nothing": ()}, answers.id_tensor())
    assert grids.missing == ("nothing",) and set(grids.logits) == {"subject", "object", "relation"}
    change = grids.relative_change(answers.log_odds)
    clean = float(answers.log_odds(grids.clean.double()))
    expected = (answers.log_odds(grids.logits["subject"].double()).numpy() - clean) / abs(clean)
    assert change["subject"] == pytest.approx(expected, rel=1e-9)
    assert grids.to_json()["targets"]["subject"] == list(roles.positions("subject"))


@pytest.mark.parametrize(("n_layers", "window"), [(1, 1), (2, 1), (12, 3), (18, 5), (26, 9), (28, 9), (48, 9)])
def test_default_window(n_layers, window):
    assert knockout.default_window(n_layers) == window
    assert knockout.default_window(n_layers) % 2 == 1


def test_a_post_hoc_scores_hook_is_refused(monkeypatch):
    """Where an edit of hook_attn_scores would not reach the softmax, knockout says so instead of
    returning unchanged numbers (simulated here: the edit never happens)."""
    _, model, answers = booted_family("gemma2")
    monkeypatch.setattr(knockout, "edit_hooks", lambda *args, **kwargs: [])
    monkeypatch.setattr(model, "_scores_hookable", False, raising=False)
    with pytest.raises(FkBenchError, match="does not apply hook_attn_scores before its softmax"):
        knockout.knockout(model, model.tokens(CLEAN), {"subject": (2,)}, answers.id_tensor())


def test_targets_outside_the_prompt_are_refused():
    _, model, answers = booted_family("gpt2")
    with pytest.raises(FkBenchError, match="outside the prompt"):
        knockout.knockout(model, model.tokens(CLEAN), {"subject": (40,)}, answers.id_tensor())
    with torch.no_grad():
        assert knockout.knockout(model, model.tokens(CLEAN), {}, answers.id_tensor()).logits == {}


def test_a_prefix_from_the_caller_and_chosen_centres_change_nothing():
    _, model, answers = booted_family("gemma3")
    ids, tokens = answers.id_tensor(), model.tokens(CLEAN)
    targets = {"subject": (2,), "relation": (1, 3, 4, 5)}
    whole = knockout.knockout(model, tokens, targets, ids)
    prefix = runner.prefix_cache(model, model.tensor(tokens), 3)
    again = knockout.knockout(model, tokens, targets, ids, prefix=prefix, centres=[1])
    assert prefix.get_seq_length() == 3  # not modified
    assert again.centres == (1,) and whole.centres == (0, 1)
    for name in targets:
        torch.testing.assert_close(again.logits[name][0], whole.logits[name][1], rtol=0, atol=1e-4)
    with pytest.raises(FkBenchError, match="window centres"):
        knockout.knockout(model, tokens, targets, ids, centres=[2])
