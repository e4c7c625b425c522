"""The loader: the packaged dataset by default, user CSV/JSONL files, and one-line errors naming file, line and field."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from fk_bench.cli import main
from fk_bench.data import DEFAULT_DATASET, load_questions
from fk_bench.dataset.schema import QUESTION_COLUMNS
from fk_bench.errors import FkBenchError
from fk_bench.metrics import paired_accuracy


def logit(p_true: list[float]) -> np.ndarray:
    p = np.asarray(p_true, dtype=float)
    return np.log(p / (1 - p))


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def test_default_is_the_packaged_test_split_with_every_column():
    questions = load_questions()
    expected = pq.read_table(DEFAULT_DATASET / "all" / "test.parquet").to_pylist()
    assert questions.table.column_names == list(QUESTION_COLUMNS)
    assert len(questions) == len(expected) > 5000
    assert questions.table[0] == expected[0] and questions.table[-1] == expected[-1]
    assert all(isinstance(value, bool) for value in questions["corrupted_same_length"])


def test_configs_relations_splits_and_limit():
    paris = load_questions(config="paris")
    assert len(paris) == 9 and set(paris["relation"]) == {"paris"}
    by_config = load_questions(config="shares_border")
    by_column = load_questions(relation="shares_border")
    assert sorted(by_config["id"]) == sorted(by_column["id"]) and len(by_config) > 400
    train = load_questions(split="train")
    assert 0 < len(train) <= 120 and not set(train["question"]) & set(load_questions()["question"])
    assert len(load_questions(limit=10)) == 10


def test_question_answer_csv_loads(tmp_path):
    path = tmp_path / "fk_samples.csv"
    path.write_text("question,answer\nIs Paris the capital of France?,True\nIs Rome in Spain?,no\n", encoding="utf-8")
    questions = load_questions(path)
    assert questions["answer"] == [True, False]
    assert questions["relation"] == ["custom", "custom"] and questions["id"] == ["fk_samples-0", "fk_samples-1"]
    assert questions["corrupted_question"] == [None, None] and questions["corrupted_same_length"] == [None, None]
    assert questions["pair_id"] == [None, None]


def test_jsonl_with_optional_columns(tmp_path):
    path = write_jsonl(
        tmp_path / "mine.jsonl",
        [
            {"id": "a", "question": "Is Rome in Italy?", "answer": True, "relation": "city", "corrupted_question": "Is Rome in Spain?"},
            {"question": "Is Oslo in Chile?", "answer": 0, "corrupted_same_length": "yes"},
        ],
    )
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


@pytest.mark.parametrize("label", ["maybe", "2", "", " "])
def test_csv_non_boolean_label(tmp_path, label):
    path = tmp_path / "q.csv"
    path.write_text(f"question,answer\nIs Rome in Italy?,True\nIs Oslo in Chile?,{label}\n", encoding="utf-8")
    message = error_of(path)
    assert f"{path}:3:" in message and "field 'answer'" in message and "not a boolean" in message
    assert ("is empty" in message) == (not label.strip()) and "None" not in message


def test_jsonl_null_label_is_shown_as_empty(tmp_path):
    path = write_jsonl(tmp_path / "q.jsonl", [{"question": "Is Rome in Italy?", "answer": None}])
    message = error_of(path)
    assert f"{path}:1:" in message and "'answer' is empty" in message and "None" not in message


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


# --- malformed files: every class names the file (and row), in one line ---

HEADER = "question,answer\n"


@pytest.mark.parametrize(
    "text, line, fields",
    [
        (HEADER + "Is Rome in Italy?,true,false\n", 2, 3),  # a label too many: was scored as "true"
        (HEADER + "Is Rome in Italy?,true\nIs Paris, the capital, in France?,true\n", 3, 4),  # unquoted commas
        (HEADER + "Is Rome in Italy?\n", 2, 1),  # the label missing
        ("question,answer,relation\nIs Rome in Italy?,true,city\nIs Oslo in Chile?,false\n", 3, 2),
        (HEADER + '"Is Rome\nin Italy?",true\nIs Oslo in Chile?,false,\n', 4, 3),  # a trailing comma, after a two-line row
    ],
)
def test_csv_row_with_another_number_of_fields_than_the_header(tmp_path, text, line, fields):
    path = tmp_path / "q.csv"
    path.write_text(text, encoding="utf-8")
    message = error_of(path)
    assert message.startswith(f"{path}:{line}: {fields} field(s) but the header has")


def test_quoted_commas_and_blank_lines_are_fine(tmp_path):
    path = tmp_path / "q.csv"
    path.write_text(HEADER + '"Is Paris, the capital, in France?",true\n\nIs Oslo in Chile?,false\n', encoding="utf-8")
    assert load_questions(path)["question"] == ["Is Paris, the capital, in France?", "Is Oslo in Chile?"]


@pytest.mark.parametrize("question", ['""', "   "])
def test_empty_question(tmp_path, question):
    path = tmp_path / "q.csv"
    path.write_text(HEADER + f"Is Rome in Italy?,true\n{question},false\n", encoding="utf-8")
    assert error_of(path) == f"{path}:3: field 'question' is empty or not text"


def test_csv_header_naming_a_column_twice(tmp_path):
    path = tmp_path / "q.csv"
    path.write_text("question,answer,answer\nIs Rome in Italy?,true,false\n", encoding="utf-8")
    assert "['answer'] appear twice" in error_of(path)


ROWS = [{"question": "Is Zürich in Switzerland?", "answer": True}, {"question": "Is São Paulo in Peru?", "answer": False}]


def as_csv(rows: list[dict]) -> str:
    return HEADER + "".join(f"{row['question']},{row['answer']}\n" for row in rows)


def as_jsonl(rows: list[dict]) -> str:
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le-bom", "latin-1", "cp1252"])
@pytest.mark.parametrize("name, render", [("q.csv", as_csv), ("q.jsonl", as_jsonl)])
def test_files_not_in_utf8_say_to_save_as_utf8(tmp_path, encoding, name, render):
    path = tmp_path / name
    text = render(ROWS)
    path.write_bytes(b"\xff\xfe" + text.encode("utf-16-le") if encoding == "utf-16-le-bom" else text.encode(encoding))
    message = error_of(path)
    assert str(path) in message and "save it as UTF-8" in message


@pytest.mark.parametrize("name, render", [("q.csv", as_csv), ("q.jsonl", as_jsonl)])
def test_utf8_with_a_byte_order_mark_loads(tmp_path, name, render):
    path = tmp_path / name
    path.write_bytes(render(ROWS).encode("utf-8-sig"))
    assert load_questions(path)["question"] == [row["question"] for row in ROWS]


@pytest.mark.parametrize("name", ["q.csv", "q.jsonl", "q.json", "q.parquet"])
def test_a_folder_where_a_file_is_expected(tmp_path, name):
    (tmp_path / name).mkdir()
    message = error_of(tmp_path / name)
    assert str(tmp_path / name) in message and "is a folder, expected a file" in message


@pytest.mark.parametrize(
    "content",
    [b"not parquet at all", b"PAR1" + b"\x00" * 64 + b"PAR1", "truncated"],
)
def test_corrupt_parquet_names_the_file(tmp_path, content):
    path = tmp_path / "q.parquet"
    if content == "truncated":
        content = (DEFAULT_DATASET / "paris" / "test.parquet").read_bytes()[:-100]
    path.write_bytes(content)
    message = error_of(path)
    assert message.startswith(f"{path}: not a readable parquet file")


def test_corrupt_parquet_in_a_dataset_folder_names_the_dataset(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "test.parquet").write_bytes(b"PAR1 broken")
    with pytest.raises(FkBenchError, match="could not be loaded") as info:
        load_questions(tmp_path / "data")
    assert str(tmp_path / "data") in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize(
    "text, says",
    [
        (json.dumps(ROWS), "holds one JSON array"),
        (json.dumps(ROWS, indent=2), "holds one JSON array"),
        (json.dumps({"questions": ROWS}, indent=2), "holds one JSON object over several lines"),
        (json.dumps(ROWS[0], indent=2), "holds one JSON object over several lines"),
    ],
)
def test_json_document_instead_of_json_lines_says_what_is_expected(tmp_path, text, says):
    path = tmp_path / "q.json"
    path.write_text(text, encoding="utf-8")
    message = error_of(path)
    assert message.startswith(f"{path}: {says}") and "one object per line" in message and "Expecting" not in message


def test_unsupported_file_type(tmp_path):
    path = tmp_path / "q.tsv"
    path.write_text("question\tanswer\nIs Rome in Italy?\ttrue\n", encoding="utf-8")
    assert "unsupported file type" in error_of(path)


# --- pairs: a true question and its corrupted twin share a pair_id ---


def pair_file(tmp_path: Path, rows: list[tuple]) -> Path:
    """A JSONL file of (question, answer, corrupted_question[, pair_id]) rows."""
    keys = ("question", "answer", "corrupted_question", "pair_id")
    return write_jsonl(tmp_path / "pairs.jsonl", [dict(zip(keys, row)) for row in rows])


def members(questions) -> dict:
    """pair_id -> the questions sharing it."""
    found: dict = {}
    for question, pair_id in zip(questions["question"], questions["pair_id"]):
        if pair_id is not None:
            found.setdefault(pair_id, set()).add(question)
    return found


def test_pairs_are_found_by_matching_corrupted_question_to_question(tmp_path):
    questions = load_questions(
        pair_file(
            tmp_path,
            [
                ("Is Rome in Italy?", True, "Is Rome in Spain?"),
                ("Is Oslo in Norway?", True, "Is Oslo in Chile?"),
                ("Is Rome in Spain?", False, "Is Rome in Italy?"),
                ("Is Oslo in Chile?", False, " Is Oslo in Norway? "),  # white space around does not matter
                ("Is Lima in Peru?", True, "Is Lima in Chad?"),  # its twin is not in the data
            ],
        )
    )
    assert members(questions) == {
        "pair-0": {"Is Rome in Italy?", "Is Rome in Spain?"},
        "pair-1": {"Is Oslo in Norway?", "Is Oslo in Chile?"},
    }
    assert questions["pair_id"][4] is None
    assert questions.pairs.ids == ("pair-0", "pair-1")
    assert paired_accuracy(logit([0.9, 0.2, 0.1, 0.3, 0.5]), questions.pairs) == 0.5


@pytest.mark.parametrize("named_by", ["true", "false"])
def test_a_one_sided_link_is_a_pair(tmp_path, named_by):
    rows = [("Is Rome in Italy?", True, None), ("Is Rome in Spain?", False, None)]
    index = 0 if named_by == "true" else 1
    rows[index] = (*rows[index][:2], rows[1 - index][0])
    questions = load_questions(pair_file(tmp_path, rows))
    assert questions["pair_id"] == ["pair-0", "pair-0"]


def test_disagreeing_links_make_no_pair(tmp_path):
    """Rome-Italy names Rome-Spain, which names Rome-France back and forth: Spain and France pair, Italy stays alone."""
    questions = load_questions(
        pair_file(
            tmp_path,
            [
                ("Is Rome in Italy?", True, "Is Rome in Spain?"),
                ("Is Rome in Spain?", False, "Is Rome in France?"),
                ("Is Rome in France?", True, "Is Rome in Spain?"),
            ],
        )
    )
    assert questions["pair_id"] == [None, "pair-0", "pair-0"]


def test_no_pairs_leave_pair_id_empty_and_paired_accuracy_absent(tmp_path):
    questions = load_questions(
        pair_file(
            tmp_path,
            [
                ("Is Rome in Italy?", True, "Is Rome in Spain?"),
                ("Is Oslo in Chile?", False, None),
                ("Is Lima in Peru?", True, "Is Lima in Peru?"),
            ],
        )
    )
    assert questions["pair_id"] == [None, None, None]
    assert len(questions.pairs) == 0 and paired_accuracy(logit([0.9, 0.1, 0.5]), questions.pairs) is None


@pytest.mark.parametrize(
    "rows",
    [
        [("Is Rome in Italy?", True, "Is Rome in Spain?"), ("Is Oslo in Norway?", True, None), ("Is Rome in Spain?", True, "Is Rome in Italy?")],
        [("Is Rome in Italy?", False, None), ("Is Oslo in Norway?", True, None), ("Is Rome in Spain?", False, "Is Rome in Italy?")],
        [("Is Rome in Italy?", True, None, "p"), ("Is Oslo in Norway?", True, None), ("Is Rome in Spain?", True, None, "p")],
    ],
    ids=["mutual", "one-sided", "given pair_id"],
)
def test_a_pair_with_the_same_label_twice_names_both_rows(tmp_path, rows):
    path = pair_file(tmp_path, rows)
    message = error_of(path)
    assert message.startswith(f"{path}:3: pairs with {path}:1") and "both are labelled" in message


def test_a_pair_id_on_three_rows(tmp_path):
    path = pair_file(tmp_path, [("Is Rome in Italy?", True, None, 7), ("Is Rome in Spain?", False, None, 7), ("Is Rome in Chad?", False, None, "7")])
    message = error_of(path)
    assert "'7' is shared by 3 rows" in message and all(f"{path}:{line}" in message for line in (1, 2, 3))


def test_a_row_named_as_the_twin_of_two_others(tmp_path):
    path = pair_file(
        tmp_path,
        [("Is Rome in Italy?", True, None), ("Is Rome in Spain?", False, "Is Rome in Italy?"), ("Is Rome in Chad?", False, "Is Rome in Italy?")],
    )
    message = error_of(path)
    assert message.startswith(f"{path}:1: is named as the twin") and f"{path}:2" in message and f"{path}:3" in message


def test_a_corrupted_question_asked_twice(tmp_path):
    path = pair_file(
        tmp_path, [("Is Rome in Italy?", True, "Is Rome in Spain?"), ("Is Rome in Spain?", False, None), ("Is Rome in Spain?", False, None)]
    )
    message = error_of(path)
    assert message.startswith(f"{path}:1: field 'corrupted_question'") and "question of 2 rows" in message


def test_given_pair_ids_are_used_as_they_are(tmp_path):
    """With a pair_id column no pairs are derived: ids are kept (numbers as text), a lone id is a twin outside the data."""
    questions = load_questions(
        pair_file(
            tmp_path,
            [
                ("Is Rome in Italy?", True, "Is Rome in Spain?", 1),
                ("Is Rome in Spain?", False, "Is Rome in Italy?", 1),
                ("Is Oslo in Norway?", True, "Is Oslo in Chile?", "solo"),
                ("Is Oslo in Chile?", False, "Is Oslo in Norway?", None),
            ],
        )
    )
    assert questions["pair_id"] == ["1", "1", "solo", None]
    assert paired_accuracy(logit([0.6, 0.7, 0.9, 0.1]), questions.pairs) == 0.0


def test_packaged_pairs_survive_relation_and_limit(tmp_path):
    questions = load_questions(relation="capital_of", limit=7)
    assert sum(pair_id is not None for pair_id in questions["pair_id"]) == 7
    assert len(questions.pairs) == 3  # the 7th row's twin is cut off
    assert paired_accuracy(logit([0.9, 0.1] * 3 + [0.5]), questions.pairs) == 1.0


def test_popularity_is_a_number_or_unknown(tmp_path):
    good = tmp_path / "good.csv"
    good.write_text("question,answer,popularity\nIs Rome in Italy?,true,2.8e6\nIs Oslo in Chile?,false,\n", encoding="utf-8")
    assert load_questions(good)["popularity"] == [2.8e6, None]
    for value, message in (("many", "'many' is not a number"), ("inf", "'inf' is not a finite number")):
        bad = tmp_path / "bad.csv"
        bad.write_text(f"question,answer,popularity\nIs Rome in Italy?,true,{value}\n", encoding="utf-8")
        with pytest.raises(FkBenchError, match=f"bad.csv:2: field 'popularity': {message}"):
            load_questions(bad)


def test_the_questions_say_which_questions_they_are(tmp_path):
    from fk_bench.dataset.schema import DATASET_VERSION

    packaged = load_questions(relation="capital_of", limit=4)
    assert packaged.dataset.model_dump() == {
        "id": "fk_yesno",
        "config": "all",
        "split": "test",
        "version": DATASET_VERSION,
        "relation": "capital_of",
        "limit": 4,
        "limit_per_relation": False,
    }
    path = tmp_path / "q.csv"
    path.write_text("question,answer\nIs Rome in Italy?,true\n", encoding="utf-8")
    assert (load_questions(path).dataset.id, load_questions(path).dataset.split, load_questions(path).dataset.version) == (str(path), None, None)
    with pytest.raises(FkBenchError, match="--split test apply to dataset folders and Hub datasets, not to a single file"):
        load_questions(path, split="test")
