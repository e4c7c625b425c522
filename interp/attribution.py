"""Direct logit attribution (DLA) on the answer-group direction, as in the seed notebook.

Per question the direction is the mean unembedding of the correct answer group minus the mean of the
incorrect group (the seed's ``get_logit_diff_directions``), times the final RMSNorm's gain, so that
``apply_ln_to_stack(x) · direction`` is exactly the logit_diff that ``x`` as final residual gives.
The final norm's scale comes from the cache (``apply_ln_to_stack``), which makes every component
linear and the decomposition add up:

- logit lens: the accumulated residual (with mid points) of the last position, projected;
- per layer: embeddings, each attention output and each MLP output; they sum to the final residual;
- per head: each head's output at the last position. Gemma puts an RMSNorm after attention
  (``ln1_post``), so each head's ``z @ W_O`` is scaled by that norm's cached scale and gain: the
  heads (+ the attention bias) then sum to the layer's ``hook_attn_out``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import einops
import numpy as np
import torch

from fk_bench.answers import AnswerGroups
from fk_bench.errors import FkBenchError
from fk_bench.metrics import question_metrics
from fk_bench.prompts import encode


@dataclass(frozen=True)
class AnswerTokens:
    """The answer words that are one token after the prompt, their token ids, and the words skipped."""

    words: tuple[str, ...]
    ids: tuple[int, ...]
    is_true_word: tuple[bool, ...]
    skipped: tuple[str, ...]

    def id_tensor(self, device: str | torch.device = "cpu") -> torch.Tensor:
        return torch.tensor(self.ids, dtype=torch.long, device=device)

    def to_json(self) -> dict:
        return {"words": list(self.words), "ids": list(self.ids), "is_true_word": list(self.is_true_word), "skipped_multi_token": list(self.skipped)}


def single_token_answers(tokenizer: Any, prompts: Sequence[str], groups: AnswerGroups) -> AnswerTokens:
    """Words of ``groups`` that encode to exactly one token after every prompt (and the same token)."""
    words, ids, is_true, skipped = [], [], [], []
    for word, true in zip(groups.words, groups.is_true_word):
        tokens = set()
        for prompt in prompts:
            base, full = encode(tokenizer, prompt), encode(tokenizer, prompt + word)
            tokens.add(tuple(full[len(base):]) if full[: len(base)] == base else ())
        if len(tokens) == 1 and len(next(iter(tokens))) == 1:
            words.append(word)
            ids.append(next(iter(tokens))[0])
            is_true.append(true)
        else:
            skipped.append(word)
    if not any(is_true) or all(is_true):
        raise FkBenchError(f"answer words: both groups need a single-token word for DLA and patching (single-token: {words}, skipped: {skipped})")
    return AnswerTokens(tuple(words), tuple(ids), tuple(is_true), tuple(skipped))


def rms_norm_gain(norm: Any) -> torch.Tensor:
    """The per-dimension gain of an RMSNorm module (``1 + w`` for Gemma, ``w`` for Llama), read off its output.

    An all-ones input has RMS 1, so the module returns ``gain / sqrt(1 + eps)``.
    """
    eps = float(getattr(norm, "eps", getattr(norm, "variance_epsilon", 0.0)))
    weight = next(norm.parameters())
    with torch.no_grad():
        return (norm(torch.ones(1, weight.shape[0], dtype=weight.dtype, device=weight.device))[0] * (1.0 + eps) ** 0.5).float()


def logit_diff_directions(model: Any, answers: AnswerTokens, labels: Sequence[bool]) -> torch.Tensor:
    """Per question ``[n_questions, d_model]``: gain * (mean W_U[correct] - mean W_U[incorrect])."""
    unembed = model.get_output_embeddings().weight[answers.id_tensor(model.device)].detach().float()
    is_true = torch.tensor(answers.is_true_word, device=unembed.device)
    true_minus_false = unembed[is_true].mean(0) - unembed[~is_true].mean(0)
    direction = true_minus_false * rms_norm_gain(model.model.norm)
    signs = torch.tensor([1.0 if label else -1.0 for label in labels], device=unembed.device)
    return einops.einsum(signs, direction, "q, d -> q d")


@dataclass
class QuestionDLA:
    """DLA of one question's last position, all in logit_diff units (positive = correct answer)."""

    tokens: list[str]
    lens_labels: list[str]
    logit_lens: np.ndarray  # [2 * n_layers + 1]: accumulated residual before/after each attention, final
    layer_labels: list[str]
    per_layer: np.ndarray  # [2 * n_layers + 1]: embed, then attn_out and mlp_out of each layer
    per_head: np.ndarray  # [n_layers, n_heads]
    attn_bias: np.ndarray  # [n_layers]: the attention bias's share (zero for Gemma)
    final_projection: float  # the final residual projected (what the components sum to)
    logit_diff: float  # logit_diff from the model's own logits, for the closure check
    patterns: np.ndarray  # [n_layers, n_heads, pos, pos] attention patterns

    def to_json(self, with_patterns: bool) -> dict:
        out = {
            "tokens": self.tokens,
            "logit_lens": self.logit_lens.tolist(),
            "per_layer": self.per_layer.tolist(),
            "per_head": self.per_head.tolist(),
            "attn_bias": self.attn_bias.tolist(),
            "final_projection": self.final_projection,
            "logit_diff": self.logit_diff,
        }
        if with_patterns:
            out["patterns"] = self.patterns.tolist()
        return out


def _project(cache: Any, stack: torch.Tensor, direction: torch.Tensor) -> np.ndarray:
    """``stack`` ``[components, 1, d_model]`` through the cached final-norm scale, onto ``direction``."""
    scaled = cache.apply_ln_to_stack(stack, layer=-1, pos_slice=-1)
    return einops.einsum(scaled.float(), direction, "c b d, d -> c b")[:, 0].double().cpu().numpy()


def head_outputs(bridge: Any, model: Any, cache: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """Each head's write to the residual stream at the last position, ``[n_layers, n_heads, d_model]``,
    and the attention bias's, ``[n_layers, d_model]``, both after Gemma's post-attention norm."""
    heads, biases = [], []
    W_O, b_O = bridge.W_O, getattr(bridge, "b_O", None)  # each access stacks every layer's weights: read once
    for layer in range(bridge.cfg.n_layers):
        z = cache[f"blocks.{layer}.attn.hook_z"][0, -1]  # [head, d_head]
        out = einops.einsum(z, W_O[layer], "h dh, h dh d -> h d")
        bias = b_O[layer] if b_O is not None else torch.zeros_like(out[0])
        scale_name = f"blocks.{layer}.ln1_post.hook_scale"
        if scale_name in cache.cache_dict:  # Gemma: attn_out = RMSNorm(sum of heads + bias)
            gain = rms_norm_gain(model.model.layers[layer].post_attention_layernorm)
            factor = gain / cache[scale_name][0, -1]
            out, bias = out * factor, bias * factor
        heads.append(out)
        biases.append(bias)
    return torch.stack(heads), torch.stack(biases)


@torch.no_grad()
def question_dla(bridge: Any, model: Any, tokens: torch.Tensor, direction: torch.Tensor, answers: AnswerTokens, label: bool) -> QuestionDLA:
    """Run ``tokens`` (``[pos]``) with cache and attribute the last position's logit_diff."""
    if getattr(bridge.cfg, "normalization_type", "RMS") not in ("RMS", "RMSPre"):
        raise FkBenchError(f"DLA supports RMSNorm models; this one uses {bridge.cfg.normalization_type}")
    logits, cache = bridge.run_with_cache(tokens[None])
    direction = direction.to(logits.device).float()
    accumulated, lens_labels = cache.accumulated_resid(layer=-1, incl_mid=True, pos_slice=-1, return_labels=True)
    per_layer, layer_labels = cache.decompose_resid(layer=-1, pos_slice=-1, return_labels=True)
    heads, biases = head_outputs(bridge, model, cache)
    n_layers, n_heads = heads.shape[:2]
    head_dla = _project(cache, einops.rearrange(heads, "l h d -> (l h) 1 d"), direction)
    final = cache[f"blocks.{n_layers - 1}.hook_resid_post"][:, -1][None]
    answer_logits = logits[0, -1, answers.id_tensor(logits.device)].double().cpu().numpy()
    metrics = question_metrics(answer_logits[None], np.asarray(answers.is_true_word), np.array([label]))
    return QuestionDLA(
        tokens=bridge.tokenizer.convert_ids_to_tokens(tokens.tolist()),
        lens_labels=list(lens_labels),
        logit_lens=_project(cache, accumulated, direction),
        layer_labels=list(layer_labels),
        per_layer=_project(cache, per_layer, direction),
        per_head=einops.rearrange(head_dla, "(l h) -> l h", l=n_layers, h=n_heads),
        attn_bias=_project(cache, biases[:, None], direction),
        final_projection=float(_project(cache, final, direction)[0]),
        logit_diff=float(metrics["logit_diff"][0]),
        patterns=torch.cat([cache[f"blocks.{layer}.attn.hook_pattern"] for layer in range(n_layers)]).float().cpu().numpy(),
    )


def top_heads(per_head: np.ndarray, k: int) -> dict[str, list[tuple[int, int, float]]]:
    """The ``k`` most positive and most negative heads of a ``[layer, head]`` map: (layer, head, value)."""
    flat = per_head.ravel()
    order = np.argsort(flat)
    k = min(k, flat.size)
    as_cells = lambda idx: [(int(i // per_head.shape[1]), int(i % per_head.shape[1]), float(flat[i])) for i in idx]
    return {"positive": as_cells(order[::-1][:k]), "negative": as_cells(order[:k])}


def attention_vs_mlp(per_layer: np.ndarray, skip_first_layer: bool = True) -> dict[str, float]:
    """The seed's summary: total DLA increase over attention layers vs MLP layers (layer 0 skipped, as in the seed).

    ``per_layer`` is ``[..., 2 * n_layers + 1]`` (embed, attn_0, mlp_0, ...); the result holds the
    mean over questions of each sum and the MLP share of the net increase.
    """
    first = 1 if skip_first_layer else 0
    attn = per_layer[..., 1::2][..., first:].sum(-1).mean()
    mlp = per_layer[..., 2::2][..., first:].sum(-1).mean()
    return {"attention": float(attn), "mlp": float(mlp), "mlp_share_of_net_increase": float(mlp / (attn + mlp)), "skipped_layer_0": skip_first_layer}
