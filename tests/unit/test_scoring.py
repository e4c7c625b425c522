"""Batched scoring against its definition: one full forward per continuation, as lm-eval's HFLM runs it.

The fast path (one row per question with a tree mask for split words, the shared prefix's keys and
values reused) must give the same numbers on every architecture of the zoo: Gemma 3 (sliding-window
layers), Llama (SmolLM2) and Qwen2 (grouped-query attention, biased projections), with sdpa and eager
attention, for the plain, few-shot and chat prompts.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from support.tiny_families import build_tiny_family, with_chat_template

from fk_bench.data import fewshot_pool
from fk_bench.errors import FkBenchError
from fk_bench.metrics import relative_to_delimiter
from fk_bench.prompts import build_prompt, encode, split_context
from fk_bench.scoring import _plans, score_answer_words, shared_prefix

QUESTIONS = [
    "Is Paris the capital of France?",
    "Is Rome in Italy?",
    "Does Paris have a desert climate?",
    "Is the Louvre Museum in Rome?",
    "Is Madrid the capital of Spain?",
]
# Single-token words, a space-prefixed one, and words the tiny tokenizer never saw, which it splits
# into several tokens: the tree-shaped rows must score those.
WORDS = ("Yes", "No", " no", "Affirmative", "Nah", " Negative")


def reference_scores(loaded, prompts, words) -> np.ndarray:
    """log P(word | prompt) by definition: lm-eval's context/continuation split, one forward each."""
    loglik = np.zeros((len(prompts), len(words) + 1))
    for i, prompt in enumerate(prompts):
        context, delimiter = split_context(prompt)
        context_enc = encode(loaded.tokenizer, context)
        for j, word in enumerate(("", *words)):
            continuation = encode(loaded.tokenizer, context + delimiter + word)[len(context_enc) :]
            if not continuation:
                continue
            tokens = torch.tensor([(context_enc + continuation)[:-1]], device=loaded.model.device)
            with torch.no_grad():
                logprobs = torch.log_softmax(loaded.model(input_ids=tokens).logits[0, -len(continuation) :].double(), -1).cpu()
            loglik[i, j] = float(logprobs[torch.arange(len(continuation)), torch.tensor(continuation)].sum())
    return relative_to_delimiter(loglik)


def prompts_for(loaded, prompt_format: str, k: int = 4) -> list[str]:
    examples = fewshot_pool(k) if prompt_format == "fewshot" else []
    return [build_prompt(q, prompt_format, loaded.tokenizer, examples) for q in QUESTIONS]


@pytest.fixture(scope="module", params=["gemma3", "llama", "qwen2"])
def family_model(request, tiny_model, tmp_path_factory):
    if request.param == "gemma3":
        return with_chat_template(tiny_model)
    return build_tiny_family(tmp_path_factory.mktemp(f"tiny-{request.param}"), request.param)


@pytest.mark.parametrize("prompt_format", ["plain", "fewshot", "chat"])
def test_fast_path_equals_one_forward_per_continuation(family_model, prompt_format):
    prompts = prompts_for(family_model, prompt_format)
    expected = reference_scores(family_model, prompts, WORDS)
    for share_prefix in (True, False):
        scores, n_tokens = score_answer_words(family_model, prompts, WORDS, batch_size=3, progress=False, share_prefix=share_prefix)
        np.testing.assert_allclose(scores, expected, atol=1e-4, rtol=0)
    assert n_tokens.max() > 1, "no answer word split into several tokens: the tree rows went untested"


def test_prefix_longer_than_the_sliding_window(tiny_model):
    """The tiny Gemma 3 has a 64-token window: 4 examples make a prefix past it, which transformers'
    sliding cache layer trims; the masks must follow."""
    prompts = prompts_for(tiny_model, "fewshot", k=4)
    plans = _plans(tiny_model.tokenizer, prompts, WORDS)
    prefix, _ = shared_prefix([p.base for p in plans])
    assert len(prefix) > tiny_model.model.config.sliding_window
    expected = reference_scores(tiny_model, prompts, WORDS)
    scores, _ = score_answer_words(tiny_model, prompts, WORDS, batch_size=4, progress=False)
    np.testing.assert_allclose(scores, expected, atol=1e-4, rtol=0)


def test_eager_attention_gets_an_additive_mask(tmp_path):
    loaded = build_tiny_family(tmp_path, "llama")
    loaded.model.set_attn_implementation("eager")
    prompts = prompts_for(loaded, "chat")
    scores, _ = score_answer_words(loaded, prompts, WORDS, batch_size=8, progress=False)
    np.testing.assert_allclose(scores, reference_scores(loaded, prompts, WORDS), atol=1e-4, rtol=0)


def test_bfloat16_rows_match_bfloat16_reference(tmp_path):
    """In bfloat16 the fast path is the same computation, up to bfloat16's rounding."""
    loaded = build_tiny_family(tmp_path, "qwen2", dtype="bfloat16")
    prompts = prompts_for(loaded, "fewshot")
    scores, _ = score_answer_words(loaded, prompts, WORDS, batch_size=8, progress=False)
    assert np.isfinite(scores).all()
    np.testing.assert_allclose(scores, reference_scores(loaded, prompts, WORDS), atol=0.15, rtol=0)


def test_questions_off_the_shared_prefix_run_in_full():
    """Sequences that leave the most common path run without the prefix; nothing shared, no prefix."""
    common = list(range(100, 120))
    bases = [common + [1, 2], common + [3], common[:5] + [7, 8, 9], common + [4, 5, 6]]
    prefix, starts_with = shared_prefix(bases)
    assert prefix == common and starts_with == [True, True, False, True]
    assert shared_prefix([[1, 2, 3], [1, 2, 4]]) == ([1, 2], [True, True])
    assert shared_prefix([[1, 2, 3], [4, 5, 6]]) == ([], [False, False])
    assert shared_prefix([[1, 2, 3]]) == ([], [False])  # run once anyway: nothing to save
    # every sequence keeps one token after the prefix: one token shorter saves more than leaving one out
    prefix, starts_with = shared_prefix([common, common + [1], common + [2]])
    assert prefix == common[:-1] and starts_with == [True, True, True]


def test_outlier_prompt_falls_back_and_scores_the_same(tiny_model):
    """A question whose tokens leave the shared prefix early (here: a prompt without the examples)."""
    loaded = tiny_model
    prompts = prompts_for(loaded, "fewshot")
    prompts[3] = build_prompt(QUESTIONS[3])
    _, starts_with = shared_prefix([p.base for p in _plans(loaded.tokenizer, prompts, WORDS)])
    assert starts_with == [True, True, True, False, True]
    expected = reference_scores(loaded, prompts, WORDS)
    scores, _ = score_answer_words(loaded, prompts, WORDS, batch_size=8, progress=False)
    np.testing.assert_allclose(scores, expected, atol=1e-4, rtol=0)


def test_question_longer_than_the_context_is_refused(tmp_path):
    loaded = build_tiny_family(tmp_path, "llama", max_position_embeddings=24)
    prompts = [build_prompt("Is Rome in Italy?"), build_prompt("Is Paris the capital of France? " * 4)]
    with pytest.raises(FkBenchError, match=r"question 1: .* more than the model's context of 24"):
        score_answer_words(loaded, prompts, WORDS, progress=False)
    scores, _ = score_answer_words(loaded, prompts[:1], WORDS, progress=False)
    assert np.isfinite(scores).all()


def test_no_questions_gives_empty_scores(tiny_model):
    scores, n_tokens = score_answer_words(tiny_model, [], WORDS, progress=False)
    assert scores.shape == (0, len(WORDS)) and n_tokens.shape == (0, len(WORDS))


def test_unsupported_attention_implementation_is_a_clear_error(tmp_path):
    loaded = build_tiny_family(tmp_path, "llama")
    loaded.model.config._attn_implementation = "flash_attention_2"  # what the masks cannot be given to
    with pytest.raises(FkBenchError, match="attention implementation"):
        score_answer_words(loaded, prompts_for(loaded, "plain"), WORDS, progress=False)
