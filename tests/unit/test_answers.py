import json

import pytest

from fk_bench.answers import DEFAULT_ANSWER_MAP, AnswerGroups, load_answer_groups
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
