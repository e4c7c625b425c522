"""Truth probes on synthetic activations with a PLANTED truth direction: recovery, pair-grouped folds, the
shuffled control at chance, the nested layer choice, the gap and the domain transfer."""

from __future__ import annotations

import numpy as np
import pytest

from interp.probes.fitting import (
    FITS,
    choose_layers,
    cosine,
    fit_logistic,
    inner_paired_accuracy,
    mass_mean_direction,
    out_of_fold,
    pair_folds,
    per_pair,
    score_layer,
    shuffled_labels,
)
from interp.probes.gap import gap_json, gaps_by_relation, knows_but_does_not_say
from interp.probes.transfer import transfer_json

D = 32


def planted(n_pairs: int = 120, strength: float = 2.5, seed: int = 0, direction: np.ndarray | None = None, dimensions: int = D):
    """Rows in pair order (true, false): a shared per-fact vector, noise, and +/- ``strength`` x the truth direction."""
    rng = np.random.default_rng(seed)
    v = direction if direction is not None else rng.normal(size=dimensions)
    v = v / np.linalg.norm(v)
    fact = np.repeat(rng.normal(size=(n_pairs, len(v))), 2, axis=0)
    y = np.tile([True, False], n_pairs)
    x = fact + rng.normal(size=(2 * n_pairs, len(v))) * 0.5 + np.where(y, strength, -strength)[:, None] * v
    return x, y, np.repeat(np.arange(n_pairs), 2), v


def test_mass_mean_recovers_the_planted_direction():
    x, y, _, v = planted()
    direction, _ = mass_mean_direction(x, y)
    assert cosine(direction, v) > 0.9


def test_logistic_probe_reads_the_planted_direction_out_of_fold():
    x, y, groups, _ = planted()
    scores = out_of_fold(x, y, pair_folds(groups), fit_logistic)
    accuracy, paired = per_pair(scores, y)
    assert accuracy.mean() > 0.95 and paired.mean() > 0.95


def test_grouped_folds_never_split_a_pair():
    for n_pairs in (2, 3, 7, 120):
        groups = np.repeat(np.arange(n_pairs), 2)
        folds = pair_folds(groups)
        for pair in range(n_pairs):
            assert len(set(folds[groups == pair])) == 1
        assert len(set(folds)) == min(5, n_pairs)


def test_shuffled_control_sits_at_chance_while_the_probe_does_not():
    # 128 dimensions: a control probe's random direction then meets the truth direction only weakly, as in a real residual stream
    x, y, groups, _ = planted(n_pairs=200, dimensions=128)
    folds = pair_folds(groups)
    control = shuffled_labels(y, groups, np.random.default_rng(0))
    assert (control[0::2] != control[1::2]).all()  # one true, one false per pair: pairs and balance kept
    assert (control[0::2] != y[0::2]).sum() == 100  # exactly half the pairs swapped
    for fit in FITS.values():
        real = score_layer(out_of_fold(x, y, folds, fit), y, 0, 0)
        shuffled = score_layer(out_of_fold(x, y, folds, fit, np.random.default_rng(0)), y, 0, 0)
        assert real.accuracy > 0.95
        assert abs(shuffled.accuracy - 0.5) < 0.08


def test_per_pair_refuses_rows_out_of_pair_order():
    with pytest.raises(ValueError, match="pairs"):
        per_pair(np.zeros(4), np.array([False, True, True, False]))


def test_paired_verdict_counts_a_tie_half():
    accuracy, paired = per_pair(np.array([1.0, 1.0, 2.0, -1.0]), np.array([True, False, True, False]))
    assert paired.tolist() == [0.5, 1.0]
    assert accuracy.tolist() == [0.5, 1.0]


def test_inner_choice_never_reads_the_outer_fold():
    x, y, groups, _ = planted(n_pairs=60)
    folds = pair_folds(groups)
    poisoned = x.copy()
    poisoned[folds == 0] = np.nan  # anything read from fold 0 would turn the result into NaN
    value = inner_paired_accuracy(poisoned, y, folds, 0)
    assert np.isfinite(value) and value > 0.9


def test_choose_layers_takes_each_folds_inner_best_and_the_most_common():
    inner = np.array([[0.5, 0.9, 0.7], [0.5, 0.6, 0.8], [0.4, 0.95, 0.9]])
    chosen, best = choose_layers(inner)
    assert chosen.tolist() == [1, 2, 1] and best == 1


def test_score_layer_interval_brackets_the_estimate():
    x, y, groups, _ = planted(n_pairs=80, strength=0.3)
    found = score_layer(out_of_fold(x, y, pair_folds(groups), fit_logistic), y, 0, 200)
    assert found.ci_low is not None and found.ci_high is not None
    assert found.ci_low <= found.paired_accuracy <= found.ci_high


def test_gap_names_the_relation_the_probe_knows_and_the_output_does_not():
    probe = np.ones(40)
    output = np.r_[np.full(20, 0.0), np.ones(20)]
    relations = ["hidden"] * 20 + ["said"] * 20
    per_relation = gaps_by_relation(probe, output, relations, 0, 200)
    assert per_relation["hidden"]["value"] == pytest.approx(1.0)
    assert per_relation["said"]["value"] == pytest.approx(0.0)
    assert knows_but_does_not_say(per_relation) == ["hidden"]
    overall = gap_json(probe, output, 0, 200)
    assert overall["value"] == pytest.approx(0.5) and overall["ci_low"] < 0.5 < overall["ci_high"]


def test_transfer_is_high_across_domains_sharing_the_direction_and_chance_across_one_that_does_not():
    rng = np.random.default_rng(1)
    shared, other = rng.normal(size=D), rng.normal(size=D)
    other -= other @ shared / (shared @ shared) * shared  # orthogonal to the shared direction
    parts = [planted(60, seed=s, direction=d) for s, d in ((2, shared), (3, shared), (4, other))]
    x = np.concatenate([p[0] for p in parts])
    y = np.concatenate([p[1] for p in parts])
    groups = np.concatenate([p[2] + 1000 * k for k, p in enumerate(parts)])
    domains = ["geo"] * 120 + ["people"] * 120 + ["science"] * 120
    found = transfer_json(x, y, groups, domains, probe="mass_mean")
    assert found["domains"] == ["geo", "people", "science"]
    matrix = np.array(found["matrix"], dtype=float)
    assert matrix[0, 1] > 0.9 and matrix[1, 0] > 0.9 and np.diag(matrix).min() > 0.9
    assert abs(matrix[0, 2] - 0.5) < 0.15
    assert set(found["leave_one_out"]) == {"geo", "people", "science"}


def test_transfer_leaves_out_a_domain_with_one_pair():
    x, y, groups, _ = planted(n_pairs=10)
    domains = ["geo"] * 18 + ["tiny"] * 2
    found = transfer_json(x, y, groups, domains, probe="mass_mean")
    assert found["domains"] == ["geo"] and found["left_out"] == {"tiny": 1} and found["leave_one_out"] == {}


def test_pairs_of_one_fact_share_a_group_and_never_split():
    from interp.probes.inputs import fact_index

    fact_ids = ["f1", "f1", "f2", None, "", "f2", "f3"]  # two wordings of f1 and of f2; two pairs with no fact id
    facts = fact_index(fact_ids, [f"p{i}" for i in range(7)])
    assert facts[0] == facts[1] and facts[2] == facts[5] and len(set(facts.tolist())) == 5
    groups = np.repeat(facts, 2)
    folds = pair_folds(groups)
    assert folds[0] == folds[2] and folds[4] == folds[10]  # rows of pairs 0 and 1 (fact f1), of pairs 2 and 5 (fact f2)


def test_fact_interval_resamples_facts_not_pairs():
    from interp.probes.fitting import fact_interval

    values = np.r_[np.ones(50), np.zeros(50)]
    by_pair = fact_interval(values, None, 0, 300)
    two_facts = fact_interval(values, np.r_[np.zeros(50, dtype=int), np.ones(50, dtype=int)], 0, 300)
    assert by_pair[0] is not None and by_pair[1] is not None and by_pair[1] - by_pair[0] < 0.3
    assert two_facts[0] == 0.0 and two_facts[1] == 1.0  # two facts: the resample is all one or all the other
