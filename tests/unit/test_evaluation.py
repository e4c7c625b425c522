import json
import math

import numpy as np
import pytest
import torch

from fk_bench.answer_groups import DEFAULT_GROUPS, AnswerGroups
from fk_bench.data import load_questions
from fk_bench.evaluation import evaluate, write_results
from fk_bench.prompt_formats import build_prompt
from fk_bench.prompts import encode, split_context
from fk_bench.scoring import score_answer_words

PROMPTS = [build_prompt(q) for q in ["Is Paris the capital of France?", "Is Rome in Italy?", "Is Tokyo a city in Japan?"]]


def hflm_loglikelihood(loaded, context: str, continuation: str) -> float:
    """lm-eval HFLM's definition, computed naively: encode whole, split, one full forward, sum log-probs."""
    tail = len(context) - len(context.rstrip())
    if tail:
        context, continuation = context[:-tail], context[-tail:] + continuation
    whole = encode(loaded.tokenizer, context + continuation)
    n_context = len(encode(loaded.tokenizer, context))
    with torch.no_grad():
        logits = loaded.model(torch.tensor([whole])).logits[0].double()
    logprobs = torch.log_softmax(logits, dim=-1)
    return sum(float(logprobs[i - 1, whole[i]]) for i in range(n_context, len(whole)))


def test_scores_equal_naive_lm_eval_definition(tiny_model):
    scores, n_tokens = score_answer_words(tiny_model, PROMPTS, DEFAULT_GROUPS.words, batch_size=2, progress=False)
    assert (n_tokens > 1).any(), "the tiny tokenizer splits some answer words: the multi-token path is exercised"
    for q, prompt in enumerate(PROMPTS):
        _context, _delimiter = split_context(prompt)
        stem = hflm_loglikelihood(tiny_model, prompt, "")
        for w, word in enumerate(DEFAULT_GROUPS.words):
            expected = hflm_loglikelihood(tiny_model, prompt, word) - stem
            assert scores[q, w] == pytest.approx(expected, abs=1e-4), (prompt, word)


def test_scores_are_log_probabilities_after_the_prompt(tiny_model):
    """With the plain prompt "Q\\n", a single-token word's score is log P(word | Q\\n) from the full logits."""
    scores, n_tokens = score_answer_words(tiny_model, PROMPTS[:1], DEFAULT_GROUPS.words, progress=False)
    ids = encode(tiny_model.tokenizer, PROMPTS[0])
    with torch.no_grad():
        logprobs = torch.log_softmax(tiny_model.model(torch.tensor([ids])).logits[0, -1].double(), -1)
    for w, word in enumerate(DEFAULT_GROUPS.words):
        if n_tokens[0, w] == 1:
            token = tiny_model.tokenizer.encode(word, add_special_tokens=False)
            assert scores[0, w] == pytest.approx(float(logprobs[token[0]]), abs=1e-5)


def test_batch_size_does_not_change_scores(tiny_model):
    one, _ = score_answer_words(tiny_model, PROMPTS, DEFAULT_GROUPS.words, batch_size=1, progress=False)
    many, _ = score_answer_words(tiny_model, PROMPTS, DEFAULT_GROUPS.words, batch_size=8, progress=False)
    np.testing.assert_allclose(one, many, atol=1e-5)


def test_evaluate_and_write(tiny_model, paris_questions, tmp_path):
    result = evaluate(tiny_model, paris_questions, DEFAULT_GROUPS, batch_size=4, progress=False)
    summary = result.summary
    assert summary.n_questions == len(paris_questions)
    assert summary.accuracy == pytest.approx(result.frame["accuracy"].mean())
    assert summary.n_pass_filter == int(result.frame["passes_filter"].sum())
    words = result.answer_word_tokens
    assert set(words.multi_token) | set(words.single_token) == set(DEFAULT_GROUPS.words)
    path = write_results(result, tmp_path)
    data = json.loads(path.read_text())
    assert data["model"]["name"] == tiny_model.name
    assert len(data["questions"]) == len(paris_questions)
    assert all(math.isfinite(row["log_odds"]) for row in data["questions"])
    assert (path.parent / "questions.csv").exists()
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")], "no temporary files left behind"


def test_fewshot_prompt_is_deterministic(tiny_model, paris_questions):
    a = evaluate(tiny_model, paris_questions, DEFAULT_GROUPS, prompt_format="fewshot", fewshot_k=2, progress=False)
    b = evaluate(tiny_model, paris_questions, DEFAULT_GROUPS, prompt_format="fewshot", fewshot_k=2, progress=False)
    np.testing.assert_array_equal(a.frame["log_odds"], b.frame["log_odds"])


def test_custom_groups(tiny_model):
    groups = AnswerGroups(("Yes",), ("No",))
    questions = load_questions(config="paris")
    result = evaluate(tiny_model, questions, groups, progress=False)
    assert list(result.frame.filter(like="score[").columns) == ["score[Yes]", "score[No]"]
    assert result.spec.answer_map == 'words {"True": ["Yes"], "False": ["No"]}', "never mistaken for the default map"
