"""Prompt text pieces and token ids exactly as lm-eval's HF model (HFLM) makes them.

The formats themselves (plain, fewshot, chat: how each builds its prompt) are registered in
:mod:`fk_bench.prompt_formats`; this module holds what they share: the question's own text, the
few-shot answer words, lm-eval's context/continuation split, and the encoding of a prompt and its
answer words into token ids (one encoding per prompt).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

QUESTION_SUFFIX = "\n"
FEWSHOT_DELIMITER = "\n\n"


def example_answer(label: bool) -> str:
    """The answer word written after a solved few-shot example."""
    return "Yes" if label else "No"


def question_text(question: str) -> str:
    """The plain prompt for one question: ``"Is Paris the capital of France?\\n"``."""
    return question + QUESTION_SUFFIX


def split_context(prompt: str) -> tuple[str, str]:
    """Split a prompt as lm-eval's HFLM does: trailing whitespace moves into the continuation."""
    stripped = prompt.rstrip()
    return stripped, prompt[len(stripped) :]


def encode(tokenizer: Any, text: str) -> list[int]:
    """Token ids exactly as HFLM's ``tok_encode``: special tokens added unless the text already starts with BOS."""
    bos: str | None = getattr(tokenizer, "bos_token", None)
    ids: list[int] = tokenizer.encode(text, add_special_tokens=not (bos and text.startswith(bos)))
    return ids


def encode_batch(tokenizer: Any, texts: Sequence[str], offsets: bool = False) -> tuple[list[list[int]], list[list[tuple[int, int]]] | None]:
    """:func:`encode` of every text through the tokenizer's batch encoder (one call per BOS case), and each
    token's character span when ``offsets`` (fast tokenizers only; None otherwise)."""
    bos: str | None = getattr(tokenizer, "bos_token", None)
    starts_with_bos = [bos is not None and bos != "" and text.startswith(bos) for text in texts]
    with_offsets = offsets and bool(getattr(tokenizer, "is_fast", False))
    ids: list[list[int]] = [[] for _ in texts]
    spans: list[list[tuple[int, int]]] = [[] for _ in texts]
    for flag in (False, True):
        chosen = [i for i, s in enumerate(starts_with_bos) if s == flag]
        if chosen:
            encoded = tokenizer([texts[i] for i in chosen], add_special_tokens=not flag, return_offsets_mapping=with_offsets)
            for j, i in enumerate(chosen):
                ids[i] = list(encoded["input_ids"][j])
                if with_offsets:
                    spans[i] = [tuple(span) for span in encoded["offset_mapping"][j]]
    return ids, spans if with_offsets else None


def encode_many(tokenizer: Any, texts: Sequence[str]) -> list[list[int]]:
    """:func:`encode` of every text, through the tokenizer's batch encoder (one call per BOS case):
    the same ids, without a Python round trip per text."""
    return encode_batch(tokenizer, texts)[0]


MIN_SHARED_TAIL = 2
"""A prompt tail seen this often is encoded once with each answer word; a rarer one is cheaper to encode in full."""

Continuations = tuple[tuple[int, ...], ...]
"""One prompt's continuation ids, one tuple per word (prompts with the same tail share the object)."""


def encode_continuations(tokenizer: Any, prompts: Sequence[str], words: Sequence[str]) -> tuple[list[list[int]], list[Continuations]]:
    """Each prompt's context ids and, for each word, the ids of ``delimiter + word`` after them, exactly as
    lm-eval's HFLM encodes a request: ``encode(context + delimiter + word)[len(encode(context)):]``
    (:func:`split_context` gives context and delimiter).

    One encoding per prompt, not one per (prompt, word): the ids of ``context + delimiter + word`` are
    taken as the context's ids but its last token (its *tail*), then the ids of ``tail + delimiter +
    word`` (a word may merge with the tail: "?" + "\\n" -> "?\\n"), encoded once per distinct (tail,
    delimiter). That derivation is checked once per (tail, delimiter) against the full encoding of the
    first prompt that has it; a merge reaching past the tail in some later prompt would go unseen, which
    is why tests compare every packaged question on every zoo tokenizer. Encoded in full instead:
    prompts of a slow tokenizer (no character offsets), of a tail seen fewer than
    :data:`MIN_SHARED_TAIL` times or whose tokens differ alone and in context, and of a (tail,
    delimiter) that fails its check.
    """
    splits = [split_context(prompt) for prompt in prompts]
    contexts = [context for context, _ in splits]
    context_ids, offsets = encode_batch(tokenizer, contexts, offsets=True)
    keys: list[tuple[str, str] | None] = [None] * len(prompts)
    if offsets is not None:
        for i, (context, delimiter) in enumerate(splits):
            spans = offsets[i]
            if spans and spans[-1][1] == len(context) and spans[-1][0] < spans[-1][1]:
                keys[i] = (context[spans[-1][0] :], delimiter)
    derived = _shared_tail_continuations(tokenizer, keys, words)

    continuations: list[Continuations | None] = [None] * len(prompts)
    first_of: dict[tuple[str, str], int] = {}
    for i, key in enumerate(keys):
        entry = derived.get(key) if key is not None else None
        if key is None or entry is None:
            continue
        tail_ids, ids = entry[0], context_ids[i]
        if tail_ids and len(tail_ids) <= len(ids) and ids[len(ids) - len(tail_ids) :] == tail_ids:
            continuations[i] = entry[1]
            first_of.setdefault(key, i)
    checked = set(first_of.values())
    full = [i for i, c in enumerate(continuations) if c is None or i in checked]
    encoded = encode_many(tokenizer, [contexts[i] + splits[i][1] + word for i in full for word in words])
    failed: set[tuple[str, str] | None] = set()
    for n, i in enumerate(full):
        own = tuple(tuple(e[len(context_ids[i]) :]) for e in encoded[n * len(words) : (n + 1) * len(words)])
        if i in checked and own != continuations[i]:
            failed.add(keys[i])
        continuations[i] = own
    if failed:  # the derivation is wrong for these tails: encode their other prompts in full as well
        redo = [i for i, key in enumerate(keys) if key in failed and i not in checked]
        encoded = encode_many(tokenizer, [contexts[i] + splits[i][1] + word for i in redo for word in words])
        for n, i in enumerate(redo):
            continuations[i] = tuple(tuple(e[len(context_ids[i]) :]) for e in encoded[n * len(words) : (n + 1) * len(words)])
    return context_ids, continuations  # type: ignore[return-value]


def _shared_tail_continuations(
    tokenizer: Any, keys: Sequence[tuple[str, str] | None], words: Sequence[str]
) -> dict[tuple[str, str], tuple[list[int], Continuations]]:
    """Per (tail, delimiter) seen at least :data:`MIN_SHARED_TAIL` times: the tail's ids and, per word, the ids
    of ``tail + delimiter + word`` after them (one batch encoding for all of them)."""
    counts = Counter(key for key in keys if key is not None)
    shared = [key for key, count in counts.items() if count >= MIN_SHARED_TAIL]
    derived: dict[tuple[str, str], tuple[list[int], Continuations]] = {}
    if shared:
        per_key = len(words) + 1
        texts = [text for tail, delimiter in shared for text in (tail, *(tail + delimiter + word for word in words))]
        encoded = tokenizer(texts, add_special_tokens=False)["input_ids"]
        for j, pair in enumerate(shared):
            tail_ids, *joined = (list(e) for e in encoded[j * per_key : (j + 1) * per_key])
            # context + delimiter + word = context[:-len(tail)] + (tail + delimiter + word): its ids after the context's
            derived[pair] = (tail_ids, tuple(tuple(e[len(tail_ids) :]) for e in joined))
    return derived
