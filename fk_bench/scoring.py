"""Scoring answer words: log P(word | prompt) for every prompt and word, batched for speed.

A word's score is lm-eval's log-likelihood of the continuation ``delimiter + word`` after the context,
minus that of the bare ``delimiter``: with the plain prompt "Q\\n" this is exactly log P(word | "Q\\n"),
summed over the word's tokens when the tokenizer splits it. Context and continuation are encoded
exactly as lm-eval's HFLM encodes them, so the lm-eval task reports the same numbers. Speed comes from
batching equal-length prompts, unembedding only the positions scored, and sharing one forward pass
between all answer words of a question.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator, Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from fk_bench.errors import FkBenchError
from fk_bench.metrics import relative_to_delimiter
from fk_bench.models import LoadedModel
from fk_bench.prompts import encode, split_context


@dataclass
class _Item:
    """One scored continuation: which question/column it belongs to and its tokens after the shared prefix."""

    question: int
    column: int
    remainder: list[int]


@dataclass
class _Plan:
    """Token sequences for one question: the shared prefix and each continuation's remainder."""

    base: list[int]
    items: list[_Item] = field(default_factory=list)


def _common_prefix_length(sequences: Sequence[Sequence[int]]) -> int:
    shortest = min(len(s) for s in sequences)
    for i in range(shortest):
        if len({s[i] for s in sequences}) > 1:
            return i
    return shortest


def _plan(tokenizer: Any, question_index: int, prompt: str, words: Sequence[str]) -> _Plan:
    context, delimiter = split_context(prompt)
    if not context:
        raise FkBenchError(f"question {question_index}: the prompt is empty")
    context_enc = encode(tokenizer, context)
    # Column 0 is the bare delimiter (see metrics.relative_to_delimiter), then one column per word.
    continuations = [encode(tokenizer, context + delimiter + word)[len(context_enc):] for word in ("", *words)]
    for word, continuation in zip(words, continuations[1:]):
        if not continuation:
            raise FkBenchError(f"answer word {word!r} encodes to no tokens after question {question_index}")
    shared = _common_prefix_length(continuations)
    plan = _Plan(base=context_enc + continuations[0][:shared])
    for column, continuation in enumerate(continuations):
        plan.items.append(_Item(question_index, column, continuation[shared:]))
    return plan


@torch.inference_mode()
def _iter_logprobs(
    model: Any, sequences: Sequence[list[int]], keeps: Sequence[int], batch_size: int, device: str
) -> Iterator[tuple[int, torch.Tensor]]:
    """Yield ``(index, log-probs [keep, vocab])`` for the last ``keep`` positions of every sequence.

    A batch holds sequences of one length and one ``keep``: no padding, and only the positions
    scored are unembedded (``logits_to_keep``), which matters with a 262k-word vocabulary.
    """
    groups: dict[tuple[int, int], list[int]] = {}
    for i, sequence in enumerate(sequences):
        groups.setdefault((len(sequence), keeps[i]), []).append(i)
    for (_, keep), members in sorted(groups.items()):
        for start in range(0, len(members), batch_size):
            batch = members[start:start + batch_size]
            input_ids = torch.tensor([sequences[i] for i in batch], dtype=torch.long, device=device)
            logits = model(input_ids=input_ids, logits_to_keep=keep, use_cache=False).logits
            logprobs = torch.log_softmax(logits[:, -keep:].float(), dim=-1)
            yield from zip(batch, logprobs)


def score_answer_words(
    loaded: LoadedModel,
    prompts: Sequence[str],
    words: Sequence[str],
    batch_size: int = 128,
    progress: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Scores [n_prompts, n_words] (log P(word | prompt)) and token counts [n_prompts, n_words].

    One batched pass over every prompt scores all first tokens; one extra batched pass runs only for
    words whose remainder has several tokens.
    """
    tokenizer, model, device = loaded.tokenizer, loaded.model, loaded.device
    plans = [_plan(tokenizer, i, prompt, words) for i, prompt in enumerate(prompts)]
    loglik = np.zeros((len(prompts), len(words) + 1), dtype=np.float64)
    n_tokens = np.array([[len(item.remainder) for item in plan.items] for plan in plans], dtype=np.int64)

    bar = tqdm(total=len(plans), desc=f"scoring {loaded.name}", unit="q", disable=not progress)
    for q, logprobs in _iter_logprobs(model, [p.base for p in plans], [1] * len(plans), batch_size, device):
        scored = [item for item in plans[q].items if item.remainder]
        first_tokens = torch.tensor([item.remainder[0] for item in scored], device=logprobs.device)
        for item, value in zip(scored, logprobs[0, first_tokens].tolist()):
            loglik[q, item.column] = value
        bar.update(1)
    bar.close()

    # Words of several tokens: one more pass over prompt + word[:-1] scores the remaining tokens.
    extra = [item for plan in plans for item in plan.items if len(item.remainder) > 1]
    sequences = [plans[item.question].base + item.remainder[:-1] for item in extra]
    keeps = [len(item.remainder) - 1 for item in extra]
    for k, logprobs in _iter_logprobs(model, sequences, keeps, batch_size, device):
        item = extra[k]
        targets = torch.tensor(item.remainder[1:], device=logprobs.device)
        loglik[item.question, item.column] += float(logprobs.gather(-1, targets[:, None]).sum())
    return relative_to_delimiter(loglik), n_tokens[:, 1:]
