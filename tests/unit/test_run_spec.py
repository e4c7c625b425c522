"""The run spec and the results schema: one definition, checked values, old files still read, no machine paths."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from fk_bench.errors import FkBenchError
from fk_bench.results import JSON_SCHEMA, SCHEMA_VERSION, json_schema, parse_results, portable_path, read_results
from fk_bench.spec import DEFAULT_FEWSHOT_K, PROMPT_FORMATS, DatasetSpec, RunSpec

V1_FILE = Path(__file__).parents[1] / "data" / "results_v1_paris.json"


def test_fewshot_k_belongs_to_the_fewshot_format_only():
    assert RunSpec(model="m", prompt_format="fewshot").fewshot_k == DEFAULT_FEWSHOT_K
    assert RunSpec(model="m", prompt_format="plain", fewshot_k=8).fewshot_k is None
    assert RunSpec(model="m", prompt_format="fewshot", fewshot_k=8).run_name("gemma") == "gemma--fewshot-k8"
    assert RunSpec(model="m", prompt_format="chat").run_name("gemma") == "gemma--chat"
    assert RunSpec(model="m").run_name("gemma") == "gemma"


def test_run_spec_refuses_what_cannot_be_run():
    for bad in ({"prompt_format": "haiku"}, {"batch_size": 0}, {"dtype": "float8"}, {"filter_threshold": 2.0}, {"colour": "red"}):
        with pytest.raises((ValidationError, ValueError)):
            RunSpec(model="m", **bad)
    spec = RunSpec(model="m", batch_size="auto")
    with pytest.raises(ValidationError):
        spec.model = "other"  # frozen: built once, never changed behind a reader's back


def test_every_prompt_format_is_in_the_registry_with_its_needs():
    assert list(PROMPT_FORMATS) == ["plain", "fewshot", "chat"]
    assert PROMPT_FORMATS["chat"].applies_to(False) is False and PROMPT_FORMATS["fewshot"].uses_examples


def test_a_version_1_file_is_upgraded_with_every_value():
    old = json.loads(V1_FILE.read_text())
    result = read_results(V1_FILE)
    assert result.schema_version == SCHEMA_VERSION
    assert result.spec.prompt_format == old["settings"]["prompt_format"] and result.spec.dtype == old["settings"]["dtype"]
    assert result.spec.dataset == DatasetSpec(id="fk_yesno", config="paris", split="test", version="1.0.0")
    assert result.summary.accuracy == old["summary"]["accuracy"] and len(result.questions) == len(old["questions"])
    first = old["questions"][0]
    assert result.questions[0].scores["Yes"] == first["score[Yes]"]
    assert result.frame["score[Yes]"].iloc[0] == first["score[Yes]"]


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("summary", "paired_accuracy"), 7.5, "summary.paired_accuracy: Input should be less than or equal to 1"),
        (("summary", "accuracy"), -3, "summary.accuracy: Input should be greater than or equal to 0"),
        (("summary", "yes_rate"), "0.5", "summary.yes_rate: Input should be a valid number"),
        (("summary", "n_pairs"), -1, "summary.n_pairs: Input should be greater than or equal to 0"),
        (("scoring", "seconds"), "0", "scoring.seconds: Input should be a valid number"),
        (("per_relation", "paris", "auroc"), 1.5, "per_relation.paris.auroc"),
    ],
)
def test_values_out_of_range_are_refused_naming_file_and_field(tmp_path, path, value, message):
    data = json.loads(read_results(V1_FILE).to_json())
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    bad = tmp_path / "results.json"
    bad.write_text(json.dumps(data))
    with pytest.raises(FkBenchError, match=f"^{bad}: not a valid fk-bench result: {message}"):
        read_results(bad)


def test_non_finite_numbers_and_unknown_versions_are_refused(tmp_path):
    text = read_results(V1_FILE).to_json()
    bad = tmp_path / "results.json"
    bad.write_text(text.replace('"accuracy": 0.6666666666666666', '"accuracy": Infinity', 1))
    with pytest.raises(FkBenchError, match="Infinity, not a number strict JSON allows"):
        read_results(bad)
    data = json.loads(text)
    with pytest.raises(FkBenchError, match="results schema version 3; this fk-bench reads versions 1 and 2"):
        parse_results({**data, "schema_version": 3}, "x.json")
    with pytest.raises(FkBenchError, match="before results recorded their settings"):
        parse_results({"fk_bench_version": "0.0.1", "summary": {}}, "x.json")


def test_written_results_read_back_equal(tmp_path):
    result = read_results(V1_FILE)
    (tmp_path / "results.json").write_text(result.to_json())
    assert read_results(tmp_path) == result


def test_json_schema_file_is_current():
    """fk_bench/resources/results.schema.json is the schema of RunResult (python -m fk_bench.results rewrites it)."""
    assert JSON_SCHEMA.read_text(encoding="utf-8") == json_schema()


def test_paths_are_recorded_without_the_machine(tmp_path, monkeypatch):
    from fk_bench.models.cache import cache_root

    assert portable_path(cache_root() / "models" / "gemma") == "$FK_BENCH_CACHE/models/gemma"
    monkeypatch.chdir(tmp_path)
    (tmp_path / "my-model").mkdir()
    assert portable_path(tmp_path / "my-model") == "my-model"
