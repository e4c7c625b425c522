"""The lm-eval task reports the same per-question numbers as ``fk-bench eval`` (single- and multi-token words)."""

import json
import subprocess
import sys

import numpy as np
import pytest

from fk_bench.answers import DEFAULT_GROUPS
from fk_bench.data import load_questions
from fk_bench.evaluation import evaluate
from fk_bench.task_plugin import tasks_dir

LIMIT = 24
METRICS = {"acc": "accuracy", "log_odds": "log_odds", "logit_diff": "logit_diff", "prob_diff": "prob_diff", "brier": "brier"}


def run_lm_eval(lm, task: str, limit: int | None = None) -> list[dict]:
    import lm_eval
    from lm_eval.tasks import TaskManager

    manager = TaskManager(include_path=str(tasks_dir()))
    out = lm_eval.simple_evaluate(model=lm, tasks=[task], task_manager=manager, log_samples=True, limit=limit)
    return sorted(out["samples"][task], key=lambda s: s["doc_id"])


def assert_same_numbers(samples: list[dict], native) -> None:
    assert len(samples) == len(native.questions)
    for sample, (_, row) in zip(samples, native.questions.iterrows()):
        assert sample["doc"]["question"] == row["question"]
        for lm_eval_name, native_name in METRICS.items():
            assert sample[lm_eval_name] == pytest.approx(row[native_name], abs=1e-4), (row["question"], lm_eval_name)
        assert sample["ece"][0] == pytest.approx(row["p_true"], abs=1e-4)


@pytest.fixture(scope="module")
def tiny_hflm(tiny_model):
    from lm_eval.models.huggingface import HFLM

    return HFLM(pretrained=tiny_model.model, tokenizer=tiny_model.tokenizer, batch_size=4)


@pytest.mark.parametrize("task, prompt_format", [("fk_yesno_paris", "plain"), ("fk_yesno_fewshot", "fewshot")])
def test_lm_eval_equals_native_on_tiny_model(tiny_model, tiny_hflm, task, prompt_format):
    samples = run_lm_eval(tiny_hflm, task, limit=LIMIT)
    config = "paris" if task.endswith("paris") else "all"
    questions = load_questions(config=config, limit=LIMIT)
    native = evaluate(tiny_model, questions, DEFAULT_GROUPS, prompt_format=prompt_format, fewshot_k=4, progress=False)
    assert native.word_tokens["multi_token"], "the tiny tokenizer splits some answer words"
    assert_same_numbers(samples, native)


def test_tasks_dir_holds_the_group_and_paris_task():
    names = {p.name for p in (tasks_dir() / "fk_yesno").iterdir()}
    assert {"fk_yesno_paris.yaml", "fk_yesno_fewshot.yaml", "utils.py", "README.md"} <= names


@pytest.mark.embedded
def test_stock_cli_on_exported_embedded_model(embedded_model, tmp_path):
    """``lm_eval --model hf`` on the exported embedded model, from another working directory."""
    from fk_bench.models import export_model

    model_dir = export_model("embedded", tmp_path / "gemma")
    command = [
        sys.executable, "-m", "lm_eval", "--model", "hf", "--model_args", f"pretrained={model_dir},dtype=float32",
        "--tasks", "fk_yesno_paris", "--include_path", str(tasks_dir()), "--device", "cpu", "--batch_size", "8",
        "--log_samples", "--output_path", str(tmp_path / "lm_eval_out"),
    ]
    subprocess.run(command, check=True, cwd=tmp_path, capture_output=True, text=True)
    sample_file = next((tmp_path / "lm_eval_out").rglob("samples_fk_yesno_paris_*.jsonl"))
    samples = sorted((json.loads(line) for line in sample_file.read_text().splitlines()), key=lambda s: s["doc_id"])
    native = evaluate(embedded_model, load_questions(config="paris"), DEFAULT_GROUPS, progress=False)
    assert_same_numbers(samples, native)
    results = json.loads(next((tmp_path / "lm_eval_out").rglob("results_*.json")).read_text())
    assert results["results"]["fk_yesno_paris"]["acc,none"] == pytest.approx(native.summary["accuracy"])
    assert np.isfinite(results["results"]["fk_yesno_paris"]["ece,none"])
