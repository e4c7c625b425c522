"""Prompt building: the chat format's error names the model (never a blank), and the chat prompt is the
tokenizer's template output with the generation prompt (what lm-eval's --apply_chat_template builds)."""

import pytest
from support import build_tiny_tokenizer

from fk_bench.errors import FkBenchError
from fk_bench.prompt_formats import build_prompt
from fk_bench.prompts import encode, encode_continuations, split_context


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


# ---- encode_continuations: one encoding per prompt, exactly HFLM's ids ----------------------------

WORDS = ("", "Yes", "No", " no", "Affirmative", "Nah", "?", "\n", "é")


def _per_question(tokenizer, prompts, words):
    """lm-eval's HFLM, one request at a time: encode(context + delimiter + word)[len(encode(context)):]."""
    contexts, continuations = [], []
    for prompt in prompts:
        context, delimiter = split_context(prompt)
        context_ids = encode(tokenizer, context)
        contexts.append(context_ids)
        continuations.append(tuple(tuple(encode(tokenizer, context + delimiter + w)[len(context_ids) :]) for w in words))
    return contexts, continuations


def _varied_prompts(tokenizer):
    tokenizer.chat_template = "{{ bos_token }}{% for m in messages %}user: {{ m['content'] }}\n{% endfor %}assistant:\n"
    questions = ["Is Paris the capital of France?", "Is Rome in Italy?", "Is Tokyo a city in Japan?", "Is Madrid the capital of Spain?"]
    prompts = [build_prompt(q) for q in questions]  # one shared tail "?"
    prompts += [build_prompt(q, "chat", tokenizer) for q in questions]  # context starting with BOS, tail "assistant:"
    prompts += [q + " " for q in questions[:2]]  # a space delimiter
    prompts += ["Is it café?\n", "Is it café?\n", "Is Paris é", "Is Rome é", "Is it 💡\n", "Is it 💡\n"]  # multi-byte tails
    prompts += ["Is it Italy", "Is it Italy", "Once?", "\nIs Rome in Italy?\n"]  # a tail the words merge with; one seen once
    return prompts


def test_continuations_are_the_per_question_encoding():
    tokenizer = build_tiny_tokenizer()
    prompts = _varied_prompts(tokenizer)
    contexts, continuations = encode_continuations(tokenizer, prompts, WORDS)
    expected_contexts, expected = _per_question(tokenizer, prompts, WORDS)
    assert contexts == expected_contexts
    assert continuations == expected
    assert continuations[1] is continuations[2], "prompts with one tail share one derivation (the first is checked in full)"


def test_a_tail_whose_merge_reaches_back_is_encoded_in_full():
    """A BPE without pre-tokenizer where appending "c" re-tokenizes the context before its last token
    ("x"+"ab" -> "xa"+"bc"): the check on the tail's first prompt finds it, and every prompt of that
    tail is encoded in full."""
    from tokenizers import Tokenizer, models
    from transformers import PreTrainedTokenizerFast

    vocab = {c: i for i, c in enumerate(["<bos>", "x", "a", "b", "c", "y", "ab", "bc", "xa", "?"])}
    merges = [("b", "c"), ("a", "b"), ("x", "a")]
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=Tokenizer(models.BPE(vocab, merges)), bos_token="<bos>")
    prompts = ["xab", "yab", "xab", "y?"]
    words = ("", "c", "a")
    contexts, continuations = encode_continuations(tokenizer, prompts, words)
    assert (contexts, continuations) == _per_question(tokenizer, prompts, words)
    assert continuations[0] != continuations[1], "the same tail, two different continuations"


def test_slow_path_for_tokenizers_without_offsets():
    class Plain:  # a tokenizer without character offsets (no is_fast)
        bos_token = None

        def __init__(self):
            self.fast = build_tiny_tokenizer()

        def encode(self, text, add_special_tokens=True):
            return self.fast.encode(text, add_special_tokens=add_special_tokens)

        def __call__(self, texts, add_special_tokens=True, return_offsets_mapping=False):
            assert not return_offsets_mapping
            return {"input_ids": [self.encode(t, add_special_tokens) for t in texts]}

    tokenizer = Plain()
    prompts = [build_prompt(q) for q in ("Is Rome in Italy?", "Is Paris the capital of France?")]
    assert encode_continuations(tokenizer, prompts, WORDS) == _per_question(tokenizer, prompts, WORDS)
