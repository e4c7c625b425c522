"""Choosing the pairs a report studies: twins by pair id or by corrupted question, the margin, token lengths, prompts."""

from __future__ import annotations

import pandas as pd
import pytest
from support import build_tiny_tokenizer
from support.interp import CHAT_TEMPLATE

from fk_bench.data import fewshot_pool
from fk_bench.prompts import build_prompt, encode
from interp.core.studied_pairs import pair_rows, select_pairs, true_log_odds


def _table(rows: list[tuple[str, str, bool, str, float, str | None]]) -> pd.DataFrame:
    """Rows of (id, question, label, corrupted question, signed log_odds, pair id) as the evaluator's table."""
    table = pd.DataFrame(rows, columns=["id", "question", "answer", "corrupted_question", "log_odds", "pair_id"])
    return table.assign(true_log_odds=table["log_odds"].where(table["answer"], -table["log_odds"]))


TABLE = _table(
    [
        ("a-true", "Is Paris the capital of France?", True, "Is Paris the capital of Italy?", 2.0, "a"),
        ("a-false", "Is Paris the capital of Italy?", False, "Is Paris the capital of France?", 0.5, "a"),  # t_vs_f -0.5: margin 2.5
        ("b-false", "Is Berlin the capital of Spain?", False, "Is Berlin the capital of Germany?", -1.0, "b"),  # t_vs_f +1.0
        ("b-true", "Is Berlin the capital of Germany?", True, "Is Berlin the capital of Spain?", 1.5, "b"),  # margin 0.5
        ("c-true", "Is Rome in Italy?", True, "Is Rome in the Eiffel Tower?", 3.0, "c"),
        ("c-false", "Is Rome in the Eiffel Tower?", False, "Is Rome in Italy?", 3.0, "c"),  # margin 6, lengths differ
        ("d-true", "Is Tokyo a city in Japan?", True, None, 4.0, None),  # no twin
    ]
)


@pytest.fixture(scope="module")
def tokenizer():
    return build_tiny_tokenizer()


def test_pairs_by_pair_id_put_the_true_question_first():
    assert pair_rows(TABLE) == [(0, 1, "a"), (3, 2, "b"), (4, 5, "c")]


def test_pairs_found_by_the_loader_from_corrupted_questions_are_used(tmp_path):
    """Data without pair ids: the loader pairs rows by corrupted_question once; interp reads those pairs."""
    from fk_bench.data import load_questions

    path = tmp_path / "q.csv"
    TABLE.drop(columns=["pair_id", "log_odds", "true_log_odds"]).to_csv(path, index=False)
    questions = load_questions(path).to_pandas()
    assert pair_rows(questions) == [(0, 1, "pair-0"), (3, 2, "pair-1"), (4, 5, "pair-2")]


def test_true_log_odds_are_the_evaluators():
    assert true_log_odds(TABLE).tolist() == [2.0, -0.5, 1.0, 1.5, 3.0, -3.0, 4.0]


def test_margin_and_token_lengths_decide_and_every_skip_is_counted(tokenizer):
    selection = select_pairs(TABLE, tokenizer, "plain", [], margin=1.0)
    assert (selection.n_pairs, selection.n_right) == (3, 2)  # b's margin is 0.5
    assert [p.pair_id for p in selection.pairs] == ["a"]
    assert [s["pair_id"] for s in selection.length_mismatch] == ["c"]
    mismatch = selection.length_mismatch[0]
    assert mismatch["clean_tokens"] != mismatch["corrupted_tokens"]
    pair = selection.pairs[0]
    assert pair.margin == pytest.approx(2.5)
    assert (pair.clean_id, pair.corrupted_id) == ("a-true", "a-false")
    assert pair.clean_tokens[: pair.shared_prefix] == pair.corrupted_tokens[: pair.shared_prefix]
    assert pair.clean_tokens[pair.shared_prefix] != pair.corrupted_tokens[pair.shared_prefix]
    assert selection.to_json()["n_studied"] == 1
    assert [p.pair_id for p in select_pairs(TABLE, tokenizer, "plain", [], margin=0.0).pairs] == ["a", "b"]
    assert select_pairs(TABLE, tokenizer, "plain", [], margin=0.0, max_pairs=1).n_right == 3  # counted past the cap


@pytest.mark.parametrize("prompt_format", ["plain", "fewshot", "chat"])
def test_prompts_and_tokens_are_the_evaluators(tokenizer, prompt_format):
    tokenizer.chat_template = CHAT_TEMPLATE
    examples = fewshot_pool(2) if prompt_format == "fewshot" else []
    pair = select_pairs(TABLE, tokenizer, prompt_format, examples, margin=1.0).pairs[0]
    assert pair.clean_prompt == build_prompt("Is Paris the capital of France?", prompt_format, tokenizer, examples)
    assert pair.corrupted_prompt == build_prompt("Is Paris the capital of Italy?", prompt_format, tokenizer, examples)
    assert list(pair.clean_tokens) == encode(tokenizer, pair.clean_prompt)
    if prompt_format != "plain":  # the examples or the system prompt lengthen the shared prefix
        plain = select_pairs(TABLE, tokenizer, "plain", [], margin=1.0).pairs[0]
        assert pair.shared_prefix > plain.shared_prefix


def test_corrupted_questions_that_are_no_row_are_scored_as_twins(tokenizer):
    """The notebook's Paris questions: each row has a corrupted question of the opposite label that is no row."""
    table = _table(
        [
            ("t", "Is Paris the capital of France?", True, "Is Paris the capital of Italy?", 3.0, None),
            ("f", "Is the Louvre Museum in Rome?", False, "Is the Louvre Museum in Paris?", 2.0, None),  # its twin is the true one
            ("x", "Is Rome in Italy?", True, None, 1.0, None),
        ]
    )
    scored: list[str] = []

    def score(prompts):
        scored.extend(prompts)
        return [0.5, 4.0][: len(prompts)]  # log(p_T/p_F) of "... Italy?" and of "... in Paris?"

    selection = select_pairs(table, tokenizer, "plain", [], margin=1.0, score=score)
    assert scored == ["Is Paris the capital of Italy?\n", "Is the Louvre Museum in Paris?\n"]
    assert (selection.n_pairs, selection.n_twins_scored, selection.n_right) == (2, 2, 2)
    first, second = selection.pairs
    assert (first.clean_id, first.corrupted_id, first.margin) == ("t", "t:corrupted", 2.5)  # 3.0 - 0.5
    # The false row is the corrupted side; its twin, true, the clean one: 4.0 - (-2.0).
    assert (second.clean_id, second.corrupted_id, second.clean_question, second.margin) == ("f:corrupted", "f", "Is the Louvre Museum in Paris?", 6.0)
    assert select_pairs(table, tokenizer, "plain", [], margin=1.0).n_pairs == 0  # without a scorer: complete pairs only


def test_noise_corruption_skips_no_pair_and_twin_alignment_keeps_other_lengths(tokenizer):
    """Under noise the twin's tokens do not matter; under twin with role alignment, pairs of other lengths are kept and listed."""
    noise = select_pairs(TABLE, tokenizer, "plain", [], margin=1.0, corruption="noise")
    assert [p.pair_id for p in noise.pairs] == ["a", "c"] and noise.n_skipped == 0
    aligned = select_pairs(TABLE, tokenizer, "plain", [], margin=1.0, keep_length_mismatch=True)
    assert [p.pair_id for p in aligned.pairs] == ["a", "c"] and aligned.aligned_by_role == ["c"] and aligned.n_skipped == 0
    assert not aligned.pairs[1].same_length and aligned.pairs[0].same_length
    skipped = select_pairs(TABLE, tokenizer, "plain", [], margin=1.0)
    assert skipped.n_skipped == 1 and skipped.to_json()["n_skipped"] == 1
    with pytest.raises(ValueError, match="corruption 'blur'"):
        select_pairs(TABLE, tokenizer, "plain", [], margin=1.0, corruption="blur")


def test_subject_and_object_come_from_the_rows():
    table = TABLE.assign(
        subject=["Paris", "Paris", "Berlin", "Berlin", "Rome", "Rome", "Tokyo"],
        object=["France", "Italy", "Spain", "Germany", "Italy", "the Eiffel Tower", "Japan"],
    )
    pair = select_pairs(table, build_tiny_tokenizer(), "plain", [], margin=1.0).pairs[0]
    assert (pair.subject, pair.object, pair.corrupted_object) == ("Paris", "France", "Italy")


def test_the_evaluators_true_log_odds_column_is_used_as_it_is():
    table = TABLE.assign(true_log_odds=[9.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0])
    assert true_log_odds(table)[0] == 9.0
