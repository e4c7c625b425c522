"""lm-eval against ``fk-bench eval`` on the same questions, model and dtype (float32), ratios in one run.

- ``test_in_process``: one HF model object, wrapped by lm-eval's HFLM and used by the native evaluator;
  lm-eval's clock covers ``lm_eval.evaluator.evaluate`` (requests, scoring, metrics), its tasks built
  before; the native clock covers ``fk_bench.evaluation.evaluate``, the questions loaded before.
- ``test_whole_process``: both command lines as a user runs them, in fresh processes, model load and
  imports included: ``lm_eval ... --tasks fk_yesno_<relation>,... --limit N`` (N questions of each of the 9 relations)
  against ``fk-bench eval`` on the same questions (written to a parquet file first); plain prompts on the
  embedded model, and ``--apply_chat_template`` against ``--prompt-format chat`` on SmolLM2. Both write
  their per-question numbers, which must agree within 1e-4.

    pytest benchmarks/bench_lm_eval_vs_native.py --benchmark-only
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from measure import RELATIONS, relation_slice, run_command, spread, venv_command

LM_EVAL_BATCH_SIZE = 32
NATIVE_BATCH_SIZE = 128
TASKS = [f"fk_yesno_{relation}" for relation in RELATIONS]
"""lm-eval's tasks of the relations ``relation_slice`` takes questions from: both sides score the same
questions (the ``fk_yesno`` group holds every relation of the dataset, more than these)."""


def _lm_eval_log_odds(out_dir: Path) -> dict[str, float]:
    samples = [json.loads(line) for f in out_dir.rglob("samples_*.jsonl") for line in f.read_text().splitlines()]
    return {s["doc"]["id"]: s["log_odds"] for s in samples}


def test_in_process(models, figure, benchmark, pytestconfig, tmp_path):
    from lm_eval.evaluator import evaluate as lm_eval_evaluate
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    from fk_bench.answer_groups import DEFAULT_GROUPS
    from fk_bench.data import load_questions
    from fk_bench.evaluation import evaluate
    from fk_bench.task_plugin import tasks_dir

    per_relation = pytestconfig.getoption("--fk-per-relation")
    loaded = models.get("embedded", "float32")
    lm = HFLM(pretrained=loaded.model, tokenizer=loaded.tokenizer, batch_size=LM_EVAL_BATCH_SIZE)
    task_dict = TaskManager(include_path=str(tasks_dir()), include_defaults=False).load(TASKS)
    relation_slice(per_relation).to_parquet(tmp_path / "slice.parquet")
    questions = load_questions(str(tmp_path / "slice.parquet"))  # what the native evaluator takes

    def run():
        lm_eval_times, native_times = [], []
        for _ in range(pytestconfig.getoption("--fk-repeats")):
            start = time.perf_counter()
            out = lm_eval_evaluate(lm=lm, task_dict=task_dict, limit=per_relation, log_samples=True)
            lm_eval_times.append(time.perf_counter() - start)
            start = time.perf_counter()
            native = evaluate(loaded, questions, DEFAULT_GROUPS, batch_size=NATIVE_BATCH_SIZE, progress=False)
            native_times.append(time.perf_counter() - start)
        return lm_eval_times, native_times, out, native

    lm_eval_times, native_times, out, native = benchmark.pedantic(run, rounds=1, iterations=1)
    lm_eval_log_odds = {s["doc"]["id"]: s["log_odds"] for task in out["samples"].values() for s in task}
    assert len(lm_eval_log_odds) == len(questions), "lm-eval and fk-bench must score the same questions"
    diffs = np.abs([lm_eval_log_odds[i] - v for i, v in zip(native.frame["id"], native.frame["log_odds"])])
    n = len(questions)
    figure += [
        f"embedded float32, {n} questions ({per_relation} per relation), batch lm-eval {LM_EVAL_BATCH_SIZE}, native {NATIVE_BATCH_SIZE}",
        f"lm-eval evaluate {spread(lm_eval_times)} s ({spread([n / t for t in lm_eval_times], 1)} q/s)",
        f"fk-bench evaluate {spread(native_times)} s ({spread([n / t for t in native_times], 1)} q/s)",
        f"speed-up {spread([a / b for a, b in zip(lm_eval_times, native_times)])}x; max |log_odds difference| {diffs.max():.1e}",
    ]
    assert len(diffs) == n and diffs.max() < 1e-4


@pytest.mark.parametrize("zoo_model,prompt_format", [("embedded", "plain"), ("smollm2-135m-instruct", "chat")])
def test_whole_process(zoo_model, prompt_format, models, figure, benchmark, pytestconfig, tmp_path):
    from fk_bench.models import resolve_model_dir
    from fk_bench.task_plugin import tasks_dir

    models.release()  # the subprocesses load their own copies
    per_relation = pytestconfig.getoption("--fk-per-relation")
    questions = relation_slice(per_relation)
    slice_file = tmp_path / "slice.parquet"
    questions.to_parquet(slice_file)
    env = dict(os.environ)
    if pytestconfig.getoption("--fk-threads"):
        env["OMP_NUM_THREADS"] = str(pytestconfig.getoption("--fk-threads"))
    model_dir = resolve_model_dir(zoo_model)

    def lm_eval_command(out: Path) -> list[str]:
        chat = ["--apply_chat_template"] if prompt_format == "chat" else []
        return [
            venv_command("lm_eval"),
            "--model",
            "hf",
            "--model_args",
            f"pretrained={model_dir},dtype=float32",
            "--tasks",
            ",".join(TASKS),
            "--include_path",
            str(tasks_dir()),
            "--limit",
            str(per_relation),
            "--batch_size",
            str(LM_EVAL_BATCH_SIZE),
            "--device",
            "cpu",
            "--output_path",
            str(out),
            "--log_samples",
            *chat,
        ]

    def native_command(out: Path) -> list[str]:
        return [
            venv_command("fk-bench"),
            "eval",
            "--model",
            zoo_model,
            "--dataset",
            str(slice_file),
            "--dtype",
            "float32",
            "--device",
            "cpu",
            "--prompt-format",
            prompt_format,
            "--batch-size",
            str(NATIVE_BATCH_SIZE),
            "--out",
            str(out),
        ]

    def run():
        lm_eval_times, native_times = [], []
        for r in range(pytestconfig.getoption("--fk-repeats")):
            lm_eval_times.append(run_command(lm_eval_command(tmp_path / f"lm_eval{r}"), tmp_path, env))
            native_times.append(run_command(native_command(tmp_path / f"native{r}"), tmp_path, env))
        return lm_eval_times, native_times

    lm_eval_times, native_times = benchmark.pedantic(run, rounds=1, iterations=1)
    lm_eval_log_odds = _lm_eval_log_odds(tmp_path / "lm_eval0")
    assert len(lm_eval_log_odds) == len(questions), "lm-eval and fk-bench must score the same questions"
    table = pd.read_csv(next((tmp_path / "native0").rglob("questions.csv")))
    diffs = np.abs([lm_eval_log_odds[i] - v for i, v in zip(table["id"], table["log_odds"])])
    n = len(questions)
    figure += [
        f"{zoo_model} float32, {prompt_format}, {n} questions ({per_relation} per relation), whole processes",
        "lm_eval: " + " ".join(lm_eval_command(Path("OUT"))).replace(str(Path(venv_command("lm_eval")).parent) + "/", ""),
        "fk-bench: "
        + " ".join(native_command(Path("OUT")))
        .replace(str(Path(venv_command("fk-bench")).parent) + "/", "")
        .replace(str(slice_file), "SLICE.parquet"),
        f"lm_eval {spread(lm_eval_times, 1)} s, fk-bench eval {spread(native_times, 1)} s, "
        f"speed-up {spread([a / b for a, b in zip(lm_eval_times, native_times)])}x (goal >= 6, issue 20)",
        f"max |log_odds difference| {diffs.max():.1e} over {len(diffs)} questions",
    ]
    assert len(diffs) == n
