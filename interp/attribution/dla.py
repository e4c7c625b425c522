"""Direct logit attribution (DLA) of the answer: logit lens, per layer, per head, at the last position.

The answer direction is the mean unembedding of the True answer words minus the mean of the False
words (the notebook's ``get_logit_diff_directions``; the clean question of every pair is true). The
final norm is linear once its scale is fixed at the value the forward cached
(``ActivationCache.apply_ln_to_stack`` centres, for LayerNorm, and divides by it); its gain and
bias are read off the module itself (:func:`norm_affine`), whatever its parametrization (Gemma's
``1 + w``, Llama's ``w``, GPT-2's LayerNorm with a bias). So every component is a number in
logit_diff units and the decomposition adds up (tests/unit/test_interp_dla.py, on every family):

- logit lens: the accumulated residual at the last position (with the mid points where the block
  has one), projected, plus the constant bias share; its last point is the model's own logit_diff;
- per layer: the embeddings, then each attention output and each MLP output; they sum to the final
  residual's projection, which plus the bias share (final norm bias and unembedding bias) is the
  model's logit_diff;
- per head: each head's ``z @ W_O`` at the last position. Where the block normalizes the attention
  output (Gemma's ``ln1_post``), each head is scaled by that norm's gain over its cached scale: the
  heads plus the attention bias then sum to the layer's ``hook_attn_out``.

Models with a final logit soft-cap (Gemma 2) are decomposed before the cap: the logit_diff here is
the unembedding's, not the capped output's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import einops
import numpy as np
import torch

from interp.core.answer_tokens import AnswerTokens
from interp.core.model import InterpModel

_DLA_HOOKS = (
    "hook_resid_pre",
    "hook_resid_mid",
    "hook_resid_post",
    "hook_attn_out",
    "hook_mlp_out",
    "attn.hook_z",
    "ln_final.hook_scale",
    "ln1_post.hook_scale",
)


def dla_hooks(with_patterns: bool) -> Callable[[str], bool]:
    """The cache ``names_filter`` for :func:`question_dla` (and the attention patterns when asked)."""

    def wanted(name: str) -> bool:
        return name in ("hook_embed", "hook_pos_embed") or name.endswith(_DLA_HOOKS) or (with_patterns and name.endswith("attn.hook_pattern"))

    return wanted


def norm_affine(norm: Any, d_model: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The per-dimension gain and bias of a LayerNorm or RMSNorm module at a fixed scale, read off its output.

    Probes of mean 0 and a large, known RMS pass through any centring unchanged and make epsilon
    negligible: ``norm(p) = p / rms(p) * gain + bias``, so the odd part gives the gain, the even part the bias.
    """
    weight = next(norm.parameters())
    probe = torch.zeros(2, d_model, dtype=torch.float64)
    signs = torch.tensor([1.0, -1.0], dtype=torch.float64).repeat(d_model // 2)
    probe[0, : 2 * (d_model // 2)] = signs  # the last dimension is 0 when d_model is odd...
    probe[1, d_model - 2 * (d_model // 2) :] = signs  # ...and the first one here: each dimension is probed once
    probe *= 1e3
    gain, bias = torch.zeros(d_model, dtype=torch.float64), torch.zeros(d_model, dtype=torch.float64)
    with torch.no_grad():
        for p in probe:
            rms = p.pow(2).mean().sqrt()
            plus = norm(p.to(weight.dtype)[None, None].to(weight.device))[0, 0].double().cpu()
            minus = norm((-p).to(weight.dtype)[None, None].to(weight.device))[0, 0].double().cpu()
            probed = p != 0
            gain[probed] = ((plus - minus) / 2 * rms / p)[probed]
            bias[probed] = ((plus + minus) / 2)[probed]
    return gain.float().to(weight.device), bias.float().to(weight.device)


@dataclass
class Direction:
    """The answer direction in the final norm's input space at a fixed scale, and the constant share of
    logit_diff that no component writes (the final norm's bias and the unembedding's bias)."""

    vector: torch.Tensor  # [d_model]
    bias: float

    @classmethod
    def of(cls, model: InterpModel, answers: AnswerTokens) -> Direction:
        ids = answers.id_tensor(model.device)
        is_true = torch.tensor(answers.is_true_word, device=ids.device)
        W_U = model.bridge.W_U[:, ids].detach().float()
        true_minus_false = W_U[:, is_true].mean(1) - W_U[:, ~is_true].mean(1)
        gain, norm_bias = norm_affine(model.bridge.ln_final, true_minus_false.shape[0])
        bias = float(norm_bias.double() @ true_minus_false.double())
        b_U = getattr(model.bridge, "b_U", None)
        if b_U is not None:
            b = b_U[ids].detach().double()
            bias += float(b[is_true].mean() - b[~is_true].mean())
        return cls(true_minus_false * gain, bias)


@dataclass
class QuestionDLA:
    """DLA of one prompt's last position, all in logit_diff units (positive = the True answer)."""

    lens_labels: list[str]
    logit_lens: np.ndarray  # accumulated residual before/after each attention (where defined), final
    layer_labels: list[str]
    per_layer: np.ndarray  # embeddings, then attn_out and mlp_out of each layer
    per_head: np.ndarray  # [n_layers, n_heads]
    attn_bias: np.ndarray  # [n_layers]: the attention output bias's share
    final_projection: float  # the final residual projected (what the per-layer components sum to)
    unembed_bias: float  # the final norm's and the unembedding's bias share: final_projection + unembed_bias = logit_diff
    logit_diff: float  # from the model's own (pre-soft-cap) answer logits, for the closure checks

    def to_json(self) -> dict:
        return {
            "logit_lens": self.logit_lens.tolist(),
            "per_layer": self.per_layer.tolist(),
            "per_head": self.per_head.tolist(),
            "attn_bias": self.attn_bias.tolist(),
            "final_projection": self.final_projection,
            "unembed_bias": self.unembed_bias,
            "logit_diff": self.logit_diff,
        }


def _project(cache: Any, stack: torch.Tensor, direction: torch.Tensor) -> np.ndarray:
    """``stack`` ``[components, rows, d_model]`` through the cached final-norm scale, onto ``direction``: ``[components, rows]``."""
    scaled = cache.apply_ln_to_stack(stack, layer=-1, pos_slice=-1)
    return einops.einsum(scaled.float(), direction, "c b d, d -> c b").double().cpu().numpy()


def head_outputs(model: InterpModel, cache: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """Each head's write to the residual stream at the last position ``[rows, n_layers, n_heads, d_model]``
    and the attention bias's ``[rows, n_layers, d_model]``, both after any post-attention norm."""
    bridge = model.bridge
    W_O, b_O = bridge.W_O, getattr(bridge, "b_O", None)  # each access stacks every layer's weights: read once
    heads, biases = [], []
    for layer in range(model.n_layers):
        z = cache[f"blocks.{layer}.attn.hook_z"][:, -1]  # [rows, head, d_head]
        out = einops.einsum(z, W_O[layer], "b h dh, h dh d -> b h d")
        bias = (b_O[layer] if b_O is not None else torch.zeros_like(out[0, 0])).expand(out.shape[0], -1)
        scale_name = f"blocks.{layer}.ln1_post.hook_scale"
        if scale_name in cache.cache_dict:  # attn_out = RMSNorm(sum of heads + bias), linear at the cached scale
            gain, _ = norm_affine(bridge.blocks[layer].ln1_post, out.shape[-1])
            factor = gain / cache[scale_name][:, -1]  # [rows, d_model]
            out, bias = out * factor[:, None], bias * factor
        heads.append(out)
        biases.append(bias)
    return torch.stack(heads, dim=1), torch.stack(biases, dim=1)


@torch.no_grad()
def question_dla(model: InterpModel, cache: Any, unembedded: torch.Tensor, direction: Direction, answers: AnswerTokens) -> list[QuestionDLA]:
    """DLA of every row of a cache recorded with :func:`dla_hooks` (``unembedded``: the rows' answer
    logits from the unembedding, ``[rows, n_words]``)."""
    vector = direction.vector.to(unembedded.device)
    incl_mid = not model.parallel_blocks
    accumulated, lens_labels = cache.accumulated_resid(layer=-1, incl_mid=incl_mid, pos_slice=-1, return_labels=True)
    per_layer, layer_labels = cache.decompose_resid(layer=-1, pos_slice=-1, return_labels=True)
    heads, biases = head_outputs(model, cache)
    rows, n_layers, n_heads = heads.shape[:3]
    head_dla = _project(cache, einops.rearrange(heads, "b l h d -> (l h) b d"), vector)
    bias_dla = _project(cache, einops.rearrange(biases, "b l d -> l b d"), vector)
    final = cache[f"blocks.{n_layers - 1}.hook_resid_post"][:, -1][None]
    lens, layers, final_projection = _project(cache, accumulated, vector), _project(cache, per_layer, vector), _project(cache, final, vector)[0]
    logit_diff = answers.logit_diff(unembedded.double()).cpu().numpy()
    return [
        QuestionDLA(
            lens_labels=list(lens_labels),
            logit_lens=lens[:, row] + direction.bias,
            layer_labels=list(layer_labels),
            per_layer=layers[:, row],
            per_head=einops.rearrange(head_dla[:, row], "(l h) -> l h", l=n_layers, h=n_heads),
            attn_bias=bias_dla[:, row],
            final_projection=float(final_projection[row]),
            unembed_bias=direction.bias,
            logit_diff=float(logit_diff[row]),
        )
        for row in range(rows)
    ]


def attention_patterns(cache: Any, n_layers: int, row: int) -> np.ndarray:
    """``[n_layers, n_heads, query, key]`` attention patterns of one cached row (the run's queries, every key it saw)."""
    return torch.stack([cache[f"blocks.{layer}.attn.hook_pattern"][row] for layer in range(n_layers)]).float().cpu().numpy()
