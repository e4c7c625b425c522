"""Prompt formats and the context/continuation split that lm-eval's HF model uses.

``plain`` is the original study's prompt: the question followed by "\\n" (the tokenizer prepends BOS).
``fewshot`` puts k solved examples before it. ``chat`` is the question as the user's message in the
tokenizer's chat template with the generation prompt, and the answer word follows that prompt directly
(no "\\n" of its own): exactly what ``lm_eval --apply_chat_template`` scores for the fk_yesno tasks,
which drops the task's target delimiter under a chat template (see tasks/fk_yesno/README.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fk_bench.errors import FkBenchError

PROMPT_FORMATS = ("plain", "fewshot", "chat")
QUESTION_SUFFIX = "\n"
FEWSHOT_DELIMITER = "\n\n"


def example_answer(label: bool) -> str:
    """The answer word written after a solved few-shot example."""
    return "Yes" if label else "No"


def question_text(question: str) -> str:
    """The plain prompt for one question: ``"Is Paris the capital of France?\\n"``."""
    return question + QUESTION_SUFFIX


def build_prompt(
    question: str,
    prompt_format: str = "plain",
    tokenizer: Any = None,
    examples: Sequence[dict] = (),
    *,
    model_name: str | None = None,
) -> str:
    """The full prompt string for ``question`` (what lm-eval calls the context).

    ``model_name`` only names the model in the error raised when ``chat`` finds no chat template.
    """
    if prompt_format == "plain":
        return question_text(question)
    if prompt_format == "fewshot":
        shots = "".join(question_text(ex["question"]) + example_answer(ex["answer"]) + FEWSHOT_DELIMITER for ex in examples)
        return shots + question_text(question)
    if prompt_format == "chat":
        if tokenizer is None or not getattr(tokenizer, "chat_template", None):
            name = model_name or _tokenizer_source(tokenizer)
            raise FkBenchError(f"prompt format 'chat': the tokenizer of {name} has no chat template; use 'plain' or 'fewshot'")
        return tokenizer.apply_chat_template([{"role": "user", "content": question}], tokenize=False, add_generation_prompt=True)
    raise FkBenchError(f"prompt format {prompt_format!r}: choose one of {', '.join(PROMPT_FORMATS)}")


def _tokenizer_source(tokenizer: Any) -> str:
    """Where a tokenizer came from, for messages ('this model' when it does not say)."""
    init_kwargs = getattr(tokenizer, "init_kwargs", None) or {}
    return getattr(tokenizer, "name_or_path", "") or init_kwargs.get("name_or_path") or "this model"


def split_context(prompt: str) -> tuple[str, str]:
    """Split a prompt as lm-eval's HFLM does: trailing whitespace moves into the continuation."""
    stripped = prompt.rstrip()
    return stripped, prompt[len(stripped) :]


def encode(tokenizer: Any, text: str) -> list[int]:
    """Token ids exactly as HFLM's ``tok_encode``: special tokens added unless the text already starts with BOS."""
    bos = getattr(tokenizer, "bos_token", None)
    if bos and text.startswith(bos):
        return tokenizer.encode(text, add_special_tokens=False)
    return tokenizer.encode(text)


def encode_many(tokenizer: Any, texts: Sequence[str]) -> list[list[int]]:
    """:func:`encode` of every text, through the tokenizer's batch encoder (one call per BOS case):
    the same ids, without a Python round trip per text."""
    bos = getattr(tokenizer, "bos_token", None)
    starts_with_bos = [bool(bos) and text.startswith(bos) for text in texts]
    ids: list[list[int]] = [[] for _ in texts]
    for flag in (False, True):
        chosen = [i for i, s in enumerate(starts_with_bos) if s == flag]
        if chosen:
            encoded = tokenizer([texts[i] for i in chosen], add_special_tokens=not flag)["input_ids"]
            for i, e in zip(chosen, encoded):
                ids[i] = list(e)
    return ids
