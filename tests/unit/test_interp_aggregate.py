"""The report's statistics against hand-computed numbers."""

from __future__ import annotations

import numpy as np
import pytest

from interp.study import aggregate, causal_summaries


def test_aligned_mean_counts_a_shared_prefix_as_zero_and_a_missing_position_not_at_all():
    # Pair 1: 4 tokens, grid over its last 2 positions. Pair 2: 3 tokens, grid over its last 3 positions.
    short, long = np.array([[1.0, 2.0]]), np.array([[10.0, 20.0, 30.0]])
    # Width 3: column -3 is pair 1's shared prefix (0) and pair 2's first position (10).
    np.testing.assert_allclose(aggregate.aligned_mean([short, long], [4, 3], [1.0, 1.0]), [[5.0, 10.5, 16.0]])
    np.testing.assert_allclose(aggregate.aligned_mean([short, long], [4, 3], [3.0, 1.0]), [[2.5, 5.75, 9.0]])
    # A prompt of 2 tokens has no column -3: only the other pair counts there.
    np.testing.assert_allclose(aggregate.aligned_mean([short, long], [2, 3], [1.0, 1.0]), [[10.0, 10.5, 16.0]])


def test_pearson_and_its_undefined_cases():
    assert aggregate.pearson(np.array([1.0, 2.0, 3.0]), np.array([2.0, 4.0, 6.5])) == pytest.approx(
        4.5 / np.sqrt(2 * 61 / 6)
    )  # sum dx*dy / sqrt(sum dx^2 * sum dy^2)
    assert aggregate.pearson(np.array([1.0, 1.0]), np.array([1.0, 2.0])) is None
    assert aggregate.pearson(np.array([1.0, np.nan, 3.0]), np.array([1.0, 5.0, 3.0])) == pytest.approx(1.0)


LABELS = ["embed", "pos_embed", "0_attn_out", "0_mlp_out", "1_attn_out", "1_mlp_out", "2_attn_out", "2_mlp_out"]


def test_attention_vs_mlp_reads_the_labels_and_skips_layer_0():
    per_layer = np.array([[9.0, 9.0, 5.0, 5.0, 1.0, 3.0, -1.0, 4.0], [9.0, 9.0, 5.0, 5.0, 3.0, 5.0, 1.0, 2.0]])
    result = aggregate.attention_vs_mlp(per_layer, LABELS)
    assert (result["attention"], result["mlp"]) == (2.0, 7.0)
    assert result["mlp_share"] == pytest.approx(7.0 / 9.0)
    every = aggregate.attention_vs_mlp(per_layer, LABELS, skip_first_layer=False)
    assert (every["attention"], every["mlp"]) == (7.0, 12.0)
    assert aggregate.attention_vs_mlp(np.zeros((1, 8)), LABELS)["mlp_share"] is None


def test_largest_increase_ignores_the_embeddings():
    mean = np.array([50.0, 40.0, 1.0, 2.0, 0.5, 3.0, -4.0, 2.5])
    assert aggregate.largest_increase(mean, LABELS) == {"label": "1_mlp_out", "name": "MLP 1", "value": 3.0}


def test_top_heads():
    per_head = np.array([[0.5, -2.0], [3.0, 0.1]])
    heads = aggregate.top_heads(per_head, 2)
    assert heads["positive"] == [(1, 0, 3.0), (0, 0, 0.5)]
    assert heads["negative"] == [(0, 1, -2.0), (1, 1, 0.1)]


def test_carrying_positions():
    grid = np.array([[1.0, 0.0, 0.1], [0.6, 0.2, 0.7], [0.0, 0.1, 1.0]])
    found = aggregate.carrying_positions(grid, ["-3 France", "-2 ?", "-1 \\n"])
    assert found == [
        {"position": "-3 France", "max": 1.0, "from_layer": 0, "to_layer": 1},
        {"position": "-1 \\n", "max": 1.0, "from_layer": 1, "to_layer": 2},
    ]


def test_mean_std():
    assert aggregate.mean_std([np.array([1.0, 2.0]), np.array([3.0, 2.0])]) == {
        "mean": [2.0, 2.0],
        "std": [1.0, 0.0],
        "min": [1.0, 2.0],
        "max": [3.0, 2.0],
    }


def test_aligned_mean_to_a_wider_common_width():
    """Exact and attribution means share the columns of the widest studied pair."""
    grid = np.array([[1.0, 2.0]])
    np.testing.assert_allclose(aggregate.aligned_mean([grid], [5], [1.0], width=4), [[0.0, 0.0, 1.0, 2.0]])


def test_jump_reports_its_layer_as_a_fraction_of_depth_with_intervals():
    # Every pair peaks at MLP 1; its value varies a little, so the layer interval is one layer and the value's is narrow.
    rows = np.array([[9.0, 9.0, 0.1, 0.2, 0.5, 3.0 + d, 0.1, 1.0] for d in np.linspace(-0.2, 0.2, 8)])
    found = aggregate.jump(rows, LABELS, n_layers=3, seed=0)
    assert (found["name"], found["layer"], found["fraction_of_depth"]) == ("MLP 1", 1, pytest.approx(2 / 3))
    assert (found["layer_interval"]["low"], found["layer_interval"]["high"], found["layer_interval"]["wide"]) == (1.0, 1.0, False)
    assert 2.8 < found["value_interval"]["low"] < 3.0 < found["value_interval"]["high"] < 3.2


def test_an_unstable_jump_is_wide():
    rows = np.array([[0, 0, 0, 5.0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 0, 5.0]] * 4)  # half the pairs at MLP 0, half at MLP 2
    assert aggregate.jump(rows, LABELS, n_layers=3)["layer_interval"]["wide"]


def test_mlp_share_interval_and_head_intervals():
    per_layer = np.array([[9.0, 9.0, 5.0, 5.0, 1.0, 3.0, -1.0, 4.0]] * 5)
    share = aggregate.mlp_share_interval(per_layer, LABELS)
    assert share["estimate"] == share["low"] == share["high"] == pytest.approx(7 / 7)
    per_head = np.stack([np.array([[0.5, -2.0], [3.0 + d, 0.1]]) for d in (-0.1, 0.0, 0.1)])
    (head,) = aggregate.head_intervals(per_head, [(1, 0, 3.0)])
    assert (head["layer"], head["head"]) == (1, 0) and head["low"] >= 2.9 and head["high"] <= 3.1


def test_carrying_positions_carry_the_interval_at_their_peak_layer():
    grid = np.array([[1.0, 0.0], [0.6, 0.7]])
    ci = {"low": [[0.8, None], [0.4, 0.5]], "high": [[1.1, None], [0.7, 0.9]]}
    found = aggregate.carrying_with_intervals(grid, ["-2 France", "-1 \\n"], ci, n_pairs=5)
    assert [(f["position"], f["peak_layer"], f["interval"]["low"], f["interval"]["high"]) for f in found] == [
        ("-2 France", 0, 0.8, 1.1),
        ("-1 \\n", 1, 0.5, 0.9),
    ]


def _trace(pair_id: str, resid: list[list[float]], columns: list[str], positions: tuple[int, ...], drop: float = 1.0):
    from interp.study.pair_studies import PairTrace

    grid = np.array(resid, dtype=float)
    return PairTrace(pair_id, {"resid_pre": grid, "attn_out": grid * 0, "mlp_out": grid / 2}, positions, columns, drop, {})


def test_tracing_by_role_means_positions_within_a_role_and_weights_pairs_by_their_drop():
    # Pair 1: 5 positions, traced from position 2 (the subject's two tokens before it count as 0).
    one = _trace("a", [[1.0, 0.2, 0.0], [0.0, 0.6, 1.0]], ["prefix", "subject first", "subject last", "relation", "last"], (2, 3, 4))
    # Pair 2: a one-token subject (its own last), traced from position 1.
    two = _trace("b", [[0.5, 0.1, 0.0], [0.1, 0.3, 0.8]], ["prefix", "subject last", "relation", "last"], (1, 2, 3), drop=3.0)
    table = one.by_role()["resid_pre"]
    assert table.shape == (2, 10) and np.isnan(table[0, 2])  # no middle subject token
    assert table[0, 1] == 0.0 and table[0, 3] == 1.0 and table[1, 9] == 1.0  # untraced = 0, traced = its value
    summary = causal_summaries.tracing_summary([one, two, _trace("c", [[1.0]], ["last"], (0,), drop=-1.0)], {"kind": "noise"}, seed=0, n_resamples=50)
    assert summary["n_pairs"] == 2 and summary["excluded_no_drop"] == ["c"]
    assert summary["roles"] == ["prefix", "subject first", "subject last", "relation", "last"]
    resid = np.array(summary["sites"]["resid"]["mean"], dtype=float)
    # subject last at layer 0: pair 1 gives 1.0, pair 2 gives 0.5; weights 1 and 3: (1 + 1.5) / 4.
    assert resid[0, 2] == pytest.approx(2.5 / 4)
    assert resid[0, 1] == pytest.approx(0.0)  # only pair 1 has a first subject token (untraced there: 0)
    assert np.array(summary["sites"]["mlp"]["mean"], dtype=float)[0, 2] == pytest.approx(2.5 / 8)
    assert [r["role"] for r in summary["carrying_roles"]] == ["subject last", "last"]


def test_knockout_peak_and_its_intervals():
    from interp.study.pair_studies import PairKnockout

    knockouts = [
        PairKnockout(f"p{i}", {"subject": np.array([0.1, 0.6 + 0.01 * i, 0.2]), "object": np.array([0.0, 0.1, 0.05])}, 1, {}) for i in range(6)
    ]
    summary = causal_summaries.knockout_summary(knockouts, n_layers=3, seed=0, n_resamples=100)
    assert summary["roles"] == ["subject", "object"] and summary["window"] == 1
    peak = summary["peak"]
    assert (peak["role"], peak["layer"], peak["fraction_of_depth"]) == ("subject", 1, pytest.approx(2 / 3))
    assert peak["drop"]["estimate"] == pytest.approx(0.625) and 0.6 <= peak["drop"]["low"] <= 0.625 <= peak["drop"]["high"] <= 0.65
    assert (peak["layer_interval"]["low"], peak["layer_interval"]["high"], peak["layer_interval"]["wide"]) == (1.0, 1.0, False)
    assert summary["drop"]["object"]["mean"] == pytest.approx([0.0, 0.1, 0.05])


def test_role_ends_and_untraced_positions_do_not_count():
    from interp.study.pair_studies import role_ends

    roles = ["prefix", "prefix", "subject", "relation", "relation", "relation", "object", "object", "object", "suffix", "suffix", "suffix", "last"]
    assert role_ends(roles, 6) == [6, 8, 9, 11, 12]  # the object's ends, the suffix's ends, the last position
    columns = ["prefix", "prefix", "subject last", "relation", "relation", "object first", "object", "object last", "last"]
    # Traced: the object's first and last tokens and the last position; the middle object token is not traced.
    trace = _trace("a", [[0.2, 0.8, 1.0], [0.0, 0.4, 0.5]], columns, (5, 7, 8))
    table = trace.by_role()["resid_pre"]
    assert np.isnan(table[0, 6])  # "object" (the middle token): not traced, not 0
    assert (table[0, 5], table[0, 7], table[0, 9], table[0, 4]) == (0.2, 0.8, 1.0, 0.0)  # relation: before the noise, exactly 0
