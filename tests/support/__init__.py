"""Test helpers shared by every test folder: a tiny random-weight Gemma 3 with a small byte-level BPE
tokenizer (built from a config, no download)."""

from __future__ import annotations

from pathlib import Path

import torch

from fk_bench.answer_groups import DEFAULT_ANSWER_MAP
from fk_bench.models import LoadedModel

CORPUS = [
    "Is Paris the capital of France?",
    "Is Paris the capital of Italy?",
    "Is Rome in Italy?",
    "Is the Eiffel Tower located in Paris?",
    "Is the Louvre Museum in Rome?",
    "Does Paris have a desert climate?",
    "Is Berlin the capital of Germany?",
    "Is Madrid the capital of Spain?",
    "Is Tokyo a city in Japan?",
    *DEFAULT_ANSWER_MAP["True"],
    *DEFAULT_ANSWER_MAP["False"],
]


def build_tiny_tokenizer():
    """A deterministic byte-level BPE tokenizer that adds BOS like Gemma's."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=["<pad>", "<eos>", "<bos>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator([line + "\n" for line in CORPUS] * 3, trainer=trainer)
    tok.post_processor = processors.TemplateProcessing(single="<bos> $A", special_tokens=[("<bos>", tok.token_to_id("<bos>"))])
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<bos>", eos_token="<eos>", pad_token="<pad>")


def build_tiny_model(path: Path, seed: int = 0) -> LoadedModel:
    """A 2-layer random Gemma 3 saved to ``path`` and loaded as fk-bench loads any local model."""
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig

    tokenizer = build_tiny_tokenizer()
    config = Gemma3TextConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=1,
        head_dim=16,
        max_position_embeddings=256,
        sliding_window=64,
        layer_types=["sliding_attention", "full_attention"],
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    config.architectures = ["Gemma3ForCausalLM"]
    torch.manual_seed(seed)
    model = Gemma3ForCausalLM(config)
    # Random init leaves small logits; scale the embeddings up so answer words get distinct probabilities.
    with torch.no_grad():
        model.model.embed_tokens.weight.mul_(20.0)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    from fk_bench.models import load_model

    return load_model(str(path), device="cpu")
