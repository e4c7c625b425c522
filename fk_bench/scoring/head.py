"""log P(token) at the scored positions without a [positions, vocabulary] log-softmax: the model's output
head in vocabulary chunks (see :mod:`fk_bench.scoring`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

HEAD_CHUNK_ELEMENTS = {"cpu": 1 << 19, "cuda": 1 << 26}
"""Logits computed at once by the vocabulary-chunked head: on the CPU a [positions, chunk] block per torch
thread that stays in its cache (2 MB of float32); on a GPU 256 MB, one or a few blocks per batch."""

MIN_HEAD_CHUNK = 1024
"""Fewest vocabulary rows per chunk (fewer would cost more in calls than they save in cache misses)."""


@dataclass
class Selection:
    """The targets whose tokens fall in one vocabulary chunk: their columns, kept indices and ids in the chunk."""

    start: int
    columns: torch.Tensor
    index: torch.Tensor
    local: torch.Tensor


class ChunkedHead:
    """log P(token) at scored positions from the final hidden states, without a [positions, vocabulary]
    log-softmax: the unembedding runs in vocabulary chunks, each giving a logsumexp (combined into the
    normalizer) and the logits of the targets that fall in it. Same rounding as the model's own head: the
    matmul (and Gemma's final soft-cap) in the model's dtype, the normalizer in float32."""

    def __init__(self, output: torch.nn.Linear, softcap: float | None, device: str) -> None:
        self.weight, self.bias, self.softcap = output.weight, output.bias, softcap
        self.vocabulary = output.weight.shape[0]
        self.kind = "cuda" if device.startswith("cuda") else "cpu"

    def chunk(self, positions: int) -> int:
        """Vocabulary rows per chunk for ``positions`` scored positions a batch."""
        elements = HEAD_CHUNK_ELEMENTS[self.kind] * (torch.get_num_threads() if self.kind == "cpu" else 1)  # a block per thread
        return min(self.vocabulary, max(MIN_HEAD_CHUNK, elements // max(positions, 1)))

    def selections(self, index: Sequence[int], tokens: Sequence[int], chunk: int) -> list[Selection]:
        token_array, index_array = np.asarray(tokens, dtype=np.int64), np.asarray(index, dtype=np.int64)
        chosen = []
        for start in range(0, self.vocabulary, chunk):
            columns = np.flatnonzero((token_array >= start) & (token_array < start + chunk))
            if columns.size:
                tensors = (torch.from_numpy(a).to(self.weight.device) for a in (columns, index_array[columns], token_array[columns] - start))
                chosen.append(Selection(start, *tensors))
        return chosen

    def __call__(self, hidden: torch.Tensor, index: torch.Tensor, chunk: int, selections: Sequence[Selection], n_targets: int) -> torch.Tensor:
        """log P [rows, targets] from ``hidden`` [rows, kept positions, d_model]; ``index`` the kept position of each target."""
        rows, keep, _ = hidden.shape
        flat = hidden.reshape(rows * keep, -1)
        target = torch.empty(rows, n_targets, dtype=torch.float32, device=hidden.device)
        by_start = {s.start: s for s in selections}
        normalizers = []
        buffer = torch.empty(rows * keep, chunk, dtype=self.weight.dtype, device=hidden.device)  # reused: no allocation per chunk
        for start in range(0, self.vocabulary, chunk):
            width = min(chunk, self.vocabulary - start)
            logits = buffer if width == chunk else buffer.new_empty(rows * keep, width)
            weight = self.weight[start : start + width].T
            if self.bias is None:
                torch.mm(flat, weight, out=logits)
            else:
                torch.addmm(self.bias[start : start + width], flat, weight, out=logits)
            if self.softcap is not None:
                logits.div_(self.softcap).tanh_().mul_(self.softcap)
            values = logits.float()
            if (s := by_start.get(start)) is not None:
                target[:, s.columns] = values.view(rows, keep, -1)[:, s.index, s.local]
            # logsumexp in place (1.5x torch.logsumexp on the CPU, which allocates its exp(x - max))
            top = values.amax(dim=-1, keepdim=True)
            normalizers.append(values.sub_(top).exp_().sum(dim=-1).log_().add_(top.squeeze(-1)))
        normalizer = normalizers[0] if len(normalizers) == 1 else torch.logsumexp(torch.stack(normalizers, dim=-1), dim=-1)
        return target - normalizer.view(rows, keep)[:, index]


def chunked_head(model: Any, config: Any, device: str) -> ChunkedHead | None:
    """The chunked head when the model's is a plain linear map (Gemma's final soft-cap included), else None."""
    output = model.get_output_embeddings()
    base = getattr(model, getattr(model, "base_model_prefix", ""), None)
    if not isinstance(output, torch.nn.Linear) or base is None or base is model:
        return None
    return ChunkedHead(output, getattr(config, "final_logit_softcapping", None), device)
