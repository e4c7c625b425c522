import json

import pytest

from fk_bench.answer_groups import DEFAULT_ANSWER_MAP, AnswerGroups, load_answer_groups
from fk_bench.errors import FkBenchError


def test_default_is_the_seed_map():
    groups = load_answer_groups()
    assert groups.to_map() == DEFAULT_ANSWER_MAP
    assert groups.words[:8] == DEFAULT_ANSWER_MAP["True"] and groups.is_true_word.count(True) == 8


def test_json_file_overrides(tmp_path):
    path = tmp_path / "map.json"
    path.write_text(json.dumps({"True": ["Yes", "True"], "False": ["No"]}))
    groups = load_answer_groups(path)
    assert groups.true_words == ("Yes", "True") and groups.false_words == ("No",)


@pytest.mark.parametrize(
    "answer_map, message",
    [
        ({"True": [], "False": ["No"]}, "answer group 'True' is empty"),
        ({"True": ["Yes"], "False": ["No", "Yes"]}, "in both the True and the False group"),
        ({"True": ["Yes"]}, "missing key"),
        ({"True": "Yes", "False": ["No"]}, "must be a list"),
        ({"True": ["Yes", ""], "False": ["No"]}, "has an empty or non-string word ''"),
        ({"True": ["Yes"], "False": ["No", "No"]}, "answer group 'False' lists a word twice"),
    ],
)
def test_bad_maps_name_the_file(tmp_path, answer_map, message):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(answer_map))
    with pytest.raises(FkBenchError, match=message) as err:
        AnswerGroups.from_json(path)
    assert str(path) in str(err.value)


def test_not_json(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text("{True: ")
    with pytest.raises(FkBenchError, match="not valid JSON"):
        load_answer_groups(path)


GOOD_MAP = {"True": ["Oui", "Sí"], "False": ["Non", "Nö"]}


@pytest.mark.parametrize(
    "write, message",
    [
        (lambda path: path.write_bytes(json.dumps(GOOD_MAP, ensure_ascii=False).encode("utf-16")), "is UTF-16 encoded; save it as UTF-8"),
        (lambda path: path.write_bytes(json.dumps(GOOD_MAP, ensure_ascii=False).encode("latin-1")), "is not UTF-8 text"),
        (lambda path: path.mkdir(), "is a folder, expected a file"),
        (lambda path: path.write_text(json.dumps(["Yes", "No"])), "holds a JSON array; expected an object of two word lists"),
        (lambda path: path.write_text('"Yes"'), "holds a JSON string; expected an object"),
        (lambda path: None, "not found"),
    ],
    ids=["utf-16", "latin-1", "folder", "array", "string", "missing"],
)
def test_unreadable_answer_maps_say_what_is_wrong(tmp_path, write, message):
    path = tmp_path / "map.json"
    write(path)
    with pytest.raises(FkBenchError, match=message) as err:
        load_answer_groups(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_utf8_answer_map_with_a_byte_order_mark_loads(tmp_path):
    path = tmp_path / "map.json"
    path.write_bytes(json.dumps(GOOD_MAP, ensure_ascii=False).encode("utf-8-sig"))
    assert load_answer_groups(path).to_map() == GOOD_MAP
