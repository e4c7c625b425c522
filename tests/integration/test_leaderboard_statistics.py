"""The leaderboard's statistics on hand-made runs: intervals beside every number, rank intervals and ties,
the Holm-corrected significance matrix, per-relation MDE, the bias corrections, in CSV, Markdown and page."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from support.runs import with_true_log_odds

from fk_bench.leaderboard import collect_rows, render
from fk_bench.leaderboard.uncertainty import significance
from fk_bench.stats.intervals import wilson_interval
from fk_bench.stats.power import minimum_detectable_difference

COMMITTED = Path(__file__).parents[2] / "leaderboard" / "results" / "random-gemma-3-270m" / "results.json"


def _run(base: dict, name: str, true_log_odds: np.ndarray) -> dict:
    """A copy of ``base`` as model ``name`` with these log(p_True/p_False), every figure recomputed from its rows."""
    return with_true_log_odds(base, [float(v) for v in true_log_odds], name=name)


@pytest.fixture(scope="module")
def board(tmp_path_factory) -> tuple[pd.DataFrame, Path]:
    """Three runs on the same 120 questions (60 pairs): one knows every pair, two flip coins (ties of each other)."""
    base = json.loads(COMMITTED.read_text(encoding="utf-8"))
    base["questions"] = base["questions"][:120]
    labels = np.array([row["answer"] for row in base["questions"]])
    rng = np.random.default_rng(0)
    root = tmp_path_factory.mktemp("stats-board")
    runs = {
        "knows": np.where(labels, 2.0, -2.0) + rng.normal(0, 0.1, labels.size) + 3.0,  # right on every pair, says yes to all
        "coin-a": rng.normal(0, 1, labels.size),
        "coin-b": rng.normal(0, 1, labels.size),
    }
    for name, values in runs.items():
        folder = root / name
        folder.mkdir()
        (folder / "results.json").write_text(json.dumps(_run(base, name, values)), encoding="utf-8")
    return collect_rows([root]), root


def test_every_number_has_its_interval(board):
    table, _ = board
    knows = table[table["model"] == "knows"].iloc[0]
    assert knows["paired_accuracy"] == 1.0 and knows["paired_accuracy_low"] <= 1.0 == knows["paired_accuracy_high"]
    assert (knows["accuracy_low"], knows["accuracy_high"]) == pytest.approx(wilson_interval(round(knows["accuracy"] * 120), 120))
    for metric in ("paired_accuracy", "accuracy", "yes_rate", "auroc", "log_odds", "brier"):
        assert (table[f"{metric}_low"] <= table[metric] + 1e-12).all() and (table[metric] <= table[f"{metric}_high"] + 1e-12).all(), metric


def test_rank_intervals_and_ties(board):
    table, _ = board
    by_model = table.set_index("model")
    assert (by_model.loc["knows", "rank_low"], by_model.loc["knows", "rank_high"]) == (1, 1)
    assert by_model.loc["coin-a", "rank_low"] == 2 and by_model.loc["coin-b", "rank_high"] == 3
    assert by_model.loc["coin-a", "rank_high"] == 3 and by_model.loc["coin-b", "rank_low"] == 2, "two coins cannot be ranked apart"


def test_significance_is_holm_corrected_mcnemar(board):
    table, _ = board
    matrix = significance(table)[1]
    names = [table.loc[i, "model"] for i in matrix.rows]
    knows, coin = names.index("knows"), names.index("coin-a")
    assert matrix.p[knows, coin] < 0.05 and matrix.delta[knows, coin] > 0 and matrix.delta[coin, knows] < 0
    assert matrix.p[names.index("coin-a"), names.index("coin-b")] > 0.05
    assert np.isnan(np.diag(matrix.p)).all()


def test_bias_correction_recovers_the_yes_sayer(board):
    table, _ = board
    knows = table[table["model"] == "knows"].iloc[0]
    assert knows["yes_rate"] == 1.0 and knows["accuracy"] == 0.5
    assert knows["batch_calibrated_accuracy"] == 1.0 and knows["batch_calibrated_yes_rate"] == 0.5


def test_csv_puts_each_interval_beside_its_number(board, tmp_path):
    table, _ = board
    csv = pd.read_csv(render(table, tmp_path / "board.csv"))
    columns = list(csv.columns)
    for metric in ("paired_accuracy", "accuracy", "auroc", "rank"):
        at = columns.index(metric)
        assert columns[at + 1 : at + 3] == [f"{metric}_low", f"{metric}_high"], metric
    assert "evidence" not in columns


def test_markdown_shows_value_interval_rank_interval_and_significance(board, tmp_path):
    table, _ = board
    text = render(table, tmp_path / "board.md").read_text()
    first = next(line for line in text.splitlines() if line.startswith("| 1 |"))
    assert re.search(r"\| 1\.000 \[\d\.\d\d, 1\.00\] \|", first), first
    assert re.search(r"\| 2 \| 2-3 ≈ \|", text), "a tied rank interval is marked"
    assert "Significance (exact McNemar" in text and "▲" in text and "▼" in text
    assert "Bias and calibration:" in text


def test_relation_mde_follows_its_pairs(tmp_path):
    from fk_bench.leaderboard.uncertainty import row_statistics
    from fk_bench.results import read_results

    result = read_results(COMMITTED)
    stats = row_statistics(result)
    relation, summary = next(iter(result.per_relation.items()))
    assert stats[f"paired_accuracy_mde[{relation}]"] == pytest.approx(minimum_detectable_difference(summary.n_pairs))
    assert stats[f"paired_accuracy[{relation}]_low"] <= summary.paired_accuracy <= stats[f"paired_accuracy[{relation}]_high"]
    assert len(stats["evidence"].verdicts) == result.summary.n_pairs
    assert sum(stats["evidence"].diagram["count"]) == result.summary.n_questions
