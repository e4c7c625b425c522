"""The report's statistics against hand-computed numbers."""

from __future__ import annotations

import numpy as np
import pytest

from interp import aggregate


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
