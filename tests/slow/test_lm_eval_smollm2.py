"""The stock ``lm_eval`` CLI with ``--apply_chat_template`` on a real instruct model (the zoo's
SmolLM2-135M-Instruct, exported as a plain Hugging Face folder) gives ``fk-bench eval --prompt-format
chat``'s numbers: every per-question metric of every question, and the task's aggregations."""

from __future__ import annotations

import subprocess
import sys

import pytest
from support.lm_eval_task import assert_same_aggregates, assert_same_numbers, read_results, read_samples

from fk_bench.answer_groups import DEFAULT_GROUPS
from fk_bench.data import load_questions
from fk_bench.evaluation import evaluate
from fk_bench.models.zoo_catalog import is_installed, zoo_model
from fk_bench.task_plugin import tasks_dir

MODEL = "smollm2-135m-instruct"
pytestmark = [
    pytest.mark.smollm2,
    pytest.mark.skipif(not is_installed(zoo_model(MODEL)), reason=f"not installed: {zoo_model(MODEL).gguf.pip_command}"),
]
RELATION = "capital_of"
LIMIT = 4  # two true questions and their twins: paired_accuracy has pairs to count


@pytest.fixture(scope="module")
def smollm2():
    from fk_bench.models import load_model

    return load_model(MODEL, device="cpu")


def test_stock_cli_apply_chat_template_equals_native_chat(smollm2, tmp_path):
    from fk_bench.models import export_model

    model_dir = export_model(MODEL, tmp_path / "smollm2")
    out_dir, task = tmp_path / "lm_eval_out", f"fk_yesno_{RELATION}"
    command = [
        sys.executable,
        "-m",
        "lm_eval",
        "--model",
        "hf",
        "--model_args",
        f"pretrained={model_dir},dtype=float32",
        "--tasks",
        task,
        "--include_path",
        str(tasks_dir()),
        "--apply_chat_template",
        "--limit",
        str(LIMIT),
        "--device",
        "cpu",
        "--batch_size",
        "16",
        "--log_samples",
        "--output_path",
        str(out_dir),
    ]
    subprocess.run(command, check=True, cwd=tmp_path, capture_output=True, text=True)

    questions = load_questions(config=RELATION, limit=LIMIT)
    native = evaluate(smollm2, questions, DEFAULT_GROUPS, prompt_format="chat", progress=False)
    assert native.answer_word_tokens.multi_token, "SmolLM2 splits some answer words: the multi-token path is compared too"
    assert_same_numbers(read_samples(out_dir, task), native)
    assert_same_aggregates(read_results(out_dir)["results"][task], native)
