"""From facts to rows: a true question and its corrupted twin per fact, and the order of the splits.

Every fact becomes a *pair* of questions that differ in one entity, the ``object``: the true question
and a false one whose object is a plausible distractor of the same type. Each question's
``corrupted_question`` is the other member of its pair, and both share a ``pair_id``, so activation
patching always has a minimal pair with the opposite answer and ``paired_accuracy`` can compare them.
Distractors whose question has the same token length under the embedded model's tokenizer are
preferred, and ``corrupted_same_length`` records whether one was found.

Everything is sorted and drawn from ``random.Random`` seeded per relation, so the same seed (and
package versions) gives the same rows in the same order.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from fk_bench.dataset.knowledge import Entity, KnowledgeBase
from fk_bench.dataset.relations import RELATION_NAMES, RELATIONS, Fact, Relation

DEFAULT_SEED = 0
ALL_CONFIG = "all"
PARIS_CONFIG = "paris"
TRAIN_PAIRS_PER_RELATION = 2

Rows = dict[str, dict[str, list[dict]]]
"""Rows by config, then by split."""

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


def _fact_key(relation: Relation, subject: Entity, obj: Entity) -> tuple:
    return (relation.name, frozenset((subject.name, obj.name))) if relation.symmetric else (relation.name, subject.name, obj.name)


def _choose_distractor(relation: Relation, fact: Fact, rng: random.Random, used: set, token_count: Callable[[str], int]) -> Entity | None:
    """A distractor whose question has the true question's token length if any tier has one, else the
    first (shuffled) option of the most plausible tier; ``None`` when every option is used."""
    target = token_count(relation.question(fact.subject, fact.true_object))
    fallback = None
    for tier in fact.distractor_tiers:
        options = [
            entity
            for entity in tier
            if _fact_key(relation, fact.subject, entity) not in used and relation.question(fact.subject, entity) not in PARIS_QUESTIONS
        ]
        rng.shuffle(options)
        for entity in options:
            if token_count(relation.question(fact.subject, entity)) == target:
                return entity
        if fallback is None and options:
            fallback = options[0]
    return fallback


def _row(
    relation: str,
    row_id: str,
    question: str,
    answer: bool,
    subject: str,
    obj: str,
    corrupted: str,
    token_count: Callable[[str], int],
    pair_id: str | None,
) -> dict:
    return {
        "id": row_id,
        "question": question,
        "answer": answer,
        "relation": relation,
        "subject": subject,
        "object": obj,
        "corrupted_question": corrupted,
        "corrupted_same_length": token_count(question) == token_count(corrupted),
        "pair_id": pair_id,
    }


def relation_pairs(relation: Relation, kb: KnowledgeBase, seed: int, token_count: Callable[[str], int]) -> list[tuple[dict, dict]]:
    """The (true row, false row) pairs of one relation, in a seeded random order.

    The pair at position ``i`` has pair_id ``<relation>-<i>`` (four digits) and row ids ``<pair_id>-true``
    and ``<pair_id>-false``.
    """
    rng = random.Random(f"{seed}:{relation.name}")
    facts = list(relation.facts(kb, rng))
    used = {_fact_key(relation, fact.subject, fact.true_object) for fact in facts}
    pairs = []
    for fact in facts:
        if relation.question(fact.subject, fact.true_object) in PARIS_QUESTIONS:
            continue
        distractor = _choose_distractor(relation, fact, rng, used, token_count)
        if distractor is None:
            continue
        used.add(_fact_key(relation, fact.subject, distractor))
        true_question = relation.question(fact.subject, fact.true_object)
        false_question = relation.question(fact.subject, distractor)
        pairs.append(
            (
                (true_question, True, fact.subject.name, fact.true_object.name, false_question),
                (false_question, False, fact.subject.name, distractor.name, true_question),
            )
        )
    rng.shuffle(pairs)
    result = []
    for index, pair in enumerate(pairs):
        pair_id = f"{relation.name}-{index:04d}"
        result.append(
            tuple(
                _row(relation.name, f"{pair_id}-{'true' if answer else 'false'}", question, answer, subject, obj, corrupted, token_count, pair_id)
                for question, answer, subject, obj, corrupted in pair
            )
        )
    return result


def _interleave_pairs(pairs_by_relation: dict[str, list[tuple[dict, dict]]]) -> list[dict]:
    """Test order: one pair of each relation in turn, so any prefix (``--limit``) is balanced."""
    rows, round_index = [], 0
    while any(round_index < len(pairs) for pairs in pairs_by_relation.values()):
        for pairs in pairs_by_relation.values():
            if round_index < len(pairs):
                rows.extend(pairs[round_index])
        round_index += 1
    return rows


def _fewshot_order(pairs_by_relation: dict[str, list[tuple[dict, dict]]]) -> list[dict]:
    """Train order: relations in turn and answers alternating True/False, so the first k rows are a
    balanced few-shot prompt; the two questions of a pair are never next to each other."""
    queues = {name: {True: [p[0] for p in pairs], False: [p[1] for p in pairs]} for name, pairs in pairs_by_relation.items()}
    names = list(queues)
    rows, turn = [], 0
    while any(queue[True] or queue[False] for queue in queues.values()):
        answer = len(rows) % 2 == 0
        for offset in range(len(names)):
            name = names[(turn + offset) % len(names)]
            if queues[name][answer]:
                rows.append(queues[name][answer].pop(0))
                turn = (turn + offset + 1) % len(names)
                break
        else:
            raise AssertionError("train split: true and false rows do not balance")
    return rows


def paris_rows(token_count: Callable[[str], int]) -> list[dict]:
    """The original study's Paris questions with their hand-written corrupted questions. Their twins are
    not in the data, so they have no pair_id."""
    return [
        _row(PARIS_CONFIG, f"paris-{index}", question, answer, subject, obj, corrupted, token_count, None)
        for index, (question, answer, subject, obj, corrupted) in enumerate(PARIS_ROWS)
    ]


def build_splits(seed: int = DEFAULT_SEED, token_count: Callable[[str], int] | None = None) -> Rows:
    """All rows by config and split: ``all``, one config per relation, and ``paris`` (the original study's
    questions as ``test``, with the few-shot pool of ``all`` as ``train``)."""
    kb = KnowledgeBase()
    token_count = token_count or embedded_token_counter()
    train_pairs, test_pairs = {}, {}
    for relation in RELATIONS:
        pairs = relation_pairs(relation, kb, seed, token_count)
        train_pairs[relation.name] = pairs[:TRAIN_PAIRS_PER_RELATION]
        test_pairs[relation.name] = pairs[TRAIN_PAIRS_PER_RELATION:]
    configs = {ALL_CONFIG: {"train": _fewshot_order(train_pairs), "test": _interleave_pairs(test_pairs)}}
    for name in RELATION_NAMES:
        configs[name] = {
            "train": [row for pair in train_pairs[name] for row in pair],
            "test": [row for pair in test_pairs[name] for row in pair],
        }
    configs[PARIS_CONFIG] = {"train": configs[ALL_CONFIG]["train"], "test": paris_rows(token_count)}
    return configs
