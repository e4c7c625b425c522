"""Helpers for tests that compare the fk_yesno lm-eval task with ``fk-bench eval``: run lm-eval, read
its output, and assert per-question and corpus-level numbers equal fk-bench's within 1e-4."""

from __future__ import annotations

import functools
import json
import math
from pathlib import Path

import numpy as np
import pytest

from fk_bench import metrics
from fk_bench.results import RunResult
from fk_bench.stats import calibration
from fk_bench.task_plugin import lm_eval_name, tasks_dir

PER_QUESTION = [name for name, metric in metrics.METRICS.items() if metric.per_question]
CORPUS = [name for name, metric in metrics.METRICS.items() if not metric.per_question]


@functools.cache
def task_manager():
    """Only our task folder: indexing lm-eval's own thousands of task files takes longer than the tests."""
    from lm_eval.tasks import TaskManager

    return TaskManager(include_path=str(tasks_dir()), include_defaults=False)


def run_lm_eval(lm, task: str | list[str], limit: int | None = None, apply_chat_template: bool = False) -> dict:
    """``lm_eval.simple_evaluate`` in this process, with the samples logged."""
    import lm_eval

    return lm_eval.simple_evaluate(
        model=lm,
        tasks=[task] if isinstance(task, str) else task,
        task_manager=task_manager(),
        log_samples=True,
        limit=limit,
        apply_chat_template=apply_chat_template,
    )


def sorted_samples(out: dict, task: str) -> list[dict]:
    return sorted(out["samples"][task], key=lambda s: s["doc_id"])


def read_samples(out_dir: Path, task: str) -> list[dict]:
    """The logged samples of ``task`` from an ``lm_eval --log_samples --output_path out_dir`` run."""
    sample_file = next(out_dir.rglob(f"samples_{task}_*.jsonl"))
    return sorted((json.loads(line) for line in sample_file.read_text().splitlines()), key=lambda s: s["doc_id"])


def read_results(out_dir: Path) -> dict:
    return json.loads(next(out_dir.rglob("results_*.json")).read_text())


def assert_same_numbers(samples: list[dict], native: RunResult) -> None:
    """Every per-question metric and log(p_True/p_False) of every question within 1e-4."""
    table = native.frame
    assert len(samples) == len(table)
    for sample, (_, row) in zip(samples, table.iterrows()):
        assert sample["doc"]["question"] == row["question"]
        for name in PER_QUESTION:
            assert sample[lm_eval_name(name)] == pytest.approx(row[name], abs=1e-4), (row["question"], name)
        for name in CORPUS:
            if name not in sample:
                assert metrics.METRICS[name].paraphrase_only, name
                continue
            true_log_odds, label, pair_id, _ = sample[name]
            assert true_log_odds == pytest.approx(row["true_log_odds"], abs=1e-4) and label == row["answer"], (row["question"], name)
            assert pair_id == row["pair_id"] or (pair_id is None and not isinstance(row["pair_id"], str)), row["question"]


def assert_same_aggregates(result: dict, native: RunResult) -> None:
    """A task's reported numbers are fk_bench.metrics' on the native log-odds; an absent one (None) is NaN."""
    table = native.frame
    t_vs_f, labels = table["true_log_odds"].to_numpy(), table["answer"].to_numpy(dtype=bool)
    expected = {
        "yes_rate": metrics.yes_rate(t_vs_f),
        "paired_accuracy": metrics.paired_accuracy(t_vs_f, native.pairs),
        "auroc": metrics.auroc(t_vs_f, labels),
        "ece": metrics.expected_calibration_error(table["p_true"].to_numpy(), labels),
        "ece_adaptive": calibration.adaptive_ece(table["p_true"].to_numpy(), labels),
        "aurc": calibration.aurc(t_vs_f, table["accuracy"].to_numpy()),
        **{f"brier_{k}": v for k, v in calibration.brier_decomposition(table["p_true"].to_numpy(), labels).items()},
    }
    assert set(expected) == {name for name in CORPUS if not metrics.METRICS[name].paraphrase_only}, (
        "a new corpus-level metric needs its lm-eval aggregation checked here"
    )
    for name, value in expected.items():
        reported = result[f"{lm_eval_name(name)},none"]
        if value is None:
            assert math.isnan(reported), name
        else:
            assert reported == pytest.approx(value, abs=1e-4), name
    for name in PER_QUESTION:
        assert result[f"{lm_eval_name(name)},none"] == pytest.approx(float(np.mean(table[name])), abs=1e-4), name
    calibrated = native.summary.batch_calibration
    assert calibrated is not None and result["batch_calibrated_accuracy,none"] == pytest.approx(calibrated.accuracy, abs=1e-4)
