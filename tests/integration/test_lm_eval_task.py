"""The lm-eval task reports the same numbers as ``fk-bench eval``: per question (every per-question
metric and p_true, single- and multi-token words) under the plain, fewshot and chat prompts, and the
corpus-level aggregations (yes_rate, paired_accuracy, auroc, ece) as fk_bench.metrics computes them."""

from __future__ import annotations

import dataclasses
import importlib.util
import math
import subprocess
import sys

import numpy as np
import pytest
from support import build_tiny_tokenizer
from support.lm_eval_task import (
    CORPUS,
    PER_QUESTION,
    assert_same_aggregates,
    assert_same_numbers,
    read_results,
    read_samples,
    run_lm_eval,
    sorted_samples,
)

from fk_bench import metrics
from fk_bench.answer_groups import DEFAULT_GROUPS
from fk_bench.data import load_questions
from fk_bench.evaluation import evaluate
from fk_bench.pair_index import PairIndex
from fk_bench.prompt_formats import build_prompt
from fk_bench.task_plugin import GROUP_MEAN_METRICS_EXTRA, lm_eval_name, tasks_dir

LIMIT = 24
CHAT_TEMPLATES = {
    # BOS and a system turn written by the template, a generation prompt ending in "\n" (HFLM moves it
    # into every continuation), like the ChatML templates of SmolLM2 and Qwen2.5.
    "ends-with-newline": (
        "{{ bos_token }}<|system|>\nAnswer briefly.<eos>\n"
        "{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}<eos>\n{% endfor %}"
        "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
    ),
    # No BOS (the tokenizer adds it) and nothing after the generation prompt: no delimiter to subtract.
    "ends-without-whitespace": "{% for m in messages %}{{ m['content'] }}{% endfor %}{% if add_generation_prompt %} Answer:{% endif %}",
}


def _load_task_module(name: str):
    path = tasks_dir() / "fk_yesno" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"fk_yesno_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def tiny_hflm(tiny_model):
    from lm_eval.models.huggingface import HFLM

    return HFLM(pretrained=tiny_model.model, tokenizer=tiny_model.tokenizer, batch_size=8)


@pytest.fixture(scope="module", params=list(CHAT_TEMPLATES))
def tiny_chat_model(request, tiny_model):
    """The tiny model with a chat template on its own copy of the tokenizer (the shared one has none)."""
    tokenizer = build_tiny_tokenizer()
    tokenizer.chat_template = CHAT_TEMPLATES[request.param]
    return dataclasses.replace(tiny_model, tokenizer=tokenizer)


@pytest.mark.parametrize("task, config, prompt_format", [("fk_yesno_paris", "paris", "plain"), ("fk_yesno_fewshot", "all", "fewshot")])
def test_lm_eval_equals_native_on_tiny_model(tiny_model, tiny_hflm, task, config, prompt_format):
    out = run_lm_eval(tiny_hflm, task, limit=LIMIT)
    questions = load_questions(config=config, limit=LIMIT)
    native = evaluate(tiny_model, questions, DEFAULT_GROUPS, prompt_format=prompt_format, fewshot_k=4, progress=False)
    assert native.answer_word_tokens.multi_token, "the tiny tokenizer splits some answer words"
    assert_same_numbers(sorted_samples(out, task), native)
    assert_same_aggregates(out["results"][task], native)


def test_apply_chat_template_equals_native_chat(tiny_chat_model):
    """``--apply_chat_template`` scores each word right after the template's generation prompt, as
    ``--prompt-format chat`` does: same token ids, same numbers (per question and aggregated)."""
    from lm_eval.models.huggingface import HFLM

    lm = HFLM(pretrained=tiny_chat_model.model, tokenizer=tiny_chat_model.tokenizer, batch_size=8)
    out = run_lm_eval(lm, "fk_yesno_paris", apply_chat_template=True)
    samples = sorted_samples(out, "fk_yesno_paris")
    questions = load_questions(config="paris")
    native = evaluate(tiny_chat_model, questions, DEFAULT_GROUPS, prompt_format="chat", progress=False)
    prompts = [build_prompt(q, "chat", tiny_chat_model.tokenizer) for q in questions["question"]]
    assert [s["arguments"][0][0] for s in samples] == prompts, "lm-eval's context is fk-bench's chat prompt"
    assert_same_numbers(samples, native)
    assert_same_aggregates(out["results"]["fk_yesno_paris"], native)


@pytest.mark.slow  # the fast lane leaves out the slowest tests (tests/conftest.py)
def test_group_means_are_corpus_values_and_corpus_only_metrics_stay_per_task(tiny_model, tiny_hflm):
    """The fk_yesno group's size-weighted means equal the metrics over all its questions; paired_accuracy,
    auroc and ece (not means over questions) are reported per relation only."""
    out = run_lm_eval(tiny_hflm, "fk_yesno", limit=3)
    group = out["results"]["fk_yesno"]
    subtasks = sorted(name for name in out["samples"])
    samples = [sample for task in subtasks for sample in sorted_samples(out, task)]
    assert len(samples) == 3 * len(subtasks)
    for name in PER_QUESTION:
        assert group[f"{lm_eval_name(name)},none"] == pytest.approx(np.mean([s[lm_eval_name(name)] for s in samples]), abs=1e-6)
    assert GROUP_MEAN_METRICS_EXTRA == ("yes_rate",)
    assert group["yes_rate,none"] == pytest.approx(metrics.yes_rate([s["yes_rate"][0] for s in samples]), abs=1e-6)
    for name in CORPUS:
        if metrics.METRICS[name].paraphrase_only:  # only the paraphrase task asks a fact in several wordings
            assert all(f"{lm_eval_name(name)},none" not in out["results"][task] for task in subtasks)
        elif name not in GROUP_MEAN_METRICS_EXTRA:
            assert f"{lm_eval_name(name)},none" not in group
            assert all(f"{lm_eval_name(name)},none" in out["results"][task] for task in subtasks)


def test_aggregations_call_fk_bench_metrics_with_pairs():
    """paired_accuracy counts only pairs whose both questions were evaluated; none -> NaN, never 0. Samples
    carry log(p_True/p_False), so a pair whose p_true both round to 1.0 is still told apart."""
    utils = _load_task_module("utils")
    items = [
        (2.2, True, "a", "f"),
        (-1.4, False, "a", "f"),
        (-0.4, True, "b", "f"),
        (-0.4, False, "b", "f"),
        (0.8, False, "c", "g"),
        (-0.8, True, None, "h"),
    ]
    t_vs_f = np.array([t for t, *_ in items])
    labels = np.array([label for _, label, *_ in items])
    index = PairIndex.from_ids([pair for _, _, pair, _ in items], labels)
    assert utils.paired_accuracy(items) == pytest.approx(0.75) == metrics.paired_accuracy(t_vs_f, index)
    assert utils.auroc(items) == pytest.approx(metrics.auroc(t_vs_f, labels))
    assert utils.yes_rate(items) == pytest.approx(2 / 6)
    assert utils.ece(items) == pytest.approx(metrics.expected_calibration_error(1 / (1 + np.exp(-t_vs_f)), labels))
    assert utils.paired_accuracy([(40.0, True, "a", None), (45.0, False, "a", None)]) == 0.0, "p_true is 1.0 for both; the twin wins"
    assert math.isnan(utils.paired_accuracy([(2.2, True, "a", None), (-1.4, False, "b", None), (0.0, True, None, None)]))
    assert math.isnan(utils.auroc([(2.2, True, "a", None), (-1.4, True, "b", None)]))
    # consistency over statements asked twice: (f, True) right twice -> agrees; (f, False) right then wrong -> disagrees
    paraphrased = [(1.0, True, "a0", "f"), (-1.0, False, "a0", "f"), (2.0, True, "a1", "f"), (0.5, False, "a1", "f")]
    assert utils.consistency(paraphrased) == pytest.approx(0.5)
    assert utils.paired_consistency(paraphrased) == 1.0  # the true question wins in both wordings
    assert math.isnan(utils.consistency(items[:2]))


def test_generated_yaml_is_up_to_date_with_the_metric_registry():
    generator = _load_task_module("_generate_configs")
    for name, text in generator.expected_files().items():
        assert (tasks_dir() / "fk_yesno" / name).read_text() == text, f"{name} is stale: run python tasks/fk_yesno/_generate_configs.py"
    template = generator.template_yaml()
    assert all(f"metric: {lm_eval_name(name)} " in template for name, metric in metrics.METRICS.items() if not metric.paraphrase_only)


def test_tasks_dir_holds_the_group_and_paris_task():
    names = {p.name for p in (tasks_dir() / "fk_yesno").iterdir()}
    assert {"_fk_yesno.yaml", "_fk_yesno_template_yaml", "fk_yesno_paris.yaml", "fk_yesno_fewshot.yaml", "utils.py", "README.md"} <= names


@pytest.mark.embedded
def test_stock_cli_on_exported_embedded_model(embedded_model, tmp_path):
    """``lm_eval --model hf`` on the exported embedded model, from another working directory."""
    from fk_bench.models import export_model

    model_dir = export_model("embedded", tmp_path / "gemma")
    command = [
        sys.executable,
        "-m",
        "lm_eval",
        "--model",
        "hf",
        "--model_args",
        f"pretrained={model_dir},dtype=float32",
        "--tasks",
        "fk_yesno_paris",
        "--include_path",
        str(tasks_dir()),
        "--device",
        "cpu",
        "--batch_size",
        "8",
        "--log_samples",
        "--output_path",
        str(tmp_path / "lm_eval_out"),
    ]
    subprocess.run(command, check=True, cwd=tmp_path, capture_output=True, text=True)
    samples = read_samples(tmp_path / "lm_eval_out", "fk_yesno_paris")
    questions = load_questions(config="paris")
    native = evaluate(embedded_model, questions, DEFAULT_GROUPS, progress=False)
    assert_same_numbers(samples, native)
    results = read_results(tmp_path / "lm_eval_out")
    assert_same_aggregates(results["results"]["fk_yesno_paris"], native)


def test_a_multi_task_run_keeps_every_task_and_relation_and_groups_with_native_rows(tiny_model, tiny_hflm, tmp_path):
    """``--tasks fk_yesno,fk_yesno_paraphrase``: one leaderboard row per task, the group's with a column per
    relation; the task metadata's dataset version puts the paraphrase row beside the native run of the same
    questions (``fk-bench eval --config paraphrase --limit 2``)."""
    import json

    from fk_bench.dataset.schema import DATASET_VERSION
    from fk_bench.evaluation import write_results
    from fk_bench.leaderboard import collect_rows

    out = run_lm_eval(tiny_hflm, ["fk_yesno", "fk_yesno_paraphrase"], limit=2)
    saved = {key: value for key, value in out.items() if key != "samples"}  # as lm_eval --output_path writes it
    (tmp_path / "lm").mkdir()
    (tmp_path / "lm" / "results_2026-12-06T00-00-00.json").write_text(json.dumps(saved, default=str))
    questions = load_questions(config="paraphrase", limit=2)
    write_results(evaluate(tiny_model, questions, DEFAULT_GROUPS, progress=False), tmp_path / "native")
    table = collect_rows([tmp_path])
    lm = table[table["harness"] == "lm-eval"].set_index("config")
    assert sorted(lm.index) == ["all", "paraphrase"] and set(lm["version"]) == {DATASET_VERSION} and set(lm["dataset"]) == {"fk_yesno"}
    relations = sorted(set(load_questions(config="all")["relation"]))
    assert all(lm.loc["all", f"accuracy[{r}]"] == out["results"][f"fk_yesno_{r}"]["acc,none"] for r in relations), "no relation dropped"
    assert lm.loc["all", "n"] == 2 * len(relations) and lm.loc["paraphrase", "n"] == 2
    native = table[table["harness"] == "fk-bench"].iloc[0]
    assert native["group"] == lm.loc["paraphrase", "group"], "the same questions: ranked together"
    assert lm.loc["paraphrase", "accuracy"] == pytest.approx(native["accuracy"], abs=1e-4)


def test_batch_calibrated_accuracy_is_a_corpus_aggregation():
    """A yes-sayer that still orders the questions right: batch calibration (the mean log-odds over every
    document removed) recovers its accuracy; the calibration battery's aggregations are fk_bench's own."""
    from fk_bench.stats import calibration

    utils = _load_task_module("utils")
    items = [(3.0 + (1.0 if i % 2 == 0 else -1.0), i % 2 == 0, f"p{i // 2}", None) for i in range(20)]
    t_vs_f = np.array([t for t, *_ in items])
    labels = np.array([label for _, label, *_ in items])
    assert utils.yes_rate(items) == 1.0
    assert utils.batch_calibrated_accuracy(items) == 1.0
    assert utils.aurc(items) == pytest.approx(calibration.aurc(t_vs_f, labels.astype(float)))
    assert utils.ece_adaptive(items) == pytest.approx(calibration.adaptive_ece(1 / (1 + np.exp(-t_vs_f)), labels))
    parts = calibration.brier_decomposition(1 / (1 + np.exp(-t_vs_f)), labels)
    assert (utils.brier_reliability(items), utils.brier_resolution(items), utils.brier_uncertainty(items)) == pytest.approx(
        (parts["reliability"], parts["resolution"], parts["uncertainty"])
    )
