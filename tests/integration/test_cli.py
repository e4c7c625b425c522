"""Bad input ends in one clear line on stderr, exit code 2, and no results written."""

import json

import pytest

from fk_bench.cli import main


def run_cli(args, capsys):
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.err.strip()


@pytest.fixture()
def tiny_dir(tiny_model):
    return str(tiny_model.path)


def write(path, text):
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize(
    "csv_text, expected",
    [
        ("question,answer\nIs Paris in France?,maybe\n", ":2: field 'answer': 'maybe' is not a boolean"),
        ("question,label\nIs Paris in France?,true\n", "missing column(s) ['answer']"),
        ("", "dataset is empty"),
        ("question,answer\nIs Paris in France?,yes\nIs Paris in France?,no\n", ":3: field 'answer'"),
    ],
)
def test_bad_dataset(tmp_path, capsys, tiny_dir, csv_text, expected):
    data = write(tmp_path / "qs.csv", csv_text)
    code, err = run_cli(["eval", "--model", tiny_dir, "--dataset", data, "--out", str(tmp_path / "out")], capsys)
    assert code == 2
    assert err.startswith("fk-bench: error: ") and len(err.splitlines()) == 1
    assert expected in err and "qs.csv" in err
    assert not (tmp_path / "out").exists()


def test_unknown_model_dir(tmp_path, capsys):
    code, err = run_cli(["eval", "--model", str(tmp_path / "nope"), "--out", str(tmp_path / "out")], capsys)
    assert code == 2 and "no such model directory" in err


def test_empty_answer_group(tmp_path, capsys, tiny_dir):
    answer_map = write(tmp_path / "map.json", json.dumps({"True": ["Yes"], "False": []}))
    code, err = run_cli(["eval", "--model", tiny_dir, "--answer-map", answer_map, "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and "answer group 'False' is empty" in err and "map.json" in err


def test_chat_without_template(tmp_path, capsys, tiny_dir):
    code, err = run_cli(["eval", "--model", tiny_dir, "--prompt-format", "chat", "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and "has no chat template" in err


def test_eval_writes_results(tmp_path, capsys, tiny_model):
    labels = "question,answer\nIs Paris the capital of France?,TRUE\nIs Rome in Spain?,0\nIs Tokyo a city in Japan?,Yes\n"
    data = write(tmp_path / "fk_samples.csv", labels)
    code = main(["eval", "--model", str(tiny_model.path), "--dataset", data, "--out", str(tmp_path / "out"), "--batch-size", "2"])
    assert code == 0
    (folder,) = (p for p in (tmp_path / "out").iterdir() if p.is_dir())
    assert folder.name.startswith(f"{tiny_model.name}--data-fk_samples.csv-"), "another dataset: its own folder"
    results = json.loads((folder / "results.json").read_text())
    assert [q["answer"] for q in results["questions"]] == [True, False, True]
    assert results["summary"]["n_questions"] == 3 and results["spec"]["prompt_format"] == "plain"
    assert results["spec"]["dataset"] == {**results["spec"]["dataset"], "id": data, "config": None, "split": None, "version": None}


@pytest.mark.parametrize("option", [["--split", "train"], ["--config", "all"]])
def test_split_and_config_with_a_file_are_refused_not_recorded(tmp_path, capsys, tiny_dir, option):
    data = write(tmp_path / "fk_samples.csv", "question,answer\nIs Rome in Spain?,no\n")
    code, err = run_cli(["eval", "--model", tiny_dir, "--dataset", data, *option, "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and f"{option[0]} {option[1]} apply to dataset folders and Hub datasets, not to a single file" in err
    assert not (tmp_path / "o").exists()


def test_batch_size_auto_is_recorded_as_asked_and_as_used(tmp_path, tiny_model):
    code = main(["eval", "--model", str(tiny_model.path), "--config", "paris", "--out", str(tmp_path), "--batch-size", "auto"])
    assert code == 0
    results = json.loads((tmp_path / f"{tiny_model.name}--paris" / "results.json").read_text())
    assert results["spec"]["batch_size"] == "auto" and results["scoring"]["batch_size"] >= 1


@pytest.mark.parametrize(
    "option, value, expected",
    [
        ("--batch-size", "-3", "must be at least 1"),
        ("--batch-size", "0", "must be at least 1"),
        ("--limit", "0", "must be at least 1"),
        ("--limit", "-1", "must be at least 1"),
        ("--fewshot-k", "-36", "must be at least 1"),
        ("--filter-threshold", "2", "between -1 and 1"),
        ("--filter-threshold", "nan", "not a finite number"),
        ("--limit", "ten", "not an integer"),
    ],
)
def test_numeric_options_are_checked_when_parsed(tmp_path, capsys, option, value, expected):
    with pytest.raises(SystemExit) as exit_info:
        main(["eval", "--model", "embedded", option, value, "--out", str(tmp_path / "out")])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {option}" in err and expected in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("command", ["eval", "report"])
def test_out_that_is_a_file_fails_before_any_work(tmp_path, capsys, command):
    (tmp_path / "out").write_text("not a folder")
    code, err = run_cli([command, "--model", str(tmp_path / "no-such-model"), "--out", str(tmp_path / "out")], capsys)
    assert code == 2 and "exists and is not a folder" in err and "out" in err


def test_unexpected_errors_are_one_line_unless_debug(tmp_path, capsys, monkeypatch):
    import fk_bench.cli.tasks_dir as tasks_dir_command

    def boom(args):
        raise RuntimeError("something nobody foresaw")

    monkeypatch.setattr(tasks_dir_command, "run", boom)
    assert main(["tasks-dir"]) == 1
    err = capsys.readouterr().err.strip()
    assert err == "fk-bench: unexpected error: RuntimeError: something nobody foresaw (rerun with --debug for the traceback)"
    assert main(["--debug", "tasks-dir"]) == 1
    assert "Traceback" in capsys.readouterr().err


def test_help_does_not_import_torch():
    import subprocess
    import sys

    code = "import sys; from fk_bench.cli import build_parser; build_parser(); print('torch' in sys.modules, 'transformers' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False"]


def test_runs_of_other_questions_get_their_own_folders(tmp_path, tiny_model):
    out = tmp_path / "out"
    for extra in ([], ["--limit", "4"], ["--relation", "paris", "--limit", "2"]):
        assert main(["eval", "--model", str(tiny_model.path), "--config", "paris", *extra, "--out", str(out), "--batch-size", "4"]) == 0
    names = sorted(p.name for p in out.iterdir() if not p.name.startswith("."))
    base = f"{tiny_model.name}--paris"
    assert names == [base, f"{base}--first4", f"{base}--relation-paris--first2"]
    counts = [json.loads((out / name / "results.json").read_text())["summary"]["n_questions"] for name in names]
    assert counts == [9, 4, 2]


def test_a_folder_of_another_spec_is_refused_before_the_model_loads(tmp_path, capsys, tiny_model, monkeypatch):
    out = tmp_path / "out"
    assert main(["eval", "--model", str(tiny_model.path), "--config", "paris", "--out", str(out), "--batch-size", "4"]) == 0
    folder = out / f"{tiny_model.name}--paris"
    before = (folder / "results.json").read_bytes()
    data = json.loads(before)
    data["spec"]["filter_threshold"] = 0.5  # a run of another spec in the folder this run is named after
    changed = json.dumps(data)
    import fk_bench.result_checks as results

    (folder / "results.json").write_text(changed)
    monkeypatch.setattr(results, "verify", lambda result: None)  # the figures follow the threshold; only the spec matters here
    import fk_bench.models

    def no_load(*args, **kwargs):
        raise AssertionError("the model was loaded before the output folder was checked")

    monkeypatch.setattr(fk_bench.models, "load_model", no_load)
    code, err = run_cli(["eval", "--model", str(tiny_model.path), "--config", "paris", "--out", str(out)], capsys)
    err = err.splitlines()[-1]  # the datasets library's progress lines come first
    assert code == 2 and err.startswith("fk-bench: error: ")
    assert "holds a run of another spec" in err and "filter_threshold: 0.1 != 0.5" in err and "--overwrite" in err
    assert (folder / "results.json").read_text() == changed, "the other run is untouched"
    monkeypatch.undo()
    assert main(["eval", "--model", str(tiny_model.path), "--config", "paris", "--out", str(out), "--batch-size", "4", "--overwrite"]) == 0
    assert json.loads((folder / "results.json").read_text())["spec"]["filter_threshold"] == 0.1


def test_an_unreadable_results_file_in_the_folder_is_refused_not_replaced(tmp_path, capsys, tiny_model):
    folder = tmp_path / "out" / f"{tiny_model.name}--paris"
    folder.mkdir(parents=True)
    (folder / "results.json").write_text('{"schema_version": 2, "schema_version": 3}')
    code, err = run_cli(["eval", "--model", str(tiny_model.path), "--config", "paris", "--out", str(tmp_path / "out")], capsys)
    assert code == 2 and "cannot read" in err and "duplicate key" in err and "--overwrite" in err
    assert (folder / "results.json").read_text() == '{"schema_version": 2, "schema_version": 3}'


def test_a_full_disk_while_writing_results_is_one_line_and_loses_nothing(tmp_path, capsys, tiny_model, monkeypatch):
    import errno
    from pathlib import Path

    out = tmp_path / "out"
    args = ["eval", "--model", str(tiny_model.path), "--config", "paris", "--out", str(out), "--batch-size", "4"]
    assert main(args) == 0
    folder = out / f"{tiny_model.name}--paris"
    (folder / "notes.txt").write_text("mine")
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    real_write_text = Path.write_text

    def full_disk(self, *a, **k):
        if self.name == "results.json":
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write_text(self, *a, **k)

    monkeypatch.setattr(Path, "write_text", full_disk)
    code, err = run_cli(args, capsys)
    err = err.splitlines()[-1]
    assert code == 2 and err.startswith("fk-bench: error: ") and "No space left on device" in err and "earlier files are as they were" in err
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before, "every earlier file intact"
    assert [p.name for p in out.iterdir() if p.name.startswith(".fk-bench-staging")] == []


@pytest.mark.parametrize("out", [".", "fk_bench/dataset/sources/lre/new", "/"])
def test_build_dataset_refuses_an_output_inside_its_own_input_before_work(capsys, monkeypatch, out):
    import fk_bench.dataset.write as write

    monkeypatch.setattr(write, "build_dataset", lambda *a, **k: pytest.fail("the build started"))
    from pathlib import Path

    monkeypatch.chdir(Path(__file__).resolve().parents[2])
    code, err = run_cli(["build-dataset", "--out", out], capsys)
    assert code == 2 and "which the build reads; choose a folder outside it" in err


def test_questions_csv_carries_dataset_text_inert_and_numbers_as_numbers(tmp_path, tiny_model):
    import pandas as pd

    rows = '"=HYPERLINK(""https://evil.example"",""x"")",yes\n@SUM(A1),no\n-1+2 is three?,no\n+cmd,yes\nIs Rome in Italy?,yes\n'
    data = write(tmp_path / "evil.csv", "question,answer\n" + rows)
    assert main(["eval", "--model", str(tiny_model.path), "--dataset", data, "--out", str(tmp_path / "out"), "--batch-size", "8"]) == 0
    (csv,) = (tmp_path / "out").glob("*/questions.csv")
    table = pd.read_csv(csv)
    assert list(table["question"]) == ['\'=HYPERLINK("https://evil.example","x")', "'@SUM(A1)", "'-1+2 is three?", "'+cmd", "Is Rome in Italy?"]
    assert pd.api.types.is_float_dtype(table["log_odds"]) and (table["log_odds"] < 0).any(), "negative numbers stay numbers"
