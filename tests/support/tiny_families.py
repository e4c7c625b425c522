"""Tiny random-weight models of the zoo's other architectures (Llama like SmolLM2, Qwen2 like
Qwen2.5-Coder), built from configs with the tiny tokenizer, and a chat template to go with them."""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path

import torch

from fk_bench.models import LoadedModel
from support import build_tiny_tokenizer

CHAT_TEMPLATE = "{% for m in messages %}<bos>system\nYou are Paris, a capital assistant of France.\nuser\n{{ m['content'] }}\n{% endfor %}assistant\n"
"""A ChatML-like template: a shared system prompt before the question and a shared tail after it."""

FAMILIES = ("llama", "qwen2")


def with_chat_template(loaded: LoadedModel) -> LoadedModel:
    """The same model with a copy of its tokenizer that has :data:`CHAT_TEMPLATE`."""
    tokenizer = copy.deepcopy(loaded.tokenizer)
    tokenizer.chat_template = CHAT_TEMPLATE
    return dataclasses.replace(loaded, tokenizer=tokenizer)


def build_tiny_family(path: Path, family: str, seed: int = 0, max_position_embeddings: int = 256, dtype: str = "float32") -> LoadedModel:
    """A 2-layer random model of ``family`` ('llama' or 'qwen2'), saved to ``path`` and loaded by fk-bench."""
    from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM

    tokenizer = build_tiny_tokenizer()
    tokenizer.chat_template = CHAT_TEMPLATE
    common = dict(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        max_position_embeddings=max_position_embeddings,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    if family == "llama":  # SmolLM2's shape: grouped-query attention, tied embeddings
        config, model_class = LlamaConfig(num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=True, **common), LlamaForCausalLM
    elif family == "qwen2":  # Qwen2.5's: 6 query heads share 2 key/value heads, biased q/k/v projections
        config, model_class = Qwen2Config(num_attention_heads=6, num_key_value_heads=2, head_dim=16, **common), Qwen2ForCausalLM
    else:
        raise ValueError(f"family {family!r}: choose one of {FAMILIES}")
    config.architectures = [model_class.__name__]
    torch.manual_seed(seed)
    model = model_class(config)
    with torch.no_grad():  # as in support.build_tiny_model: distinct answer-word probabilities
        model.get_input_embeddings().weight.mul_(20.0)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    from fk_bench.models import load_model

    return load_model(str(path), device="cpu", dtype=dtype)
