"""``fk-bench probe`` from the command line on a tiny random model's run: the happy path (a run folder
whose questions.csv is gone: results.json holds every question) and hostile input, one clear line each."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
from support.interp import build_family_model

from fk_bench.answer_groups import DEFAULT_GROUPS
from fk_bench.cli import main
from fk_bench.data import load_questions
from fk_bench.evaluation import evaluate, write_results
from fk_bench.results import QUESTIONS_FILE, RESULTS_FILE
from fk_bench.spec import RunSpec
from interp.probes.probe_defaults import PROBE_HTML, PROBE_JSON
from interp.probes.probe_schema import read_probe

HOSTILE = "tiny<img src=x onerror=alert(1)>"
"""A model folder name that is markup: it must reach the page as text."""
SUBJECTS = ["Paris", "Rome", "Berlin", "Madrid", "Tokyo", "Kyoto", "Lima", "Oslo"]
OBJECTS = ["France", "Italy", "Germany", "Spain", "Japan", "Peru"]


def _write(path: Path, n_pairs: int, lonely_relation: bool = False, true_only: bool = False) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "question", "answer", "corrupted_question", "pair_id", "relation", "domain", "subject", "object"])
        for number in range(n_pairs):
            subject, right, wrong = SUBJECTS[number % 8], OBJECTS[number % 6], OBJECTS[(number + 1) % 6]
            relation = "lonely" if lonely_relation and number == 0 else "located_in"
            first, second = f"Is {subject} in {right}?", f"Is {subject} in {wrong}?"
            writer.writerow([f"p{number}-t", first, True, second, f"p{number}", relation, "geography", subject, right])
            if not true_only:
                writer.writerow([f"p{number}-f", second, False, first, f"p{number}", relation, "geography", subject, wrong])
    return path


def _run_folder(root: Path, name: str, loaded, **data) -> Path:
    questions = load_questions(str(_write(root / f"{name}.csv", **data)))
    spec = RunSpec(model=loaded.spec, prompt_format="plain", dtype="float32", device="cpu", dataset=questions.dataset)
    return write_results(evaluate(loaded, questions, DEFAULT_GROUPS, spec, progress=False), root / name).parent


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("probe-cli")
    loaded = build_family_model("llama", root / HOSTILE)
    return {
        "root": root,
        "good": _run_folder(root, "good", loaded, n_pairs=12, lonely_relation=True),
        "true_only": _run_folder(root, "true-only", loaded, n_pairs=4, true_only=True),
    }


def _error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("fk-bench: error:"), err
    return err


def test_probe_from_a_run_without_questions_csv(runs, capsys):
    run = runs["good"]
    (run / QUESTIONS_FILE).unlink()  # results.json holds every question: nothing is read from the CSV
    out = runs["root"] / "out"
    assert (
        main(["probe", "--from-results", str(run), "--out", str(out), "--resamples", "50", "--steering-questions", "8", "--steering-scale", "4"]) == 0
    )
    printed = capsys.readouterr().out
    assert "best layer" in printed and "wrote" in printed
    folder = out / run.name
    report = read_probe(folder / PROBE_JSON)
    assert report.n_pairs == 12 and report.relation == "all" and report.steering is not None and report.steering.n_questions == 8
    assert report.steering.scale == 4.0 and report.settings["n_folds"] == 5
    assert len(report.layers) == report.model.n_layers + 1
    page = (folder / PROBE_HTML).read_text(encoding="utf-8")
    assert "<img src=x" not in page and "tiny&lt;img" in page  # the model name is text, never markup
    assert not list(out.glob(".fk-bench-probe-*"))  # no scratch folder left behind


def test_a_folder_without_results_json_is_one_line(runs, capsys):
    empty = runs["root"] / "empty-run"
    empty.mkdir(exist_ok=True)
    assert main(["probe", "--from-results", str(empty), "--out", str(runs["root"] / "o1")]) == 2
    assert RESULTS_FILE in _error(capsys)


def test_one_class_only_is_one_line(runs, capsys):
    assert main(["probe", "--from-results", str(runs["true_only"]), "--out", str(runs["root"] / "o2")]) == 2
    assert "every question is true" in _error(capsys)


def test_a_relation_with_one_pair_is_one_line(runs, capsys):
    assert main(["probe", "--from-results", str(runs["good"]), "--relation", "lonely", "--out", str(runs["root"] / "o3")]) == 2
    err = _error(capsys)
    assert "1 complete pair(s)" in err and "lonely" in err


def test_an_unknown_relation_is_one_line_before_the_model_loads(runs, capsys):
    assert main(["probe", "--from-results", str(runs["good"]), "--relation", "capital<of>", "--out", str(runs["root"] / "o4")]) == 2
    err = _error(capsys)
    assert "'capital<of>' is not in the run" in err and "located_in" in err


def test_an_out_that_cannot_be_written_is_one_line(runs, capsys):
    blocker = runs["root"] / "a-file"
    blocker.write_text("not a folder", encoding="utf-8")
    assert main(["probe", "--from-results", str(runs["good"]), "--out", str(blocker / "sub")]) == 2
    assert "is a file, not a folder" in _error(capsys)


def test_a_tampered_results_json_is_one_line(runs, capsys):
    copy = runs["root"] / "tampered"
    shutil.copytree(runs["good"], copy)
    data = json.loads((copy / RESULTS_FILE).read_text(encoding="utf-8"))
    data["questions"][0]["answer"] = "yes"
    (copy / RESULTS_FILE).write_text(json.dumps(data), encoding="utf-8")
    assert main(["probe", "--from-results", str(copy), "--out", str(runs["root"] / "o5")]) == 2
    assert "not a valid fk-bench result" in _error(capsys)
