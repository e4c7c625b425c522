"""Leaderboard rows from lm-eval's result files (every setting read back) and their grouping with
fk-bench's rows; no model needed."""

import json
import math
from pathlib import Path

import pytest

from fk_bench.leaderboard import collect_rows
from fk_bench.leaderboard.collect import data_label, prompt_label
from fk_bench.results import read_results

V1_FILE = Path(__file__).parents[1] / "data" / "results_v1_paris.json"


def restated(data: dict, **changes) -> dict:
    """``data`` (a results.json's contents) with ``changes``, and every figure recomputed from its rows, as
    fk-bench writes them (readers refuse a file whose figures disagree with its rows)."""
    from fk_bench.result_checks import recomputed
    from fk_bench.results import RunResult

    data = {**data, **changes}
    figures = recomputed(RunResult.model_validate(data))
    return {**data, **{name: figures[name] for name in ("summary", "per_relation", "per_domain", "by_popularity")}}


def lm_eval_file(folder, task: str, stamp: str = "2026-11-27T00-00-00", **top) -> None:
    """A results file as lm-eval 0.4.13 writes it for one fk_yesno task."""
    folder.mkdir(parents=True, exist_ok=True)
    data = {
        "results": {task: {"alias": task, "acc,none": 0.75, "paired_accuracy,none": 0.9, "yes_rate,none": 0.4, "log_odds,none": 1.0}},
        "n-shot": {task: top.pop("k", 0)},
        "n-samples": {task: {"original": 402, "effective": 4}},
        "config": {"model_args": top.pop("model_args", "pretrained=org/some-model,dtype=bfloat16"), "device": "cpu", "limit": top.pop("limit", 4)},
        "chat_template": top.pop("chat_template", None),
        **top,
    }
    (folder / f"results_{stamp}.json").write_text(json.dumps(data))


def test_lm_eval_settings_are_read_back(tmp_path):
    lm_eval_file(tmp_path / "fewshot", "fk_yesno_fewshot", k=4)
    lm_eval_file(tmp_path / "chat", "fk_yesno_capital_of", chat_template="{% for m in messages %}{% endfor %}")
    rows = {row["prompt_format"]: row for _, row in collect_rows([tmp_path]).iterrows()}
    fewshot, chat = rows["fewshot"], rows["chat"]
    assert prompt_label(fewshot) == "fewshot (k=4)" and chat["fewshot_k"] == ""
    assert fewshot["model"] == "org__some-model" and fewshot["dtype"] == "bfloat16" and fewshot["harness"] == "lm-eval"
    # fk_yesno_fewshot reads config "all" whole: its limit is the first 4 questions, not 4 per relation.
    assert data_label(fewshot) == "fk_yesno · all · test · first 4"
    assert (chat["config"], chat["relation"]) == ("capital_of", "capital_of") and data_label(chat) == "fk_yesno · capital_of · test · first 4"
    assert fewshot["group"] != chat["group"], "different questions: never ranked together"
    assert (chat["paired_accuracy"], chat["accuracy"], chat["yes_rate"]) == (0.9, 0.75, 0.4)
    assert math.isnan(chat["auroc"]) and math.isnan(chat["n_pass_filter"]), "not in the file and no samples: n/a"


def test_n_pass_filter_is_recounted_from_the_same_runs_samples(tmp_path):
    lm_eval_file(tmp_path, "fk_yesno_capital_of", stamp="A")
    samples = [{"acc": 1.0, "prob_diff": 0.5}, {"acc": 1.0, "prob_diff": 0.05}, {"acc": 0.0, "prob_diff": 0.9}, {"acc": 1.0, "prob_diff": 0.1}]
    (tmp_path / "samples_fk_yesno_capital_of_A.jsonl").write_text("\n".join(json.dumps(s) for s in samples))
    (tmp_path / "samples_fk_yesno_capital_of_B.jsonl").write_text(json.dumps({"acc": 1.0, "prob_diff": 1.0}))
    assert collect_rows([tmp_path], threshold=0.1).iloc[0]["n_pass_filter"] == 2
    assert collect_rows([tmp_path], threshold=0.5).iloc[0]["n_pass_filter"] == 1
    (tmp_path / "samples_fk_yesno_capital_of_A.jsonl").unlink()
    assert math.isnan(collect_rows([tmp_path]).iloc[0]["n_pass_filter"]), "another run's samples are never counted"


def test_fk_bench_and_lm_eval_on_the_same_questions_share_a_group(tmp_path):
    """lm-eval's group with --limit 2 scores the first 2 questions of every relation's task: the slice
    `fk-bench zoo run --per-relation 2` scores on config all, so the rows are comparable (the same dataset version too)."""
    lm_eval_file(tmp_path / "lm", "fk_yesno_capital_of")
    data = json.loads((tmp_path / "lm" / "results_2026-11-27T00-00-00.json").read_text())
    data["results"]["fk_yesno"] = {"acc,none": 0.5}
    data["n-samples"] = {"fk_yesno_capital_of": {"effective": 2}, "fk_yesno_currency_of": {"effective": 2}}
    data["results"]["fk_yesno_currency_of"] = {"acc,none": 0.5}
    data["config"]["limit"] = 2
    (tmp_path / "lm" / "results_2026-11-27T00-00-00.json").write_text(json.dumps(data))
    data["configs"] = {"fk_yesno_capital_of": {"metadata": {"version": 2.0, "dataset_version": "2.0.0"}}}
    (tmp_path / "lm" / "results_2026-11-27T00-00-00.json").write_text(json.dumps(data))
    native = json.loads(read_results(V1_FILE).to_json())
    native["spec"]["dataset"] = {**native["spec"]["dataset"], "config": "all", "version": "2.0.0", "limit": 2, "limit_per_relation": True}
    native = restated(native, questions=native["questions"][:4])
    (tmp_path / "native").mkdir()
    (tmp_path / "native" / "results.json").write_text(json.dumps(native))
    table = collect_rows([tmp_path])
    assert set(table["group"]) == {1} and list(table["harness"]) == ["fk-bench", "lm-eval"]
    assert list(table["rank"]) == [1, 2] and table.iloc[0]["n"] == 4


@pytest.mark.parametrize(
    "model_args, expected",
    [
        ({"pretrained": "/gone/my-model/"}, "my-model"),
        ("pretrained=EleutherAI/pythia-70m", "EleutherAI__pythia-70m"),
    ],
)
def test_lm_eval_model_names_match_fk_bench_eval(tmp_path, model_args, expected):
    lm_eval_file(tmp_path, "fk_yesno_capital_of", model_args=model_args)
    assert collect_rows([tmp_path]).iloc[0]["model"] == expected


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"results": {"fk_yesno_capital_of": {"acc,none": -3.0, "paired_accuracy,none": 0.9}}}, "acc,none is -3.0, outside"),
        ({"results": {"fk_yesno_capital_of": {"acc,none": 0.5, "paired_accuracy,none": 7.5}}}, "paired_accuracy,none is 7.5, outside"),
        ({"results": {"fk_yesno_capital_of": {"acc,none": float("inf")}}}, "acc,none is inf"),
        ({"results": {"fk_yesno_capital_of": {"acc,none": "0.5"}}}, "acc,none is '0.5', not a number"),
        ({"n-samples": {"fk_yesno_capital_of": {"effective": float("inf")}}}, "effective is inf"),
    ],
)
def test_lm_eval_values_out_of_range_are_skipped_never_ranked(tmp_path, change, reason):
    lm_eval_file(tmp_path / "good", "fk_yesno_capital_of", model_args="pretrained=org/good")
    lm_eval_file(tmp_path / "bad", "fk_yesno_capital_of", model_args="pretrained=org/bad", **change)
    with pytest.warns(UserWarning, match=f"bad/results_.*skipped.*{reason}"):
        table = collect_rows([tmp_path])
    assert list(table["model"]) == ["org__good"]


def test_a_zero_time_written_as_text_is_no_rate_and_no_crash(tmp_path):
    lm_eval_file(tmp_path, "fk_yesno_capital_of", total_evaluation_time_seconds="0")
    assert math.isnan(collect_rows([tmp_path]).iloc[0]["questions_per_second"])


def test_staging_folders_of_interrupted_writes_are_not_read(tmp_path):
    from fk_bench.files import STAGING_PREFIX

    result = read_results(V1_FILE)
    for folder in ("run", f"{STAGING_PREFIX}run-abc123"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "results.json").write_text(result.to_json())
    table = collect_rows([tmp_path])
    assert len(table) == 1 and table.iloc[0]["source"] == str(tmp_path / "run" / "results.json")


@pytest.mark.parametrize(
    ("config", "env", "shown"),
    [
        ({"device": "cuda:0"}, "PyTorch version: 2.9\nIs CUDA available: False\n", "cpu"),  # lm-eval's default, on a CPU machine
        ({"device": "cuda:0"}, "Is CUDA available: True", "cuda:0"),
        ({"device": "cuda:0"}, None, "n/a"),
        ({"device": None}, "Is CUDA available: False", "cpu"),
        ({"device": None}, None, "n/a"),
        ({"device": None, "model_args": "pretrained=x,device=cpu"}, None, "cpu"),
        ({"device": "mps"}, None, "mps"),
    ],
)
def test_lm_eval_rows_show_the_device_the_run_used(tmp_path, config, env, shown):
    lm_eval_file(tmp_path, "fk_yesno_capital_of", pretty_env_info=env)
    path = next(tmp_path.glob("results_*.json"))
    data = json.loads(path.read_text())
    data["config"] = {**data["config"], **config}
    path.write_text(json.dumps(data))
    assert collect_rows([tmp_path]).iloc[0]["device"] == shown


def test_a_staging_folder_given_by_name_is_refused_and_strict_stops_at_the_first_skip(tmp_path):
    from fk_bench.errors import FkBenchError
    from fk_bench.files import STAGING_PREFIX

    result = read_results(V1_FILE)
    staging = tmp_path / f"{STAGING_PREFIX}run-abc123"
    staging.mkdir()
    (staging / "results.json").write_text(result.to_json())
    (tmp_path / "good").mkdir()
    (tmp_path / "good" / "results.json").write_text(result.to_json())
    with pytest.warns(UserWarning, match="staging folder of an unfinished"):
        table = collect_rows([staging, tmp_path / "good"])
    assert len(table) == 1
    with pytest.raises(FkBenchError, match="staging folder.*--strict"):
        collect_rows([staging, tmp_path / "good"], strict=True)
    with pytest.warns(UserWarning), pytest.raises(FkBenchError, match="no readable results"):
        collect_rows([staging])


@pytest.mark.parametrize("name", ["popularity:high", "x]y", "domain:geo", "a\nb"])
def test_a_relation_name_that_would_fake_a_derived_column_is_refused(tmp_path, name):
    data = restated(json.loads(read_results(V1_FILE).to_json()))
    data["questions"] = [{**q, "relation": name} for q in data["questions"]]
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "results.json").write_text(json.dumps(restated(data)))
    lm_eval_file(tmp_path / "lm", "fk_yesno_capital_of")
    with pytest.warns(UserWarning, match="relation name .* reserve"):
        table = collect_rows([tmp_path])
    assert list(table["harness"]) == ["lm-eval"]
    assert not any("popularity:high" in column for column in table.columns)
