"""``fk-bench compare-runs``: one JSON object with paired intervals and exact McNemar, and one-line refusals."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import binomtest
from support.runs import with_true_log_odds

from fk_bench.cli import main

COMMITTED = Path(__file__).parents[2] / "leaderboard" / "results" / "random-gemma-3-270m" / "results.json"
KEYS = {"a", "b", "delta", "ci_low", "ci_high", "n", "a_only", "b_only", "p_value"}


@pytest.fixture(scope="module")
def base() -> dict:
    """A committed result cut to its first 40 questions (whole pairs): hand-made runs start from it."""
    data = json.loads(COMMITTED.read_text(encoding="utf-8"))
    data["questions"] = data["questions"][:40]
    return with_true_log_odds(data)


def _write(tmp_path: Path, name: str, data: dict) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "results.json").write_text(json.dumps(data), encoding="utf-8")
    return folder


def _with_log_odds(data: dict, true_log_odds: list[float]) -> dict:
    """A copy whose questions have the given log(p_True/p_False), every figure recomputed from its rows."""
    return with_true_log_odds(data, true_log_odds)


def _run_json(capsys, *args: str) -> dict:
    assert main(["compare-runs", *map(str, args), "--json", "--resamples", "200"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1, "exactly one JSON object on one line"
    return json.loads(out)


def test_json_holds_paired_scores_with_mcnemar(tmp_path, capsys, base):
    labels = [row["answer"] for row in base["questions"]]
    rng = np.random.default_rng(0)
    a_lo = [float(v) for v in np.where(labels, 1.0, -1.0) * rng.uniform(0.1, 2, len(labels))]  # A gets every question right
    b_lo = [float(v) for v in rng.normal(0, 1, len(labels))]
    a, b = _write(tmp_path, "a", _with_log_odds(base, a_lo)), _write(tmp_path, "b", _with_log_odds(base, b_lo))
    result = _run_json(capsys, a, b)
    assert set(result["accuracy"]) >= KEYS and set(result["paired_accuracy"]) >= KEYS
    accuracy = result["accuracy"]
    b_right = np.where(labels, np.array(b_lo) > 0, np.array(b_lo) < 0)
    assert accuracy["a"] == 1.0 and accuracy["b"] == pytest.approx(b_right.mean()) and accuracy["n"] == 40
    assert (accuracy["a_only"], accuracy["b_only"]) == (int((~b_right).sum()), 0)
    assert accuracy["p_value"] == pytest.approx(binomtest(accuracy["a_only"], accuracy["a_only"], 0.5).pvalue)
    assert accuracy["delta"] == pytest.approx(accuracy["a"] - accuracy["b"]) and accuracy["ci_low"] <= accuracy["delta"] <= accuracy["ci_high"]
    paired = result["paired_accuracy"]
    assert paired["n"] == 20 and paired["a"] == 1.0 and paired["b_only"] == 0
    assert result["bootstrap"]["n_resamples"] == 200 and result["n_shared_questions"] == 40


def test_a_run_against_itself_differs_by_nothing(tmp_path, capsys, base):
    a = _write(tmp_path, "a", base)
    result = _run_json(capsys, a, a)
    for name in ("accuracy", "paired_accuracy"):
        assert result[name]["delta"] == 0 and result[name]["p_value"] == 1.0 and result[name]["a_only"] == result[name]["b_only"] == 0
    assert main(["compare-runs", str(a), str(a)]) == 0
    assert "McNemar" in capsys.readouterr().out


def test_only_shared_questions_count(tmp_path, capsys, base):
    half = copy.deepcopy(base)
    half["questions"] = half["questions"][:20]
    half = with_true_log_odds(half)
    result = _run_json(capsys, _write(tmp_path, "a", base), _write(tmp_path, "b", half))
    assert result["accuracy"]["n"] == 20 and result["paired_accuracy"]["n"] == 10


def _refused(capsys, a: Path, b: Path, match: str) -> None:
    assert main(["compare-runs", str(a), str(b), "--json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1 and match in captured.err, captured.err


def test_refusals_are_one_line(tmp_path, capsys, base):
    a = _write(tmp_path, "a", base)
    other_version = copy.deepcopy(base)
    other_version["spec"]["dataset"]["version"] = "1.0.0"
    _refused(capsys, a, _write(tmp_path, "v1", other_version), "compare runs of one dataset version")
    disjoint = copy.deepcopy(base)
    for row in disjoint["questions"]:
        row["id"] = "other-" + row["id"]
    _refused(capsys, a, _write(tmp_path, "disjoint", disjoint), "share no question")
    changed = copy.deepcopy(base)
    changed["questions"][3]["question"] = "Is this another question?"
    _refused(capsys, a, _write(tmp_path, "changed", changed), "reads differently")
    twice = copy.deepcopy(base)
    twice["questions"][1]["id"] = twice["questions"][0]["id"]
    _refused(capsys, _write(tmp_path, "twice", twice), a, "more than once")
    broken = tmp_path / "broken.json"
    broken.write_bytes(b"\xff\xfe not json")
    assert main(["compare-runs", str(broken), str(a)]) == 2
    assert main(["compare-runs", str(tmp_path / "missing"), str(a)]) == 2
    assert main(["compare-runs", str(a), str(a), "--resamples", "1000000000"]) == 2
    assert "between 1 and 10,000" in capsys.readouterr().err
