"""The loader: the packaged dataset by default, user CSV/JSONL files, and one-line errors naming file, line and field."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from fk_bench.cli import main
from fk_bench.data import COLUMNS, DEFAULT_DATASET, load_questions
from fk_bench.errors import FkBenchError


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def test_default_is_the_packaged_test_split_with_every_column():
    questions = load_questions()
    expected = pq.read_table(DEFAULT_DATASET / "all" / "test.parquet").to_pylist()
    assert questions.column_names == list(COLUMNS)
    assert len(questions) == len(expected) > 5000
    assert questions[0] == expected[0] and questions[-1] == expected[-1]
    assert all(isinstance(value, bool) for value in questions["corrupted_same_length"])


def test_configs_relations_splits_and_limit():
    paris = load_questions(config="paris")
    assert len(paris) == 9 and set(paris["relation"]) == {"paris"}
    by_config = load_questions(config="shares_border")
    by_column = load_questions(relation="shares_border")
    assert sorted(by_config["id"]) == sorted(by_column["id"]) and len(by_config) > 500
    train = load_questions(split="train")
    assert 0 < len(train) < 100 and not set(train["question"]) & set(load_questions()["question"])
    assert len(load_questions(limit=10)) == 10


def test_seed_csv_format_loads(tmp_path):
    path = tmp_path / "fk_samples.csv"
    path.write_text("question,answer\nIs Paris the capital of France?,True\nIs Rome in Spain?,no\n", encoding="utf-8")
    questions = load_questions(path)
    assert questions["answer"] == [True, False]
    assert questions["relation"] == ["custom", "custom"] and questions["id"] == ["fk_samples-0", "fk_samples-1"]
    assert questions["corrupted_question"] == [None, None] and questions["corrupted_same_length"] == [None, None]


def test_jsonl_with_optional_columns(tmp_path):
    path = write_jsonl(tmp_path / "mine.jsonl", [
        {"id": "a", "question": "Is Rome in Italy?", "answer": True, "relation": "city", "corrupted_question": "Is Rome in Spain?"},
        {"question": "Is Oslo in Chile?", "answer": 0, "corrupted_same_length": "yes"},
    ])
    questions = load_questions(path)
    assert questions["id"] == ["a", "mine-1"] and questions["relation"] == ["city", "custom"]
    assert questions["corrupted_question"] == ["Is Rome in Spain?", None]
    assert questions["corrupted_same_length"] == [None, True]


def error_of(path: Path) -> str:
    with pytest.raises(FkBenchError) as info:
        load_questions(path)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_csv_missing_column_names_file_line_and_field(tmp_path):
    path = tmp_path / "q.csv"
    path.write_text("question,label\nIs Rome in Italy?,True\n", encoding="utf-8")
    message = error_of(path)
    assert f"{path}:1:" in message and "'answer'" in message


def test_jsonl_missing_column_names_file_line_and_field(tmp_path):
    path = write_jsonl(tmp_path / "q.jsonl", [{"question": "Is Rome in Italy?", "answer": True}, {"question": "Is Oslo in Chile?"}])
    message = error_of(path)
    assert f"{path}:2:" in message and "'answer'" in message


@pytest.mark.parametrize("label", ["maybe", "2", ""])
def test_csv_non_boolean_label(tmp_path, label):
    path = tmp_path / "q.csv"
    path.write_text(f"question,answer\nIs Rome in Italy?,True\nIs Oslo in Chile?,{label}\n", encoding="utf-8")
    message = error_of(path)
    assert f"{path}:3:" in message and "field 'answer'" in message and "not a boolean" in message


def test_jsonl_non_boolean_label(tmp_path):
    path = write_jsonl(tmp_path / "q.jsonl", [{"question": "Is Rome in Italy?", "answer": "sure"}])
    message = error_of(path)
    assert f"{path}:1:" in message and "field 'answer'" in message and "'sure'" in message


def test_non_boolean_same_length_flag(tmp_path):
    path = write_jsonl(tmp_path / "q.jsonl", [{"question": "Is Rome in Italy?", "answer": True, "corrupted_same_length": "often"}])
    message = error_of(path)
    assert f"{path}:1:" in message and "field 'corrupted_same_length'" in message


def test_conflicting_labels_name_both_lines(tmp_path):
    path = tmp_path / "q.csv"
    path.write_text("question,answer\nIs Rome in Italy?,True\nIs Oslo in Chile?,False\nIs Rome in Italy?,False\n", encoding="utf-8")
    message = error_of(path)
    assert f"{path}:4:" in message and f"{path}:2" in message and "field 'answer'" in message and "Is Rome in Italy?" in message


def test_conflicting_labels_in_jsonl(tmp_path):
    path = write_jsonl(tmp_path / "q.jsonl", [{"question": "Is Rome in Italy?", "answer": "yes"}, {"question": "Is Rome in Italy? ", "answer": "no"}])
    message = error_of(path)
    assert f"{path}:2:" in message and f"{path}:1" in message


@pytest.mark.parametrize("name, text", [("q.csv", ""), ("q.csv", "question,answer\n"), ("q.jsonl", ""), ("q.jsonl", "\n\n")])
def test_empty_files(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    assert error_of(path) == f"{path}: dataset is empty"


def test_missing_file_and_bad_json(tmp_path):
    assert "not found" in error_of(tmp_path / "absent.csv")
    path = tmp_path / "q.jsonl"
    path.write_text('{"question": "Is Rome in Italy?", "answer": true}\n{not json\n', encoding="utf-8")
    assert f"{path}:2:" in error_of(path)


def test_cli_reports_bad_dataset_in_one_line(tmp_path, capsys):
    path = tmp_path / "q.csv"
    path.write_text("question,answer\nIs Rome in Italy?,perhaps\n", encoding="utf-8")
    assert main(["eval", "--dataset", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("fk-bench: error:") and "\n" not in err and f"{path}:2:" in err


def test_unreachable_hub_dataset_fails_at_once(monkeypatch):
    """A name that is no local folder needs the Hub: one clear line instead of datasets' retry loop."""
    monkeypatch.setattr("fk_bench.data.offline_mode", lambda: False)
    monkeypatch.setattr("fk_bench.hub.hub_is_reachable", lambda timeout=3.0: False)
    with pytest.raises(FkBenchError, match="dataset 'some-org/some-dataset' is not a local path.*Hub cannot be reached"):
        load_questions("some-org/some-dataset")
