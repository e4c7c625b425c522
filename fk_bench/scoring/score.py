"""``score_answer_words``: log P(word | prompt) for every prompt and answer word (see :mod:`fk_bench.scoring`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from tqdm.auto import tqdm

from fk_bench.errors import FkBenchError
from fk_bench.metrics import relative_to_delimiter
from fk_bench.scoring.batching import auto_batch_size, batches, garbage_collector_paused, prefetched
from fk_bench.scoring.forward import ForwardRunner
from fk_bench.scoring.plan import Group, Layout, Plan, group_rows, plan_prompts, question_namer, shared_prefix
from fk_bench.spec import BATCH_SIZE_AUTO as AUTO
from fk_bench.spec import DEFAULT_BATCH_SIZE, BatchSize

if TYPE_CHECKING:
    from fk_bench.models import LoadedModel

DEFAULT_MAX_QUESTION_TOKENS = 512
"""Tokens a question may read of its own (its row: the prompt after the prefix shared with the other
prompts, and split words' leading tokens). A packaged question reads 8-30; a 100,000-character one
(25,000 tokens) would run for minutes at gigabytes, so it is refused before any forward pass."""


@dataclass
class ScoredPrompts:
    """What :func:`score_answer_words` returns; unpacks as ``scores, n_tokens``."""

    scores: np.ndarray  # [prompts, words]: log P(word | prompt)
    n_tokens: np.ndarray  # [prompts, words]: tokens of each word after the delimiter's
    batch_size: int  # the batch size used (``auto`` resolved)
    prompt_tokens: list[list[int]]  # each prompt's context ids, exactly HFLM's

    def __iter__(self) -> Iterator[np.ndarray]:
        return iter((self.scores, self.n_tokens))


def score_answer_words(
    loaded: LoadedModel,
    prompts: Sequence[str],
    words: Sequence[str],
    batch_size: BatchSize = DEFAULT_BATCH_SIZE,
    progress: bool = True,
    share_prefix: bool = True,
    names: Sequence[Any] | None = None,
    max_question_tokens: int | None = DEFAULT_MAX_QUESTION_TOKENS,
) -> ScoredPrompts:
    """Scores [n_prompts, n_words] (log P(word | prompt)), token counts, the batch size used and each
    prompt's context ids; unpacks as ``scores, n_tokens``.

    ``batch_size="auto"`` takes what fits in the GPU's free memory (the default size elsewhere).
    ``share_prefix=False`` runs every prompt in full (the reference the prefix cache is tested against).
    ``names`` name the questions in errors (default: their index). Refused before any forward pass, by
    name: a question whose prompt and answer words do not fit the model's context, and one that reads
    more than ``max_question_tokens`` tokens of its own (None: no budget; see
    :data:`DEFAULT_MAX_QUESTION_TOKENS`).
    """
    if not (batch_size == AUTO or (isinstance(batch_size, int) and not isinstance(batch_size, bool) and batch_size >= 1)):
        raise FkBenchError(f"batch size {batch_size!r}: must be at least 1 or {AUTO!r}")
    name = question_namer(names, len(prompts))
    with garbage_collector_paused():
        plans, layouts, contexts = plan_prompts(loaded.tokenizer, prompts, words, names)
    _check_context(plans, layouts, loaded.model, name)
    loglik = np.zeros((len(prompts), len(words) + 1), dtype=np.float64)
    n_tokens = np.array([[len(r) for r in layouts[plan.layout].remainders] for plan in plans], dtype=np.int64).reshape(len(plans), len(words) + 1)
    if not plans:
        return ScoredPrompts(
            relative_to_delimiter(loglik), n_tokens[:, 1:], batch_size if isinstance(batch_size, int) else DEFAULT_BATCH_SIZE, contexts
        )
    prefix, starts_with = shared_prefix([p.base for p in plans]) if share_prefix else ([], [False] * len(plans))
    if max_question_tokens is not None:
        _check_budget(plans, layouts, len(prefix), starts_with, max_question_tokens, name)
    with garbage_collector_paused():
        groups = group_rows(plans, layouts, len(prefix), starts_with)
    size = _run(loaded, groups, prefix, plans[0].base[:2], batch_size, progress, loglik)
    return ScoredPrompts(relative_to_delimiter(loglik), n_tokens[:, 1:], size, contexts)


def _check_context(plans: Sequence[Plan], layouts: Sequence[Layout], model: Any, name: Callable[[int], str]) -> None:
    """Refuse, by name, a question whose prompt and answer words do not fit the model's context."""
    context = getattr(model.config.get_text_config(), "max_position_embeddings", None)
    if context is None:
        return
    for i, plan in enumerate(plans):
        needed = len(plan.base) + max(len(r) for r in layouts[plan.layout].remainders) - 1
        if needed > context:
            raise FkBenchError(
                f"question {name(i)}: its prompt and answer words need {needed} tokens, more than the model's "
                f"context of {context} (max_position_embeddings)"
            )


def _check_budget(
    plans: Sequence[Plan], layouts: Sequence[Layout], prefix_length: int, starts_with: Sequence[bool], budget: int, name: Callable[[int], str]
) -> None:
    """Refuse, by name, a question that reads more than ``budget`` tokens of its own."""
    for i, plan in enumerate(plans):
        own = len(plan.base) - (prefix_length if starts_with[i] else 0) + len(layouts[plan.layout].lead)
        if own > budget:
            raise FkBenchError(
                f"question {name(i)}: {own} tokens of its own (prompt beyond what it shares with the others, and answer words), "
                f"more than the budget of {budget} per question (max_question_tokens); shorten it"
            )


def _run(
    loaded: LoadedModel, groups: Sequence[Group], prefix: list[int], probe: list[int], batch_size: BatchSize, progress: bool, loglik: np.ndarray
) -> int:
    """Run every batch of ``groups`` and add each target's log-prob into ``loglik`` [prompts, 1 + words]; the batch size used."""
    bar = tqdm(total=sum(len(g.questions) for g in groups), desc=f"scoring {loaded.name}", unit="q", disable=not progress)
    results = []
    with torch.inference_mode():
        runner = ForwardRunner(loaded.model, loaded.device, prefix, probe)
        size = auto_batch_size(runner, groups, loaded.device) if batch_size == AUTO else int(batch_size)
        prepared = [runner.prepare(key, group, size) for key, group in enumerate(groups)]
        for key, start, input_ids in prefetched(batches(groups, size, loaded.device)):
            results.append((key, start, runner.log_probs(prepared[key], groups[key], input_ids)))
            bar.update(input_ids.shape[0])
    bar.close()
    for key, start, values in results:  # the one wait for the device, at the end
        group = groups[key]
        rows = group.questions[start : start + values.shape[0]]
        columns = [t[0] for t in group.layout.targets]
        np.add.at(loglik, (rows[:, None], np.asarray(columns)[None, :]), values.double().cpu().numpy())
    return size
