"""Scoring answer words: log P(word | prompt) for every prompt and word, batched for speed.

A word's score is lm-eval's log-likelihood of the continuation ``delimiter + word`` after the context,
minus that of the bare ``delimiter``: with the plain prompt "Q\\n" this is exactly log P(word | "Q\\n"),
summed over the word's tokens when the tokenizer splits it. Context and continuation are encoded
exactly as lm-eval's HFLM encodes them, so the lm-eval task reports the same numbers.

Where the time goes, and what avoids it:

- **One forward row per question.** A row holds the question's tokens and, after them, the leading
  tokens of every answer word that the tokenizer splits ("Absol"+"utely"), each word's tokens seeing
  the question and their own word only (a tree-shaped attention mask, explicit position ids). All
  words of a question are scored by that one row: no second pass over the prompt per split word.
- **A shared prefix runs once.** Few-shot examples and chat system prompts make every prompt start
  with the same tokens. Those token ids (taken from each prompt's own full encoding, so they are
  exactly HFLM's) run once; their keys and values are reused by every batch.
- **No padding, few unembeddings.** A batch holds rows of one shape; only the positions scored are
  unembedded (``logits_to_keep``), which matters with a 262k-word vocabulary.
"""

from __future__ import annotations

import copy
import inspect
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from tqdm.auto import tqdm

from fk_bench.errors import FkBenchError
from fk_bench.metrics import relative_to_delimiter
from fk_bench.prompts import encode_many, split_context

if TYPE_CHECKING:
    from fk_bench.models import LoadedModel

_MASKED_IMPLEMENTATIONS = ("sdpa", "eager")


@dataclass
class _Item:
    """One scored continuation: its column (0 = the bare delimiter) and its tokens after the question's base."""

    column: int
    remainder: list[int]


@dataclass
class _Plan:
    """One question's tokens: the base every continuation starts with, and each continuation's remainder."""

    base: list[int]
    items: list[_Item] = field(default_factory=list)


def _common_prefix_length(sequences: Sequence[Sequence[int]]) -> int:
    shortest = min(len(s) for s in sequences)
    for i in range(shortest):
        if len({s[i] for s in sequences}) > 1:
            return i
    return shortest


def _plans(tokenizer: Any, prompts: Sequence[str], words: Sequence[str]) -> list[_Plan]:
    """Each prompt's tokens as HFLM encodes them: the context, then ``context + delimiter + word`` for the
    bare delimiter (column 0, see metrics.relative_to_delimiter) and each word, minus the context's tokens."""
    splits = [split_context(prompt) for prompt in prompts]
    for i, (context, _) in enumerate(splits):
        if not context:
            raise FkBenchError(f"question {i}: the prompt is empty")
    per_prompt = len(words) + 2
    texts = [text for context, delimiter in splits for text in (context, *(context + delimiter + w for w in ("", *words)))]
    encoded = encode_many(tokenizer, texts)
    plans = []
    for i in range(len(prompts)):
        context_enc, *wholes = encoded[i * per_prompt : (i + 1) * per_prompt]
        continuations = [whole[len(context_enc) :] for whole in wholes]
        for word, continuation in zip(words, continuations[1:]):
            if not continuation:
                raise FkBenchError(f"answer word {word!r} encodes to no tokens after question {i}")
        shared = _common_prefix_length(continuations)
        plan = _Plan(base=context_enc + continuations[0][:shared])
        plan.items = [_Item(column, continuation[shared:]) for column, continuation in enumerate(continuations)]
        plans.append(plan)
    return plans


def _input_length(plan: _Plan) -> int:
    """Tokens the model reads for this question: its base plus the longest word's tokens but the last."""
    return len(plan.base) + max(len(item.remainder) for item in plan.items) - 1


def shared_prefix(bases: Sequence[Sequence[int]]) -> tuple[list[int], list[bool]]:
    """The token prefix that saves the most tokens when run once, and which sequences start with it.

    Walks down the token trie along the most common next token, scoring each depth by the tokens it
    saves, ``length x (sequences sharing it - 1)``; a sequence that leaves the path runs without the
    prefix. Every sequence keeps at least one token after the prefix (its last position is scored).
    Even plain prompts gain: most share "<bos>Is" (BENCHMARKS.md, evaluator section).
    """
    alive = list(range(len(bases)))
    prefix: list[int] = []
    best_saved, best_length = 0, 0
    while alive:
        depth = len(prefix)
        counts = Counter(bases[i][depth] for i in alive if len(bases[i]) > depth + 1)
        if not counts:
            break
        token, count = counts.most_common(1)[0]
        alive = [i for i in alive if len(bases[i]) > depth + 1 and bases[i][depth] == token]
        prefix.append(token)
        if len(prefix) * (count - 1) > best_saved:
            best_saved, best_length = len(prefix) * (count - 1), len(prefix)
    prefix = prefix[:best_length]
    return prefix, [bool(prefix) and list(base[:best_length]) == prefix for base in bases]


@dataclass
class _Row:
    """One forward row: the question's tokens after the prefix, then each split word's leading tokens."""

    question: int
    tokens: list[int]
    positions: list[int]
    segment: list[int]  # per token: -1 for the question's own tokens, else the index of the word segment
    # (column, index into the kept positions, token id) for every token scored in this row
    targets: list[tuple[int, int, int]]


def _row(question: int, plan: _Plan, start: int) -> _Row:
    suffix = plan.base[start:]
    tokens, positions, segment = list(suffix), list(range(start, len(plan.base))), [-1] * len(suffix)
    targets: list[tuple[int, int, int]] = []
    extra = 0  # tokens appended after the suffix so far
    for item in plan.items:
        if not item.remainder:
            continue
        targets.append((item.column, 0, item.remainder[0]))  # first token: read at the suffix's last position
        lead = item.remainder[:-1]
        for t, token in enumerate(item.remainder[1:]):
            targets.append((item.column, 1 + extra + t, token))
        tokens += lead
        positions += range(len(plan.base), len(plan.base) + len(lead))
        segment += [len(segment)] * len(lead)  # any id unique to this word
        extra += len(lead)
    return _Row(question, tokens, positions, segment, targets)


def _layer_types(config: Any) -> list[str]:
    return list(getattr(config, "layer_types", None) or ["full_attention"] * config.num_hidden_layers)


def _attention_masks(
    rows: Sequence[_Row], prefix_length: int, cached: dict[str, int], config: Any, dtype: torch.dtype, implementation: str, device: str
) -> Any:
    """The 4D masks [batch, 1, new tokens, cached + new tokens] for one batch of equal-shape rows.

    A new token sees the cached prefix and the question's tokens up to itself; a word's token also
    sees its own word's earlier tokens. A sliding-window layer also needs ``query - key < window``
    and holds only the last ``cached[layer type]`` prefix tokens (transformers' sliding cache keeps
    ``window - 1``). One tensor when every layer type sees the same, else a dict by layer type.
    """
    positions = torch.tensor([r.positions for r in rows], device=device)
    segment = torch.tensor([r.segment for r in rows], device=device)
    n = positions.shape[1]
    causal = torch.ones(n, n, dtype=torch.bool, device=device).tril()
    new_visible = causal & ((segment[:, :, None] == segment[:, None, :]) | (segment[:, None, :] == -1))
    window = getattr(config, "sliding_window", None)

    def build(kept: int, sliding: bool) -> torch.Tensor:
        visible = torch.cat([new_visible.new_ones(len(rows), n, kept), new_visible], dim=-1)
        if sliding and window:
            cached_positions = torch.arange(prefix_length - kept, prefix_length, device=device)
            key_positions = torch.cat([cached_positions.expand(len(rows), -1), positions], dim=-1)
            visible &= positions[:, :, None] - key_positions[:, None, :] < window
        visible = visible[:, None]
        if implementation == "eager":  # an additive mask, as transformers' eager_mask makes it
            return torch.zeros((), dtype=dtype, device=device).masked_fill(~visible, torch.finfo(dtype).min)
        return visible

    masks = {kind: build(cached.get(kind, prefix_length), kind == "sliding_attention") for kind in set(_layer_types(config))}
    return masks.popitem()[1] if len(masks) == 1 else masks


class _Runner:
    """Runs batches of rows through the model, with the shared prefix's keys and values when there is one."""

    def __init__(self, model: Any, device: str, prefix: list[int]) -> None:
        self.model, self.device, self.prefix_length = model, device, len(prefix)
        self.config = model.config.get_text_config()
        self.implementation = self.config._attn_implementation
        if self.implementation not in _MASKED_IMPLEMENTATIONS:
            raise FkBenchError(
                f"scoring needs an attention implementation that takes a custom mask ({', '.join(_MASKED_IMPLEMENTATIONS)}); "
                f"the model uses {self.implementation!r}"
            )
        self.cache_argument = "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"
        self.prefix_cache, self.cached = None, {}
        if prefix:
            output = model(input_ids=torch.tensor([prefix], device=device), use_cache=True, logits_to_keep=1)
            self.prefix_cache = output.cache if "cache" in output else output.past_key_values
            # Prefix tokens each layer type holds (a sliding-window layer keeps only the last few).
            self.cached = {kind: layer.keys.shape[-2] for kind, layer in zip(_layer_types(self.config), self.prefix_cache.layers)}

    def _expanded_cache(self, batch: int) -> Any:
        """The prefix cache seen as ``batch`` rows, without copying it (the model concatenates new keys to a view)."""
        cache = copy.copy(self.prefix_cache)
        cache.layers = []
        for layer in self.prefix_cache.layers:
            layer = copy.copy(layer)
            layer.keys = layer.keys.expand(batch, -1, -1, -1)
            layer.values = layer.values.expand(batch, -1, -1, -1)
            cache.layers.append(layer)
        return cache

    def log_probs(self, rows: Sequence[_Row], with_prefix: bool) -> torch.Tensor:
        """log P(target) [rows, targets] for a batch of rows of one shape."""
        prefix_length = self.prefix_length if with_prefix else 0
        input_ids = torch.tensor([r.tokens for r in rows], device=self.device)
        keep = len(rows[0].tokens) - rows[0].segment.count(-1) + 1
        kwargs = {}
        if with_prefix:
            kwargs[self.cache_argument] = self._expanded_cache(len(rows))
        cached = self.cached if with_prefix else {}
        masks = _attention_masks(rows, prefix_length, cached, self.config, self.model.dtype, self.implementation, self.device)
        logits = self.model(
            input_ids=input_ids,
            position_ids=torch.tensor([r.positions for r in rows], device=self.device),
            attention_mask=masks,
            logits_to_keep=keep,
            use_cache=with_prefix,
            **kwargs,
        ).logits.float()
        index = torch.tensor([[t[1] for t in r.targets] for r in rows], device=logits.device)
        tokens = torch.tensor([[t[2] for t in r.targets] for r in rows], device=logits.device)
        # log_softmax is one fused pass over the vocabulary (faster on the CPU than logsumexp's several).
        return torch.log_softmax(logits, dim=-1)[torch.arange(len(rows), device=logits.device)[:, None], index, tokens]


def score_answer_words(
    loaded: LoadedModel,
    prompts: Sequence[str],
    words: Sequence[str],
    batch_size: int = 128,
    progress: bool = True,
    share_prefix: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Scores [n_prompts, n_words] (log P(word | prompt)) and token counts [n_prompts, n_words].

    ``share_prefix=False`` runs every prompt in full (the reference the prefix cache is tested against).
    A question whose prompt and answer words do not fit the model's context is refused, by index.
    """
    tokenizer, model, device = loaded.tokenizer, loaded.model, loaded.device
    plans = _plans(tokenizer, prompts, words)
    context = getattr(model.config.get_text_config(), "max_position_embeddings", None)
    for i, plan in enumerate(plans):
        if context is not None and _input_length(plan) > context:
            raise FkBenchError(
                f"question {i}: its prompt and answer words need {_input_length(plan)} tokens, more than the model's "
                f"context of {context} (max_position_embeddings)"
            )
    loglik = np.zeros((len(prompts), len(words) + 1), dtype=np.float64)
    n_tokens = np.array([[len(item.remainder) for item in plan.items] for plan in plans], dtype=np.int64).reshape(len(plans), len(words) + 1)
    if not plans:
        return relative_to_delimiter(loglik), n_tokens[:, 1:]

    prefix, starts_with = shared_prefix([p.base for p in plans]) if share_prefix else ([], [False] * len(plans))
    groups: dict[tuple, list[_Row]] = {}
    for i, plan in enumerate(plans):
        row = _row(i, plan, len(prefix) if starts_with[i] else 0)
        # Rows batch together when their tensors have one shape: tokens, question tokens, targets.
        groups.setdefault((starts_with[i], len(row.tokens), row.segment.count(-1), len(row.targets)), []).append(row)

    bar = tqdm(total=len(plans), desc=f"scoring {loaded.name}", unit="q", disable=not progress)
    with torch.inference_mode():
        runner = _Runner(model, device, prefix)
        for shape, rows in sorted(groups.items()):
            for start in range(0, len(rows), batch_size):
                batch = rows[start : start + batch_size]
                values = runner.log_probs(batch, with_prefix=shape[0]).double().cpu().numpy()
                for row, row_values in zip(batch, values):
                    np.add.at(loglik[row.question], [t[0] for t in row.targets], row_values)
                bar.update(len(batch))
    bar.close()
    return relative_to_delimiter(loglik), n_tokens[:, 1:]
