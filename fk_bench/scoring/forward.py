"""Forward passes of scoring rows: the attention masks of a row's tree of answer words, the shared prefix's
keys and values, and the chunked head (see :mod:`fk_bench.scoring`)."""

from __future__ import annotations

import copy
import inspect
from dataclasses import dataclass
from typing import Any

import torch

from fk_bench.errors import FkBenchError
from fk_bench.scoring.head import Selection, chunked_head
from fk_bench.scoring.plan import Group

_MASKED_IMPLEMENTATIONS = ("sdpa", "eager")


def layer_types(config: Any) -> list[str]:
    return list(getattr(config, "layer_types", None) or ["full_attention"] * config.num_hidden_layers)


def attention_masks(
    group: Group, prefix_length: int, cached: dict[str, int], config: Any, dtype: torch.dtype, implementation: str, device: str
) -> Any:
    """The 4D masks [1, 1, new tokens, cached + new tokens] of a group's rows (the same for each row).

    A new token sees the cached prefix and the question's tokens up to itself; a word's token also
    sees its own word's earlier tokens. A sliding-window layer also needs ``query - key < window``
    and holds only the last ``cached[layer type]`` prefix tokens (transformers' sliding cache keeps
    ``window - 1``). One tensor when every layer type sees the same, else a dict by layer type.
    """
    positions = torch.tensor(group.positions, device=device)
    n = len(group.positions)
    segment = torch.tensor([-1] * (n - len(group.layout.lead)) + group.layout.segment, device=device)
    causal = torch.ones(n, n, dtype=torch.bool, device=device).tril()
    new_visible = causal & ((segment[:, None] == segment[None, :]) | (segment[None, :] == -1))
    window = getattr(config, "sliding_window", None)

    def build(kept: int, sliding: bool) -> torch.Tensor:
        visible = torch.cat([new_visible.new_ones(n, kept), new_visible], dim=-1)
        if sliding and window:
            key_positions = torch.cat([torch.arange(prefix_length - kept, prefix_length, device=device), positions])
            visible &= positions[:, None] - key_positions[None, :] < window
        visible = visible[None, None]
        if implementation == "eager":  # an additive mask, as transformers' eager_mask makes it
            return torch.zeros((), dtype=dtype, device=device).masked_fill(~visible, torch.finfo(dtype).min)
        return visible

    masks = {kind: build(cached.get(kind, prefix_length), kind == "sliding_attention") for kind in set(layer_types(config))}
    return masks.popitem()[1] if len(masks) == 1 else masks


@dataclass
class Prepared:
    """A group's tensors on the device, built once before its batches (no host-to-device copy inside the loop)."""

    masks: Any
    positions: torch.Tensor
    index: torch.Tensor
    tokens: torch.Tensor
    chunk: int
    selections: list[Selection]


class ForwardRunner:
    """Runs batches of rows through the model, with the shared prefix's keys and values when there is one."""

    def __init__(self, model: Any, device: str, prefix: list[int], probe: list[int]) -> None:
        self.model, self.device, self.prefix_length = model, device, len(prefix)
        self.config = model.config.get_text_config()
        self.implementation = self.config._attn_implementation
        if self.implementation not in _MASKED_IMPLEMENTATIONS:
            raise FkBenchError(
                f"scoring needs an attention implementation that takes a custom mask ({', '.join(_MASKED_IMPLEMENTATIONS)}); "
                f"the model uses {self.implementation!r}"
            )
        self.cache_argument = "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"
        self.base = getattr(model, model.base_model_prefix, None)
        self.head = chunked_head(model, self.config, device)
        # One forward serves the prefix cache and the check of the chunked head (the head's input captured
        # by a hook): the prefix when there is one, else ``probe`` (a few tokens).
        captured: dict[str, torch.Tensor] = {}
        hook = self.head and model.get_output_embeddings().register_forward_hook(lambda module, args, output: captured.update(hidden=args[0]))
        try:
            output = model(input_ids=torch.tensor([prefix or probe], device=device), use_cache=bool(prefix), logits_to_keep=1)
        finally:
            if hook:
                hook.remove()
        if "hidden" not in captured or not self._head_agrees(captured["hidden"][:, -1:], output.logits[0, -1], prefix or probe):
            self.head = None
        self.prefix_cache: Any = None
        self.cached: dict[str, int] = {}
        if prefix:
            self.prefix_cache = output.cache if "cache" in output else output.past_key_values
            # Prefix tokens each layer type holds (a sliding-window layer keeps only the last few).
            self.cached = {kind: layer.keys.shape[-2] for kind, layer in zip(layer_types(self.config), self.prefix_cache.layers)}
        self.prepared: dict[tuple[int, int], Prepared] = {}

    def _head_agrees(self, hidden: torch.Tensor, logits: torch.Tensor, tokens_read: list[int]) -> bool:
        """Whether the chunked head, on the final hidden state ``hidden`` [1, 1, d_model], gives the model's own
        log-probs (from its ``logits``): a model that scales or shifts its logits in ways this module does not
        know is scored from its logits instead."""
        assert self.head is not None
        expected = torch.log_softmax(logits.float(), dim=-1)
        tokens = sorted({0, expected.shape[-1] - 1, *tokens_read[-4:], *expected.topk(8).indices.tolist()})
        chunk = self.head.chunk(1)
        index = torch.zeros(len(tokens), dtype=torch.long, device=self.device)
        got = self.head(hidden, index, chunk, self.head.selections([0] * len(tokens), tokens, chunk), len(tokens))[0]
        tolerance = 1e-4 if self.model.dtype == torch.float32 else 5e-2
        return bool(torch.allclose(got, expected[tokens], rtol=0, atol=tolerance))

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

    def prepare(self, key: int, group: Group, batch_size: int) -> Prepared:
        """The tensors of ``group`` (``key`` names it) for batches of up to ``batch_size`` rows."""
        chunk = self.head.chunk(batch_size * group.keep) if self.head is not None else 0
        if (key, chunk) not in self.prepared:
            prefix_length = self.prefix_length if group.with_prefix else 0
            cached = self.cached if group.with_prefix else {}
            targets = group.layout.targets
            index, tokens = [t[1] for t in targets], [t[2] for t in targets]
            self.prepared[key, chunk] = Prepared(
                masks=attention_masks(group, prefix_length, cached, self.config, self.model.dtype, self.implementation, self.device),
                positions=torch.tensor([group.positions], device=self.device),
                index=torch.tensor(index, device=self.device),
                tokens=torch.tensor(tokens, device=self.device),
                chunk=chunk,
                selections=self.head.selections(index, tokens, chunk) if self.head is not None else [],
            )
        return self.prepared[key, chunk]

    def log_probs(self, prepared: Prepared, group: Group, input_ids: torch.Tensor) -> torch.Tensor:
        """log P(target) [rows, targets] for ``input_ids``, rows of ``group``."""
        rows = input_ids.shape[0]
        masks = prepared.masks
        masks = {k: m.expand(rows, -1, -1, -1) for k, m in masks.items()} if isinstance(masks, dict) else masks.expand(rows, -1, -1, -1)
        kwargs: dict[str, Any] = dict(
            input_ids=input_ids, position_ids=prepared.positions.expand(rows, -1), attention_mask=masks, use_cache=group.with_prefix
        )
        if group.with_prefix:
            kwargs[self.cache_argument] = self._expanded_cache(rows)
        if self.head is not None and self.base is not None:
            hidden = self.base(**kwargs).last_hidden_state[:, -group.keep :]
            return self.head(hidden, prepared.index, prepared.chunk, prepared.selections, len(group.layout.targets))
        logits = self.model(**kwargs, logits_to_keep=group.keep).logits.float()
        # log_softmax is one fused pass over the vocabulary (faster on the CPU than logsumexp's several).
        return torch.log_softmax(logits, dim=-1)[:, prepared.index, prepared.tokens]
