"""Results are never wrong, half-written or mixed up: non-finite scores stop the run, the pair of result
files is written as one unit, runs of different prompt formats get their own folders, files are readable."""

from __future__ import annotations

import json
import os
import stat

import numpy as np
import pytest

from fk_bench.answer_groups import DEFAULT_GROUPS
from fk_bench.errors import FkBenchError
from fk_bench.evaluation import evaluate, write_results
from fk_bench.files import STAGING_PREFIX, atomic_dir, strict_json, write_json_atomic
from fk_bench.results import read_results
from fk_bench.scoring import ScoredPrompts
from fk_bench.spec import DatasetSpec, RunSpec


@pytest.fixture(scope="module")
def result(tiny_model, paris_questions):
    return evaluate(tiny_model, paris_questions, DEFAULT_GROUPS, batch_size=4, progress=False)


def test_non_finite_scores_are_an_error_not_accuracy_zero(tiny_model, paris_questions, monkeypatch):
    import fk_bench.evaluation as evaluation

    def nan_scores(loaded, prompts, words, batch_size, progress, **kwargs):
        scores = np.zeros((len(prompts), len(words)))
        scores[1, 0] = np.nan
        return ScoredPrompts(scores, np.ones_like(scores, dtype=int), batch_size, [[0]] * len(prompts))

    monkeypatch.setattr(evaluation, "score_answer_words", nan_scores)
    with pytest.raises(FkBenchError, match=r"non-finite scores for 1 of .* question\(s\) \(first: paris-1\)"):
        evaluate(tiny_model, paris_questions, DEFAULT_GROUPS, progress=False)


def test_strict_json_refuses_non_finite_numbers():
    with pytest.raises(FkBenchError, match=r"summary\.accuracy"):
        strict_json({"summary": {"accuracy": float("nan")}})
    assert json.loads(strict_json({"a": [1.5, None]})) == {"a": [1.5, None]}


def test_results_record_every_setting_that_changes_a_number_once(tiny_model, paris_questions, tmp_path):
    result = evaluate(tiny_model, paris_questions, DEFAULT_GROUPS, prompt_format="fewshot", fewshot_k=3, batch_size=4, progress=False)
    data = json.loads(write_results(result, tmp_path).read_text())
    assert data["spec"] == {
        "model": tiny_model.spec,
        "prompt_format": "fewshot",
        "fewshot_k": 3,
        "dtype": "float32",
        "device": "cpu",
        "batch_size": 4,
        "dataset": {
            "id": "fk_yesno",
            "config": "paris",
            "split": "test",
            "version": data["spec"]["dataset"]["version"],
            "relation": None,
            "limit": None,
            "limit_per_relation": False,
        },
        "answer_map": "default",
        "filter_threshold": 0.1,
    }
    assert data["schema_version"] == 2 and data["scoring"]["batch_size"] == 4
    assert not {"settings", "prompt_format", "dataset"} & set(data), "each setting is stored once, in the spec"
    assert "filter_threshold" not in data["summary"] and "dtype" not in data["model"]
    assert read_results(tmp_path / result.run_name).model_dump() == result.model_dump()


def test_prompt_formats_get_their_own_folders(tiny_model, paris_questions, result, tmp_path):
    fewshot = evaluate(tiny_model, paris_questions, DEFAULT_GROUPS, prompt_format="fewshot", fewshot_k=2, progress=False)
    plain_path, fewshot_path = write_results(result, tmp_path), write_results(fewshot, tmp_path)
    assert plain_path.parent != fewshot_path.parent
    assert read_results(plain_path).spec.prompt_format == "plain"
    assert read_results(fewshot_path).spec.fewshot_k == 2


def test_a_spec_that_does_not_describe_the_run_is_refused(tiny_model, paris_questions):
    spec = RunSpec(model="another-model", dataset=paris_questions.dataset)
    with pytest.raises(FkBenchError, match="run spec says model 'another-model'"):
        evaluate(tiny_model, paris_questions, DEFAULT_GROUPS, spec, progress=False)
    other_data = RunSpec(model=tiny_model.spec, dataset=DatasetSpec(config="all"))
    with pytest.raises(FkBenchError, match="run spec's dataset"):
        evaluate(tiny_model, paris_questions, DEFAULT_GROUPS, other_data, progress=False)


def test_result_pair_is_replaced_as_a_unit(result, tmp_path, monkeypatch):
    path = write_results(result, tmp_path)
    (path.parent / "report.html").write_text("<html>a report written beside the results</html>")
    before = {name: (path.parent / name).read_bytes() for name in ("results.json", "questions.csv")}

    def fail(*args, **kwargs):
        import errno

        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(type(result.frame), "to_csv", fail)
    with pytest.raises(FkBenchError, match=r"could not be written \(No space left on device\); nothing was replaced"):
        write_results(result, tmp_path)
    assert {name: (path.parent / name).read_bytes() for name in before} == before
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(STAGING_PREFIX)], "no staging folder left behind"
    monkeypatch.undo()
    write_results(result, tmp_path)
    assert (path.parent / "report.html").exists(), "files the run does not write are kept"


def test_result_files_are_as_readable_as_any_user_file(result, tmp_path):
    old = os.umask(0o022)
    try:
        path = write_results(result, tmp_path)
        write_json_atomic(tmp_path / "x.json", {"a": 1})
    finally:
        os.umask(old)
    for file in (path, path.parent / "questions.csv", tmp_path / "x.json"):
        assert stat.S_IMODE(file.stat().st_mode) == 0o644, file
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o755


def test_atomic_dir_refuses_a_file_in_the_way(tmp_path):
    (tmp_path / "taken").write_text("a file")
    with pytest.raises(FkBenchError, match="exists and is not a folder"), atomic_dir(tmp_path / "taken") as staging:
        (staging / "a").write_text("x")
    assert (tmp_path / "taken").read_text() == "a file"


# ---------------------------------------------------------------- every stored figure checked against the rows


@pytest.fixture(scope="module")
def paired_result(tiny_model):
    from fk_bench.data import load_questions

    questions = load_questions(config="all", relation="capital_of", limit=12)
    return evaluate(tiny_model, questions, DEFAULT_GROUPS, batch_size=4, progress=False)


def _tampered(result, tmp_path, change) -> str:
    data = json.loads(result.to_json())
    change(data)
    path = tmp_path / "results.json"
    path.write_text(json.dumps(data))
    with pytest.raises(FkBenchError) as err:
        read_results(path)
    message = str(err.value)
    assert message.startswith(str(path)) and "\n" not in message
    return message


def _set(path: str, value):
    def change(data):
        *parents, last = path.split(".")
        node = data
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        node[last] = value

    return change


@pytest.mark.parametrize(
    ("field", "value", "named"),
    [
        ("summary.accuracy", 0.999, "summary.accuracy is 0.999"),
        ("summary.paired_accuracy", 0.99, "summary.paired_accuracy"),
        ("summary.n_pairs", 0, "summary.n_pairs is 0"),
        ("summary.n_questions", 1000, "summary.n_questions is 1000"),
        ("summary.n_pass_filter", 99, "summary.n_pass_filter"),
        ("summary.auroc", 0.01, "summary.auroc"),
        ("per_relation.capital_of.accuracy", 1.0, "per_relation.capital_of.accuracy"),
        ("per_relation.capital_of.n_pairs", 5, "per_relation.capital_of.n_pairs"),
        ("per_domain.geography.paired_accuracy", 0.123, "per_domain.geography.paired_accuracy"),
        ("questions.0.passes_filter", True, "questions[0]."),
    ],
)
def test_a_tampered_figure_is_refused_naming_file_and_field(paired_result, tmp_path, field, value, named):
    assert named in _tampered(paired_result, tmp_path, _set(field, value))


def test_a_tampered_row_is_refused(result, tmp_path):
    def flip(data):
        row = data["questions"][0]
        row["accuracy"] = 1.0 - row["accuracy"]

    assert "questions[0].accuracy" in _tampered(result, tmp_path, flip)

    def rescore(data):
        row = data["questions"][1]
        word = next(iter(row["scores"]))
        row["scores"][word] += 5.0

    assert "questions[1]." in _tampered(result, tmp_path, rescore)


def test_an_invented_relation_is_refused(result, tmp_path):
    def invent(data):
        data["per_relation"]["popularity:high"] = data["per_relation"]["paris"]
        data["by_popularity"] = {}

    assert "per_relation names" in _tampered(result, tmp_path, invent)


def test_an_untouched_result_reads_back_equal(result, tmp_path):
    path = tmp_path / "results.json"
    path.write_text(result.to_json())
    assert read_results(path).summary == result.summary
