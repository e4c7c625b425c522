"""Prompt building: the chat format's error names the model (never a blank), and the chat prompt is the
tokenizer's template output with the generation prompt (what lm-eval's --apply_chat_template builds)."""

import pytest
from support import build_tiny_tokenizer

from fk_bench.errors import FkBenchError
from fk_bench.prompts import build_prompt


def test_chat_without_template_names_the_model():
    tokenizer = build_tiny_tokenizer()
    assert not tokenizer.name_or_path, "an in-memory tokenizer records no source: the message must not go blank"
    with pytest.raises(FkBenchError, match="the tokenizer of this model has no chat template"):
        build_prompt("Q?", "chat", tokenizer)
    with pytest.raises(FkBenchError, match="the tokenizer of gemma-3-270m-q4_k_m has no chat template"):
        build_prompt("Q?", "chat", tokenizer, model_name="gemma-3-270m-q4_k_m")
    tokenizer.init_kwargs["name_or_path"] = "/models/tiny"  # how fk-bench's cached-model loader records it
    with pytest.raises(FkBenchError, match="the tokenizer of /models/tiny has no chat template"):
        build_prompt("Q?", "chat", tokenizer)


def test_chat_prompt_is_the_template_with_generation_prompt():
    tokenizer = build_tiny_tokenizer()
    tokenizer.chat_template = (
        "{{ bos_token }}{% for m in messages %}[{{ m['role'] }}] {{ m['content'] }}\n{% endfor %}"
        "{% if add_generation_prompt %}[assistant]\n{% endif %}"
    )
    assert build_prompt("Is Rome in Italy?", "chat", tokenizer) == "<bos>[user] Is Rome in Italy?\n[assistant]\n"
