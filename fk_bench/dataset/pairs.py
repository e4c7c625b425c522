"""From facts to rows: a true question and its false twin per fact and template, and the configs.

Every fact becomes a *pair* of questions that differ in one entity, the ``object``: the true question
and a false one whose object is another of the relation's objects (:mod:`fk_bench.dataset.matching`
chooses them so that the object alone tells nothing). Each question's ``corrupted_question`` is the
other member of its pair, and both share a ``pair_id``, so activation patching always has a minimal
pair with the opposite answer and ``paired_accuracy`` can compare them. A fact is asked in every
template of its relation (the ``paraphrase`` config) with the same twin, and all its questions share a
``fact_id``.

Per relation, at most :data:`MAX_FALSE` facts per object are kept (preferred first), two pairs go to
the few-shot pool (``train``), up to :data:`PAIRS_PER_RELATION` to ``all``, the rest to ``full`` only.
Everything is drawn from ``random.Random("<seed>:<relation>")`` and sorted, so the same seed and package
versions give the same rows in the same order.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fk_bench.dataset.checks import word_overlap
from fk_bench.dataset.entities import Entity, name_tokens
from fk_bench.dataset.knowledge import KnowledgeBase
from fk_bench.dataset.matching import MAX_FALSE, Counts, assign_twins
from fk_bench.dataset.relations import RELATIONS, Fact, Relation

DEFAULT_SEED = 0
ALL_CONFIG = "all"
FULL_CONFIG = "full"
PARAPHRASE_CONFIG = "paraphrase"
PARIS_CONFIG = "paris"
TRAIN_PAIRS_PER_RELATION = 2
PAIRS_PER_RELATION = 240
"""The cap on a relation's pairs in ``all`` (the rest are in ``full``)."""

Rows = dict[str, dict[str, list[dict[str, Any]]]]
"""Rows by config, then by split."""
Pair = tuple[Fact, Entity]

# The original study's final nine Paris questions (from its notebook: written by GPT-4o, checked by
# hand), each with a hand-written corrupted question that is not itself in the data.
PARIS_ROWS = (
    ("Is Paris the capital of France?", True, "Paris", "France", "Is Paris the capital of Italy?"),
    ("Is the Eiffel Tower located in Paris?", True, "Eiffel Tower", "Paris", "Is the Eiffel Tower located in Rome?"),
    ("Is Paris known as the City of Light?", True, "Paris", "City of Light", "Is Paris known as the City of Dark?"),
    ("Is the Louvre Museum in Rome?", False, "Louvre Museum", "Rome", "Is the Louvre Museum in Paris?"),
    ("Is the official language of Paris English?", False, "Paris", "English", "Is the official language of Paris French?"),
    ("Is Montmartre a district in Paris?", True, "Montmartre", "Paris", "Is Montmartre a district in London?"),
    ("Does Paris have a desert climate?", False, "Paris", "desert climate", "Does Paris have a temperate climate?"),
    ("Is the Seine River in Paris?", True, "Seine River", "Paris", "Is the Seine River in London?"),
    ("Is the Mona Lisa displayed in Paris?", True, "Mona Lisa", "Paris", "Is the Mona Lisa displayed in London?"),
)

# Generated questions never repeat a Paris question (so no question is in two configs).
PARIS_QUESTIONS = frozenset(question for row in PARIS_ROWS for question in (row[0], row[4]))
_PARIS_TEXT = " ".join(PARIS_QUESTIONS)


@dataclass
class RelationBuild:
    """One relation's pairs by part (train, all, rest = in ``full`` only) and what its builder reported
    (``candidates``: true facts after every check; ``confirmed``: test pairs a second source confirms)."""

    relation: Relation
    train: list[Pair]
    all: list[Pair]
    rest: list[Pair]
    candidates: int
    dropped: int
    confirmed: int
    notes: list[str] = field(default_factory=list)


@dataclass
class Build:
    """Every config's rows, and each relation's build (for the card)."""

    configs: Rows
    relations: list[RelationBuild]
    seed: int


def embedded_token_counter() -> Callable[[str], int]:
    """Token count of a question's plain prompt under the embedded model's tokenizer (build time only)."""
    from transformers import AutoTokenizer

    from fk_bench.models import embedded_model_dir
    from fk_bench.prompts import encode, question_text

    tokenizer = AutoTokenizer.from_pretrained(embedded_model_dir())
    lengths: dict[str, int] = {}

    def count(question: str) -> int:
        if question not in lengths:
            lengths[question] = len(encode(tokenizer, question_text(question)))
        return lengths[question]

    return count


def _cap_per_object(facts: list[Fact]) -> list[Fact]:
    """The facts in order, each object kept as the true object at most :data:`MAX_FALSE` times, each
    true question once."""
    uses: Counter[str] = Counter()
    seen: set[tuple[str, str]] = set()
    kept: list[Fact] = []
    for fact in facts:
        key = (fact.subject.key, fact.obj.key)
        if uses[fact.obj.key] < MAX_FALSE and key not in seen:
            uses[fact.obj.key] += 1
            seen.add(key)
            kept.append(fact)
    return kept


def _asks_paris(relation: Relation, subject: Entity, obj: Entity) -> bool:
    """Whether some wording of (subject, obj) is a question of the ``paris`` config (kept out of every other config)."""
    return any(relation.question(t, subject, obj) in PARIS_QUESTIONS for t in range(len(relation.templates)))


def relation_build(relation: Relation, kb: KnowledgeBase, seed: int, token_count: Callable[[str], int]) -> RelationBuild:
    """One relation's pairs: train, all and rest, each balanced (all + rest balanced too)."""
    rng = random.Random(f"{seed}:{relation.name}")
    noise = np.random.default_rng(rng.getrandbits(64))
    table = relation.build(kb, rng)
    facts = _cap_per_object([fact for fact in table.facts if not _asks_paris(relation, fact.subject, fact.obj)])

    def length(entity: Entity) -> int:
        return token_count(f"Is it {entity.text}?")

    def cost(fact: Fact, twin: Entity) -> float | None:
        """The relation's cost, but never a twin whose words all name the true object too ("the Won" for
        "the North Korean Won": a name both share), nor one that shares a word with the subject where the
        true object does not, or the other way round (overlap must not tell the true question)."""
        words = name_tokens(twin.text) - {"the"}
        if words and words <= name_tokens(fact.obj.text):
            return None
        if word_overlap(fact.subject.text, twin.text) != word_overlap(fact.subject.text, fact.obj.text):
            return None
        return table.cost(fact, twin)

    def false_key(fact: Fact, twin: Entity) -> tuple[Hashable, ...]:
        return (frozenset((fact.subject.key, twin.key)),) if relation.symmetric else (fact.subject.key, twin.key)

    def bad_twin(fact: Fact, twin: Entity) -> bool:
        return fact.subject.text in _PARIS_TEXT and twin.text in _PARIS_TEXT and _asks_paris(relation, fact.subject, twin)

    taken: set[Hashable] = set()

    def assign(part: list[Fact], before: Counts | None = None) -> list[Pair]:
        return assign_twins(
            part,
            cost,
            noise,
            extra_objects=table.extra_objects,
            length=length,
            false_key=false_key,
            bad_twin=bad_twin,
            before=before,
            taken=frozenset(taken),
        )

    train = assign(facts[: 4 * TRAIN_PAIRS_PER_RELATION])[:TRAIN_PAIRS_PER_RELATION]
    taken.update(false_key(fact, twin) for fact, twin in train)
    train_facts = {id(fact) for fact, _ in train}
    pool = [fact for fact in facts if id(fact) not in train_facts]
    chosen = assign(pool[:PAIRS_PER_RELATION])
    taken.update(false_key(fact, twin) for fact, twin in chosen)
    counts = Counts.empty()
    counts.add(chosen)
    rest = assign(pool[PAIRS_PER_RELATION:], counts)
    rng.shuffle(chosen)
    rng.shuffle(rest)
    confirmed = sum(1 for fact, _ in chosen + rest if table.is_confirmed(fact))
    return RelationBuild(relation, train, chosen, rest, len(facts), table.dropped, confirmed, table.notes)


def _rows(relation: Relation, fact_id: str, pair: Pair, template: int, token_count: Callable[[str], int]) -> tuple[dict[str, Any], dict[str, Any]]:
    fact, twin = pair
    name = relation.template_names[template]
    true_question = relation.question(template, fact.subject, fact.obj)
    false_question = relation.question(template, fact.subject, twin)
    same_length = token_count(true_question) == token_count(false_question)
    common = {
        "relation": relation.name,
        "domain": relation.domain,
        "template": name,
        "subject": fact.subject.name,
        "corrupted_same_length": same_length,
        "pair_id": f"{fact_id}-{name}",
        "fact_id": fact_id,
        "popularity": fact.popularity,
    }
    true_row = {
        "id": f"{fact_id}-{name}-true",
        "question": true_question,
        "answer": True,
        "object": fact.obj.name,
        "corrupted_question": false_question,
    }
    false_row = {
        "id": f"{fact_id}-{name}-false",
        "question": false_question,
        "answer": False,
        "object": twin.name,
        "corrupted_question": true_question,
    }
    return {**true_row, **common}, {**false_row, **common}


def _interleave(groups: list[list[list[dict[str, Any]]]]) -> list[dict[str, Any]]:
    """Test order: one item of each relation in turn, so any prefix (``--limit``) is balanced."""
    rows = []
    for turn in range(max((len(group) for group in groups), default=0)):
        for group in groups:
            if turn < len(group):
                rows.extend(group[turn])
    return rows


def _fewshot_order(pairs_by_relation: list[list[tuple[dict[str, Any], dict[str, Any]]]]) -> list[dict[str, Any]]:
    """Train order: relations in turn and answers alternating True/False, so the first k rows are a
    balanced few-shot prompt; the two questions of a pair are never next to each other."""
    queues = [{True: [pair[0] for pair in pairs], False: [pair[1] for pair in pairs]} for pairs in pairs_by_relation]
    rows: list[dict[str, Any]] = []
    turn = 0
    while any(queue[True] or queue[False] for queue in queues):
        answer = len(rows) % 2 == 0
        for offset in range(len(queues)):
            queue = queues[(turn + offset) % len(queues)]
            if queue[answer]:
                rows.append(queue[answer].pop(0))
                turn = (turn + offset + 1) % len(queues)
                break
        else:
            raise AssertionError("train split: true and false rows do not balance")
    return rows


def paris_rows(token_count: Callable[[str], int]) -> list[dict[str, Any]]:
    """The original study's Paris questions with their hand-written corrupted questions. Their twins are
    not in the data, so they have no pair_id (nor fact_id, domain or template)."""
    return [
        {
            "id": f"paris-{index}",
            "question": question,
            "answer": answer,
            "relation": PARIS_CONFIG,
            "domain": None,
            "template": None,
            "subject": subject,
            "object": obj,
            "corrupted_question": corrupted,
            "corrupted_same_length": token_count(question) == token_count(corrupted),
            "pair_id": None,
            "fact_id": None,
            "popularity": None,
        }
        for index, (question, answer, subject, obj, corrupted) in enumerate(PARIS_ROWS)
    ]


def build_dataset(seed: int = DEFAULT_SEED, token_count: Callable[[str], int] | None = None, relations: tuple[Relation, ...] = RELATIONS) -> Build:
    """Every config: ``all``, one per relation, ``full``, ``paraphrase`` and ``paris`` (the original study's
    questions as ``test``); every config's ``train`` is the few-shot pool."""
    kb = KnowledgeBase()
    token_count = token_count or embedded_token_counter()
    builds = [relation_build(relation, kb, seed, token_count) for relation in relations]
    train, canonical, full, paraphrased = [], [], [], []
    for build in builds:
        relation = build.relation
        ids = [f"{relation.name}-{index:04d}" for index in range(len(build.train) + len(build.all) + len(build.rest))]
        parts = [(build.train, ids[: len(build.train)]), (build.all, ids[len(build.train) : len(build.train) + len(build.all)])]
        rest_ids = ids[len(build.train) + len(build.all) :]
        train.append([_rows(relation, fact_id, pair, 0, token_count) for pair, fact_id in zip(*parts[0])])
        chosen = [list(_rows(relation, fact_id, pair, 0, token_count)) for pair, fact_id in zip(*parts[1])]
        canonical.append(chosen)
        full.append(chosen + [list(_rows(relation, fact_id, pair, 0, token_count)) for pair, fact_id in zip(build.rest, rest_ids)])
        paraphrased.append(
            [
                [row for template in range(len(relation.templates)) for row in _rows(relation, fact_id, pair, template, token_count)]
                for pair, fact_id in zip(*parts[1])
            ]
        )
    pool = _fewshot_order(train)
    configs: Rows = {ALL_CONFIG: {"train": pool, "test": _interleave(canonical)}}
    for build, pairs, rows in zip(builds, train, canonical):
        configs[build.relation.name] = {"train": [row for pair in pairs for row in pair], "test": [row for pair in rows for row in pair]}
    configs[FULL_CONFIG] = {"train": pool, "test": _interleave(full)}
    configs[PARAPHRASE_CONFIG] = {"train": pool, "test": _interleave(paraphrased)}
    configs[PARIS_CONFIG] = {"train": pool, "test": paris_rows(token_count)}
    return Build(configs, builds, seed)
