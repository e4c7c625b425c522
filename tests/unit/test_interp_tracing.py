"""Causal tracing under ROME's noise, on a tiny random model of every family: every cell equals a
naive implementation (one plainly hooked full forward per cell) within 1e-4, the closures hold
(nothing restored = 0, everything = 1), and the three ways of running the rows agree."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from support.interp import CLEAN, FAMILIES, NaiveTracer, booted_family

from fk_bench.errors import FkBenchError
from interp.core import corruption, edits, runner
from interp.patching import tracing
from interp.patching.activation_patching import FULL_FORWARDS

QUESTION, TWIN = CLEAN.strip(), "Is Paris the capital of Italy?"


class Traced:
    def __init__(self, family: str, span: str):
        _, self.model, self.answers = booted_family(family)
        self.ids = self.answers.id_tensor()
        self.tokens = self.model.tokens(CLEAN)
        self.roles = corruption.token_roles(self.model.tokenizer, CLEAN, self.tokens, QUESTION, "Paris", "France", TWIN)
        self.noise = corruption.noise_for(self.model, self.roles, span, corruption.noise_scale(self.model), seed=0, key=f"{family}-{span}")
        self.grids = tracing.trace(self.model, self.tokens, self.noise, self.ids, sever=("mlp_out", "attn_out"))
        self.naive = NaiveTracer(self.model, self.tokens, self.noise, self.ids)

    def log_odds(self, logits: torch.Tensor) -> float:
        return float(self.answers.log_odds(logits.double()))


@pytest.fixture(scope="module", params=[(family, span) for family in FAMILIES for span in ("object", "subject")], ids=lambda p: f"{p[0]}-{p[1]}")
def traced(request) -> Traced:
    return Traced(*request.param)


def test_the_noise_moves_the_answer(traced):
    """Normalized grids divide by clean - noised: the noise must move log_odds."""
    assert abs(traced.log_odds(traced.grids.clean) - traced.log_odds(traced.grids.noised)) > 0.01
    assert traced.grids.positions == tuple(range(traced.noise.start, len(traced.tokens)))


def test_every_cell_equals_a_naive_hooked_forward(traced):
    model, grids = traced.model, traced.grids
    worst = 0.0
    for grid_name, values in [*grids.grids.items(), *((f"severed {k}", v) for k, v in grids.severed.items())]:
        for layer in range(model.n_layers):
            for column, position in enumerate(grids.positions):
                if grid_name.startswith("severed"):
                    frozen = grid_name.split()[1]
                    cells = [edits.Cell("resid_pre", layer, position)]
                    cells += [edits.Cell(frozen, at, position, "corrupted") for at in range(layer, model.n_layers)]
                else:
                    cells = [edits.Cell(grid_name, layer, position)]
                reference = traced.naive(cells)
                gap = abs(traced.log_odds(values[layer, column]) - traced.log_odds(reference))
                worst = max(worst, gap)
    assert worst < 1e-4


def test_closures(traced):
    """Nothing restored is the noised run (0); every noised embedding restored is the clean run (1),
    and so is the resid_pre cell at layer 0 where the noise covers one token; positions before the
    noise are not traced (their cells are exactly 0)."""
    grids, model = traced.grids, traced.model
    naive_noised = traced.naive([])
    assert traced.log_odds(grids.noised) == pytest.approx(traced.log_odds(naive_noised), abs=1e-4)
    normalized = grids.normalized(traced.answers.log_odds)
    clean, noised = traced.log_odds(grids.clean), traced.log_odds(grids.noised)
    assert (traced.log_odds(grids.restored) - noised) / (clean - noised) == pytest.approx(1.0, abs=1e-4)
    if len(traced.noise.positions) == 1:
        assert normalized["resid_pre"][0, 0] == pytest.approx(1.0, abs=1e-4)
    # The last position's residual entering the last layer carries everything but that layer's attention to the noise.
    assert set(normalized) == {"resid_pre", "attn_out", "mlp_out", tracing.severed_key("mlp_out"), tracing.severed_key("attn_out")}
    assert all(grid.shape == (model.n_layers, len(grids.positions)) for grid in normalized.values())


def test_one_sweep_per_position_and_full_forwards_give_the_same_grids(traced):
    model = traced.model
    for kwargs in ({"by_position": True}, {"by_position": False}, {"method": FULL_FORWARDS}):
        other = tracing.trace(model, traced.tokens, traced.noise, traced.ids, sever=("mlp_out", "attn_out"), **kwargs)
        for name in traced.grids.grids:
            torch.testing.assert_close(other.grids[name], traced.grids.grids[name], rtol=0, atol=1e-4)
        for name in traced.grids.severed:
            torch.testing.assert_close(other.severed[name], traced.grids.severed[name], rtol=0, atol=1e-4)
        torch.testing.assert_close(other.restored, traced.grids.restored, rtol=0, atol=1e-4)
        assert other.method == (FULL_FORWARDS if "method" in kwargs else "layer sweeps")


def test_a_window_of_layers_and_chosen_positions():
    """ROME's window (the MLP outputs of the layers around the cell's layer restored together), at chosen positions only."""
    traced = Traced("llama", "subject")
    model, last = traced.model, len(traced.tokens) - 1
    positions = [traced.noise.start, last]
    grids = tracing.trace(model, traced.tokens, traced.noise, traced.ids, sites=("mlp_out",), positions=positions, sever=(), window=3)
    assert grids.positions == tuple(positions) and set(grids.grids) == {"mlp_out"} and not grids.severed
    for layer in range(model.n_layers):
        for column, position in enumerate(positions):
            cells = [edits.Cell("mlp_out", at, position) for at in edits.layer_window(layer, 3, model.n_layers)]
            reference = traced.naive(cells)
            assert traced.log_odds(grids.grids["mlp_out"][layer, column]) == pytest.approx(traced.log_odds(reference), abs=1e-4)
    assert list(edits.layer_window(4, 9, 28)) == list(range(0, 9)) and list(edits.layer_window(20, 9, 28)) == list(range(16, 25))
    # Chosen layers: the grids' rows follow them.
    one = tracing.trace(
        model, traced.tokens, traced.noise, traced.ids, sites=("mlp_out",), positions=positions, sever=("mlp_out",), window=3, layers=[1]
    )
    assert one.layers == (1,) and one.grids["mlp_out"].shape[:2] == (1, 2) and one.severed["mlp_out"].shape[:2] == (1, 2)
    torch.testing.assert_close(one.grids["mlp_out"][0], grids.grids["mlp_out"][1], rtol=0, atol=1e-4)
    with pytest.raises(FkBenchError, match="layers"):
        tracing.trace(model, traced.tokens, traced.noise, traced.ids, layers=[model.n_layers])


def test_a_clean_run_and_prefix_from_the_caller_change_nothing():
    traced = Traced("qwen2", "object")
    model, start = traced.model, traced.noise.start
    prefix = runner.prefix_cache(model, model.tensor(traced.tokens), 2)  # shorter than the noise's start: extended inside
    clean = tracing.clean_run(model, traced.tokens, traced.ids, 1, sites=("resid_pre", "attn_out", "mlp_out"))
    again = tracing.trace(model, traced.tokens, traced.noise, traced.ids, sever=("mlp_out", "attn_out"), prefix=prefix, clean=clean)
    assert start > 2
    for name in traced.grids.grids:
        torch.testing.assert_close(again.grids[name], traced.grids.grids[name], rtol=0, atol=1e-4)


def test_positions_before_the_noise_and_unknown_sites_are_refused():
    traced = Traced("gpt2", "object")
    with pytest.raises(FkBenchError, match="must lie in the noised run's positions"):
        tracing.trace(traced.model, traced.tokens, traced.noise, traced.ids, positions=[1])
    with pytest.raises(FkBenchError, match="choose from"):
        tracing.trace(traced.model, traced.tokens, traced.noise, traced.ids, sites=("head_out",))


def test_the_cost_estimate_prefers_one_sweep_per_position_for_long_tails():
    assert tracing._by_position_pays(28, 10, 40, range(10, 40), 113)  # the subject of a chat prompt on a 1.5B model
    assert not tracing._by_position_pays(2, 6, 9, range(6, 9), 9)  # a tiny model, three positions
    assert np.isfinite(tracing.CALL_COST)


@pytest.mark.embedded
def test_embedded_tracing_closes_and_matches_naive_cells():
    from support.interp import private_embedded_model

    from fk_bench.answers import DEFAULT_GROUPS
    from interp.core.answer_tokens import single_token_answers
    from interp.core.model import InterpModel

    loaded = private_embedded_model()
    model = InterpModel.boot(loaded)
    answers = single_token_answers(loaded.tokenizer, [CLEAN], DEFAULT_GROUPS)
    ids, tokens = answers.id_tensor(), model.tokens(CLEAN)
    roles = corruption.token_roles(model.tokenizer, CLEAN, tokens, QUESTION, "Paris", "France", TWIN)
    noise = corruption.noise_for(model, roles, "subject", corruption.noise_scale(model), seed=0, key="paris")
    grids = tracing.trace(model, tokens, noise, ids)
    assert grids.method == "layer sweeps"
    naive = NaiveTracer(model, tokens, noise, ids)
    log_odds = lambda logits: float(answers.log_odds(logits.double()))
    assert log_odds(grids.noised) == pytest.approx(log_odds(naive([])), abs=1e-4)
    assert log_odds(grids.restored) == pytest.approx(log_odds(grids.clean), abs=1e-4)
    assert abs(log_odds(grids.clean) - log_odds(grids.noised)) > 0.05
    last = len(tokens) - 1
    for site, layer, position in [("resid_pre", 0, noise.start), ("resid_pre", model.n_layers // 2, last), ("mlp_out", 3, noise.start)]:
        column = grids.positions.index(position)
        reference = naive([edits.Cell(site, layer, position)])
        assert log_odds(grids.grids[site][layer, column]) == pytest.approx(log_odds(reference), abs=1e-4)
