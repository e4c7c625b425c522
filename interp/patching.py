"""Activation patching, batched: many patched runs per forward pass, each started at the patched layer.

TransformerLens's ``transformer_lens.patching`` runs one full forward per grid cell. Here, for a layer
L, every cell of that layer becomes one row of a batch (:func:`patched_answer_logits`): every row
starts from the corrupted run's ``resid_pre`` at L, patches its own clean activation at L (a position
of ``resid_pre``, ``attn_out`` or ``mlp_out``, or one head's ``z`` at all positions), and only
layers L..end run. :func:`run_rows` also skips what cannot change: the model is causal, so a row
patched from position p on only recomputes positions >= p (earlier keys and values are the corrupted
run's); all rows are packed into one sequence with a mask that keeps them apart; the last layer
computes only the last position, and only the answer words are unembedded. The numbers equal
TransformerLens's (tested within 1e-4); BENCHMARKS.md has the speed.

Recording (:func:`record_activations`) and attribution patching run the Hugging Face decoder layers
themselves (:func:`run_from_layer`, same masks and rotary embeddings as the model's own forward), so
the sites are exactly the TransformerLens bridge hooks (tested):

=============  =====================================  ==========================================
site           TransformerLens bridge hook            Hugging Face module (Gemma 2/3)
=============  =====================================  ==========================================
resid_pre      ``blocks.L.hook_resid_pre``            input of ``layers[L]``
attn_out       ``blocks.L.hook_attn_out``             output of ``post_attention_layernorm``
mlp_out        ``blocks.L.hook_mlp_out``              output of ``post_feedforward_layernorm``
head_out       ``blocks.L.attn.hook_z`` (per head)    input of ``self_attn.o_proj``
=============  =====================================  ==========================================

Attribution patching (:func:`attribution_patch`) estimates the same grids with 2 forwards and 1
backward: (clean - corrupted activation) · d log_odds / d activation at the corrupted run.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any, Callable, Sequence

import einops
import numpy as np
import torch

from fk_bench.errors import FkBenchError
from fk_bench.metrics import question_metrics
from fk_bench.prompts import encode

SITES: tuple[str, ...] = ("resid_pre", "attn_out", "mlp_out", "head_out")
"""The four patching grids: layer x position for the first three, layer x head for head_out."""

METRICS: tuple[str, ...] = ("log_odds", "logit_diff")

AnswerMetric = Callable[[torch.Tensor], torch.Tensor]
"""Answer-word logits at the last position, ``[rows, n_words]`` -> one number per row, ``[rows]``."""


# --------------------------------------------------------------------------------------------------
# The model's pieces


def _text_model(model: Any) -> Any:
    """The decoder stack (``model.model`` of a Hugging Face causal LM) with layers, norm and rotary."""
    text = getattr(model, "model", None)
    if text is None or not hasattr(text, "layers") or not hasattr(text, "norm"):
        raise FkBenchError(f"{type(model).__name__}: batched patching needs a decoder-only model with model.layers and model.norm")
    return text


def _site_modules(layer: Any) -> dict[str, Any]:
    """The module whose output (input, for head_out) is each site, as the bridge hooks them."""
    if not hasattr(layer, "post_feedforward_layernorm"):
        raise FkBenchError(f"{type(layer).__name__}: batched patching supports Gemma 2/3 decoder layers (post-attention and post-MLP norms)")
    return {"attn_out": layer.post_attention_layernorm, "mlp_out": layer.post_feedforward_layernorm, "head_out": layer.self_attn.o_proj}


def n_heads(model: Any) -> int:
    return int(model.config.num_attention_heads)


def n_layers(model: Any) -> int:
    return len(_text_model(model).layers)


def _layer_types(model: Any) -> list[str]:
    return list(getattr(model.config, "layer_types", None) or ["full_attention"] * n_layers(model))


def _layer_context(model: Any, hidden: torch.Tensor) -> tuple[dict, dict, torch.Tensor]:
    """Attention masks and rotary embeddings per layer type, built exactly as the model's forward does."""
    from transformers.masking_utils import create_causal_mask, create_sliding_window_causal_mask

    text = _text_model(model)
    position_ids = torch.arange(hidden.shape[1], device=hidden.device)[None]
    kwargs = {"config": model.config, "inputs_embeds": hidden, "attention_mask": None, "cache": None, "position_ids": position_ids}
    builders = {"full_attention": create_causal_mask, "sliding_attention": create_sliding_window_causal_mask}
    masks, rotary = {}, {}
    for layer_type in set(_layer_types(model)):
        masks[layer_type] = builders[layer_type](**kwargs)
        rotary[layer_type] = _rotary(text, hidden, position_ids, layer_type)
    return masks, rotary, position_ids


def _rotary(text: Any, hidden: torch.Tensor, position_ids: torch.Tensor, layer_type: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(cos, sin) for ``layer_type`` (Gemma 3 has local and global rope; others one for all layers)."""
    try:
        return text.rotary_emb(hidden, position_ids, layer_type)
    except TypeError:
        return text.rotary_emb(hidden, position_ids)


def unembed_answers(model: Any, final_resid: torch.Tensor, answer_ids: torch.Tensor) -> torch.Tensor:
    """Logits of the answer words only: final norm, then the answer rows of the unembedding (+ softcap)."""
    head = model.get_output_embeddings()
    logits = _text_model(model).norm(final_resid) @ head.weight[answer_ids].T
    if getattr(head, "bias", None) is not None:
        logits = logits + head.bias[answer_ids]
    softcap = getattr(model.config, "final_logit_softcapping", None)
    if softcap is not None:
        logits = torch.tanh(logits / softcap) * softcap
    return logits


# --------------------------------------------------------------------------------------------------
# Forward from a layer, with per-row patches


@dataclass
class Patch:
    """Rows of a batch that take the clean activation at one site of the start layer.

    ``mask`` is ``[rows, pos]`` (``[rows, pos, head]`` for head_out); ``clean`` is the clean run's
    activation at that layer, ``[pos, d_model]`` (``[pos, head, d_head]``).
    """

    mask: torch.Tensor
    clean: torch.Tensor

    def apply(self, activation: torch.Tensor) -> torch.Tensor:
        return torch.where(self.mask[..., None], self.clean.to(activation.dtype), activation)

    def rows(self, start: int, stop: int) -> "Patch":
        return Patch(self.mask[start:stop], self.clean)


def _split_heads(x: torch.Tensor, heads: int) -> torch.Tensor:
    return einops.rearrange(x, "b s (h d) -> b s h d", h=heads)


def run_from_layer(
    model: Any,
    resid: torch.Tensor,
    start_layer: int,
    answer_ids: torch.Tensor,
    patches: dict[str, Patch] | None = None,
    record: dict[str, list[torch.Tensor]] | None = None,
) -> torch.Tensor:
    """Run layers ``start_layer``..end on ``resid`` (``[rows, pos, d_model]``, the resid_pre there).

    ``patches`` (keyed by site; ``resid_pre`` is applied to ``resid`` itself) act at ``start_layer``
    only. ``record``, when given, receives every site's activation of every layer run (keys of
    :data:`SITES`, one list entry per layer). Returns the answer-word logits at the last position,
    ``[rows, n_words]``.
    """
    patches = patches or {}
    text = _text_model(model)
    heads = n_heads(model)
    if "resid_pre" in patches:
        resid = patches["resid_pre"].apply(resid)
    masks, rotary, position_ids = _layer_context(model, resid)
    layer_types = _layer_types(model)
    handles = []

    def output_hook(site: str, layer_index: int):
        def hook(module, args, output):
            if layer_index == start_layer and site in patches:
                output = patches[site].apply(output)
            if record is not None:
                record[site].append(output)
            return output

        return hook

    def z_hook(layer_index: int):
        def hook(module, args):
            z = _split_heads(args[0], heads)
            if layer_index == start_layer and "head_out" in patches:
                z = patches["head_out"].apply(z)
            if record is not None:
                record["head_out"].append(z)
            return (einops.rearrange(z, "b s h d -> b s (h d)"),)

        return hook

    try:
        for index in range(start_layer, len(text.layers)):
            layer = text.layers[index]
            modules = _site_modules(layer)
            if record is not None or (index == start_layer and patches):
                handles.append(modules["attn_out"].register_forward_hook(output_hook("attn_out", index)))
                handles.append(modules["mlp_out"].register_forward_hook(output_hook("mlp_out", index)))
                handles.append(modules["head_out"].register_forward_pre_hook(z_hook(index)))
        hidden = resid
        for index in range(start_layer, len(text.layers)):
            if record is not None:
                record["resid_pre"].append(hidden)
            layer_type = layer_types[index]
            out = text.layers[index](
                hidden, attention_mask=masks[layer_type], position_embeddings=rotary[layer_type], position_ids=position_ids
            )
            hidden = out[0] if isinstance(out, tuple) else out
    finally:
        for handle in handles:
            handle.remove()
    return unembed_answers(model, hidden[:, -1], answer_ids)


# --------------------------------------------------------------------------------------------------
# Recorded runs


@dataclass
class Activations:
    """Every site of every layer for one prompt (batch dimension dropped), and its answer logits."""

    tokens: torch.Tensor
    resid_pre: torch.Tensor  # [layer, pos, d_model]
    attn_out: torch.Tensor  # [layer, pos, d_model]
    mlp_out: torch.Tensor  # [layer, pos, d_model]
    head_out: torch.Tensor  # [layer, pos, head, d_head]: the z that each head hands to o_proj
    answer_logits: torch.Tensor  # [n_words]

    def site(self, name: str) -> torch.Tensor:
        return getattr(self, name)


def embed(model: Any, tokens: torch.Tensor) -> torch.Tensor:
    """The model's input embeddings of ``tokens`` (``[rows, pos]``), scaled as its forward scales them."""
    return model.get_input_embeddings()(tokens)


def _recorded(model: Any, tokens: torch.Tensor, answer_ids: torch.Tensor) -> tuple[dict[str, list[torch.Tensor]], torch.Tensor]:
    record: dict[str, list[torch.Tensor]] = {site: [] for site in SITES}
    logits = run_from_layer(model, embed(model, tokens[None]), 0, answer_ids, record=record)
    return record, logits[0]


@torch.no_grad()
def record_activations(model: Any, tokens: torch.Tensor, answer_ids: torch.Tensor) -> Activations:
    """One forward of ``tokens`` (``[pos]``) recording every patching site."""
    record, logits = _recorded(model, tokens, answer_ids)
    return Activations(tokens, *(torch.cat(record[site]) for site in SITES), answer_logits=logits)


# --------------------------------------------------------------------------------------------------
# Metrics


def answer_metrics(answer_logits: torch.Tensor, is_true_word: Sequence[bool], label: bool) -> dict[str, np.ndarray]:
    """log_odds and logit_diff (signed: positive = correct) of answer logits ``[..., n_words]``.

    The log-softmax normalizer cancels in both, so logits stand in for log-probabilities.
    """
    flat = answer_logits.detach().double().cpu().numpy().reshape(-1, answer_logits.shape[-1])
    metrics = question_metrics(flat, np.asarray(is_true_word), np.full(flat.shape[0], bool(label)))
    return {name: metrics[name].reshape(answer_logits.shape[:-1]) for name in METRICS}


def log_odds_torch(answer_logits: torch.Tensor, is_true_word: Sequence[bool], label: bool) -> torch.Tensor:
    """Differentiable log_odds (same as :func:`answer_metrics`'s), for attribution patching."""
    is_true = torch.tensor(list(is_true_word), device=answer_logits.device)
    true_vs_false = torch.logsumexp(answer_logits[..., is_true], -1) - torch.logsumexp(answer_logits[..., ~is_true], -1)
    return true_vs_false if label else -true_vs_false


def normalize(values: np.ndarray, clean: float, corrupted: float) -> np.ndarray:
    """0 = the corrupted run, 1 = the clean run."""
    return (np.asarray(values) - corrupted) / (clean - corrupted)


# --------------------------------------------------------------------------------------------------
# Exact patching grids


def grid_size(model: Any, site: str, n_pos: int) -> int:
    """Cells per layer: positions for resid_pre/attn_out/mlp_out, heads for head_out."""
    if site not in SITES:
        raise FkBenchError(f"patching site {site!r}: choose one of {', '.join(SITES)}")
    return n_heads(model) if site == "head_out" else n_pos


def _layer_patches(model: Any, clean: Activations, layer: int, sites: Sequence[str], n_pos: int) -> tuple[dict[str, Patch], list[tuple[str, int]]]:
    """One batch row per cell of ``layer`` over ``sites``: row r patches only its own cell."""
    cells = [(site, index) for site in sites for index in range(grid_size(model, site, n_pos))]
    rows, device, heads = len(cells), clean.tokens.device, n_heads(model)
    patches: dict[str, Patch] = {}
    for site in sites:
        shape = (rows, n_pos, heads) if site == "head_out" else (rows, n_pos)
        mask = torch.zeros(shape, dtype=torch.bool, device=device)
        for row, (cell_site, index) in enumerate(cells):
            if cell_site == site and site == "head_out":
                mask[row, :, index] = True
            elif cell_site == site:
                mask[row, index] = True
        patches[site] = Patch(mask, clean.site(site)[layer])
    return patches, cells


# --------------------------------------------------------------------------------------------------
# Packed suffix runs: each row computes only the positions its patches can reach


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def _rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotary embedding of ``x`` ``[tokens, heads, d_head]`` with per-token ``cos``/``sin`` ``[tokens, d_head]``."""
    return x * cos[:, None] + _rotate_half(x) * sin[:, None]


def _keys_values(attn: Any, normed: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Rotated, normed keys and values ``[tokens, kv_heads, d_head]`` of ``normed`` ``[tokens, d_model]``."""
    k = einops.rearrange(attn.k_proj(normed), "n (h d) -> n h d", d=attn.head_dim)
    v = einops.rearrange(attn.v_proj(normed), "n (h d) -> n h d", d=attn.head_dim)
    return _rope(attn.k_norm(k), cos, sin), v


@dataclass
class _Packed:
    """Tokens of many rows in one sequence: row r holds its positions ``start[r]``..end only.

    Positions before ``start[r]`` equal the corrupted run's (the model is causal and nothing earlier
    is patched), so their keys and values come from the corrupted run instead of being recomputed.
    """

    row: torch.Tensor  # [tokens]
    pos: torch.Tensor  # [tokens]
    start: torch.Tensor  # [rows]
    last: torch.Tensor  # [rows]: index of each row's last position in the packed sequence

    @classmethod
    def from_starts(cls, start: torch.Tensor, n_pos: int) -> "_Packed":
        lengths = n_pos - start
        row = torch.repeat_interleave(torch.arange(start.shape[0], device=start.device), lengths)
        offsets = torch.cumsum(lengths, 0) - lengths
        pos = torch.arange(row.shape[0], device=start.device) - offsets[row] + start[row]
        return cls(row, pos, start, torch.cumsum(lengths, 0) - 1)

    def attention_bias(self, queries: torch.Tensor, n_pos: int, window: int | None, dtype: torch.dtype) -> torch.Tensor:
        """Additive mask ``[queries, n_pos + tokens]``: corrupted keys before the row's start, then the row's own keys."""
        q_row, q_pos = self.row[queries], self.pos[queries]
        j = torch.arange(n_pos, device=q_pos.device)
        from_corrupted = j[None, :] < self.start[q_row][:, None]
        from_row = (self.row[None, :] == q_row[:, None]) & (self.pos[None, :] <= q_pos[:, None])
        if window is not None:
            from_corrupted &= (q_pos[:, None] - j[None, :]) < window
            from_row &= (q_pos[:, None] - self.pos[None, :]) < window
        allowed = torch.cat([from_corrupted, from_row], dim=1)
        return torch.zeros(allowed.shape, dtype=dtype, device=allowed.device).masked_fill(~allowed, torch.finfo(dtype).min)


def _row_starts(patches: dict[str, Patch], n_rows: int, n_pos: int, device: torch.device) -> torch.Tensor:
    """First position each row patches (the last position for rows without a patch)."""
    touched = torch.zeros(n_rows, n_pos, dtype=torch.bool, device=device)
    for patch in patches.values():
        touched |= patch.mask if patch.mask.dim() == 2 else patch.mask.any(-1)
    first = torch.where(touched.any(1), touched.float().argmax(1), torch.full((n_rows,), n_pos - 1, device=device))
    return first.long()


def _packed_patch(patch: Patch | None, packed: _Packed, values: torch.Tensor) -> torch.Tensor:
    if patch is None:
        return values
    mask = patch.mask[packed.row, packed.pos]
    return torch.where(mask[..., None], patch.clean[packed.pos].to(values.dtype), values)


def _rotary_tables(model: Any, n_pos: int, like: torch.Tensor) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """(cos, sin) ``[pos, d_head]`` per layer type."""
    text = _text_model(model)
    position_ids = torch.arange(n_pos, device=like.device)[None]
    return {t: tuple(x[0] for x in _rotary(text, like[None], position_ids, t)) for t in set(_layer_types(model))}


@torch.no_grad()
def corrupted_keys_values(model: Any, corrupted: Activations) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Per layer, the corrupted run's rotated keys and values ``[pos, kv_heads, d_head]`` (shared by every patched row)."""
    text, layer_types = _text_model(model), _layer_types(model)
    rotary = _rotary_tables(model, corrupted.tokens.shape[0], corrupted.resid_pre[0])
    return [
        _keys_values(layer.self_attn, layer.input_layernorm(corrupted.resid_pre[index]), *rotary[layer_types[index]])
        for index, layer in enumerate(text.layers)
    ]


@torch.no_grad()
def run_rows(
    model: Any,
    corrupted: Activations,
    start_layer: int,
    answer_ids: torch.Tensor,
    patches: dict[str, Patch],
    corrupted_kv: list[tuple[torch.Tensor, torch.Tensor]] | None = None,
) -> torch.Tensor:
    """Answer logits ``[rows, n_words]`` of the corrupted run with each row's ``patches`` at ``start_layer``.

    Same result as :func:`run_from_layer` on the corrupted ``resid_pre`` (tested), but each row
    computes only positions from its first patched one on, all rows packed into one sequence whose
    attention mask keeps rows apart; the last layer computes only each row's last position.
    ``corrupted_kv`` (:func:`corrupted_keys_values`) may be passed to share it between calls.
    """
    text, n_pos = _text_model(model), corrupted.tokens.shape[0]
    _site_modules(text.layers[start_layer])  # Gemma 2/3 layers only
    corrupted_kv = corrupted_kv or corrupted_keys_values(model, corrupted)
    n_rows = next(iter(patches.values())).mask.shape[0]
    device = corrupted.resid_pre.device
    packed = _Packed.from_starts(_row_starts(patches, n_rows, n_pos, device), n_pos)
    hidden = _packed_patch(patches.get("resid_pre"), packed, corrupted.resid_pre[start_layer][packed.pos])
    layer_types = _layer_types(model)
    rotary = {t: (cos[packed.pos], sin[packed.pos], cos[packed.pos[packed.last]], sin[packed.pos[packed.last]]) for t, (cos, sin) in _rotary_tables(model, n_pos, hidden).items()}
    every = torch.arange(packed.row.shape[0], device=device)
    biases: dict[tuple, torch.Tensor] = {}
    last_layer = len(text.layers) - 1
    for index in range(start_layer, len(text.layers)):
        layer, at_start, is_last = text.layers[index], index == start_layer, index == last_layer
        attn = layer.self_attn
        cos, sin, last_cos, last_sin = rotary[layer_types[index]]
        queries = packed.last if is_last else every
        normed = layer.input_layernorm(hidden)
        k, v = _keys_values(attn, normed, cos, sin)
        k_corrupt, v_corrupt = corrupted_kv[index]
        q = einops.rearrange(attn.q_proj(normed[queries] if is_last else normed), "n (h d) -> n h d", d=attn.head_dim)
        q = _rope(attn.q_norm(q), last_cos if is_last else cos, last_sin if is_last else sin)
        keys = einops.repeat(torch.cat([k_corrupt, k]), "m kv d -> (kv g) m d", g=attn.num_key_value_groups)
        values = einops.repeat(torch.cat([v_corrupt, v]), "m kv d -> (kv g) m d", g=attn.num_key_value_groups)
        scores = einops.einsum(q, keys, "n h d, h m d -> h n m") * attn.scaling
        if getattr(attn, "attn_logit_softcapping", None) is not None:
            scores = torch.tanh(scores / attn.attn_logit_softcapping) * attn.attn_logit_softcapping
        window = getattr(attn, "sliding_window", None)
        if (window, is_last) not in biases:
            biases[window, is_last] = packed.attention_bias(queries, n_pos, window, scores.dtype)
        weights = torch.softmax(scores + biases[window, is_last], dim=-1, dtype=torch.float32).to(q.dtype)
        z = einops.einsum(weights, values, "h n m, h m d -> n h d")
        sub = _Packed(packed.row[queries], packed.pos[queries], packed.start, packed.last) if at_start else None
        if at_start:
            z = _packed_patch(patches.get("head_out"), sub, z)
        attn_out = layer.post_attention_layernorm(attn.o_proj(einops.rearrange(z, "n h d -> n (h d)")))
        if at_start:
            attn_out = _packed_patch(patches.get("attn_out"), sub, attn_out)
        hidden = (hidden[queries] if is_last else hidden) + attn_out
        mlp_out = layer.post_feedforward_layernorm(layer.mlp(layer.pre_feedforward_layernorm(hidden)))
        if at_start:
            mlp_out = _packed_patch(patches.get("mlp_out"), sub, mlp_out)
        hidden = hidden + mlp_out
    return unembed_answers(model, hidden, answer_ids)  # the last layer kept one position per row, in row order


@torch.no_grad()
def patched_answer_logits(
    model: Any,
    clean: Activations,
    corrupted: Activations,
    answer_ids: torch.Tensor,
    sites: Sequence[str] = SITES,
    layers: Sequence[int] | None = None,
    max_rows: int = 64,
) -> dict[str, torch.Tensor]:
    """Answer logits of every patched run: ``{site: [layer, cell, n_words]}``.

    One batch per layer holds a row per cell of every site in ``sites`` (split into chunks of at
    most ``max_rows`` rows), run by :func:`run_rows` from that layer on.
    """
    if clean.tokens.shape != corrupted.tokens.shape:
        raise FkBenchError(f"clean and corrupted runs have different token lengths ({clean.tokens.shape[0]} vs {corrupted.tokens.shape[0]})")
    n_pos = clean.tokens.shape[0]
    layers = list(range(n_layers(model))) if layers is None else list(layers)
    out = {site: torch.empty(len(layers), grid_size(model, site, n_pos), answer_ids.shape[0]) for site in sites}
    corrupted_kv = corrupted_keys_values(model, corrupted)
    for li, layer in enumerate(layers):
        patches, cells = _layer_patches(model, clean, layer, sites, n_pos)
        logits = []
        for start in range(0, len(cells), max_rows):
            chunk = {site: patch.rows(start, min(start + max_rows, len(cells))) for site, patch in patches.items()}
            logits.append(run_rows(model, corrupted, layer, answer_ids, chunk, corrupted_kv))
        logits = torch.cat(logits).float().cpu()
        for row, (site, index) in enumerate(cells):
            out[site][li, index] = logits[row]
    return out


def batched_act_patch(
    model: Any,
    corrupted_tokens: torch.Tensor,
    clean_activations: Activations,
    answer_ids: torch.Tensor,
    patching_metric: AnswerMetric,
    site: str,
) -> torch.Tensor:
    """The batched counterpart of TransformerLens's ``get_act_patch_*``: ``[layer, pos]`` or ``[layer, head]``.

    ``patching_metric`` maps last-position answer-word logits ``[rows, n_words]`` to ``[rows]``.
    """
    corrupted = record_activations(model, corrupted_tokens, answer_ids)
    logits = patched_answer_logits(model, clean_activations, corrupted, answer_ids, sites=(site,))[site]
    rows = patching_metric(einops.rearrange(logits, "layer cell word -> (layer cell) word"))
    return einops.rearrange(rows, "(layer cell) -> layer cell", layer=logits.shape[0])


get_act_patch_resid_pre = partial(batched_act_patch, site="resid_pre")
get_act_patch_attn_out = partial(batched_act_patch, site="attn_out")
get_act_patch_mlp_out = partial(batched_act_patch, site="mlp_out")
get_act_patch_attn_head_out_all_pos = partial(batched_act_patch, site="head_out")


# --------------------------------------------------------------------------------------------------
# Attribution patching


def attribution_patch(
    model: Any,
    clean: Activations,
    corrupted_tokens: torch.Tensor,
    answer_ids: torch.Tensor,
    is_true_word: Sequence[bool],
    label: bool,
    sites: Sequence[str] = SITES,
) -> dict[str, np.ndarray]:
    """Linear estimate of every patching cell's change in log_odds: ``{site: [layer, cell]}``.

    (clean - corrupted activation) · gradient of log_odds at the corrupted run, summed over d_model
    (over positions and d_head for head_out): with the clean run already recorded, one forward with
    gradients and one backward.
    """
    with torch.enable_grad():
        record, logits = _recorded(model, corrupted_tokens, answer_ids)
        metric = log_odds_torch(logits, is_true_word, label)
        grads = torch.autograd.grad(metric, [act for site in sites for act in record[site]])
    out: dict[str, np.ndarray] = {}
    for s, site in enumerate(sites):
        corrupted = torch.cat([act.detach() for act in record[site]])
        grad = torch.cat(grads[s * len(record[site]):(s + 1) * len(record[site])])
        product = (clean.site(site) - corrupted) * grad
        pattern = "l s h d -> l h" if site == "head_out" else "l s d -> l s"
        out[site] = einops.reduce(product, pattern, "sum").double().cpu().numpy()
    return out


# --------------------------------------------------------------------------------------------------
# One clean/corrupted pair


def tokenize_pair(tokenizer: Any, question_id: str, clean_prompt: str, corrupted_prompt: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Token ids of both prompts (BOS added as the evaluator adds it); they must have the same length."""
    clean, corrupted = encode(tokenizer, clean_prompt), encode(tokenizer, corrupted_prompt)
    if len(clean) != len(corrupted):
        raise FkBenchError(
            f"question {question_id}: clean prompt has {len(clean)} tokens but corrupted prompt has {len(corrupted)}; "
            "patching needs equal lengths"
        )
    return torch.tensor(clean), torch.tensor(corrupted)


@dataclass
class PairPatching:
    """Exact and attribution patching grids of one clean/corrupted pair, normalized (0 = corrupted, 1 = clean)."""

    question_id: str
    clean_tokens: list[str]
    corrupted_tokens: list[str]
    clean: dict[str, float]  # metric -> value on the clean run
    corrupted: dict[str, float]  # metric -> value on the corrupted run
    exact: dict[str, dict[str, np.ndarray]]  # metric -> site -> [layer, cell], normalized
    attribution: dict[str, np.ndarray]  # site -> [layer, cell], normalized log_odds

    def to_json(self) -> dict:
        return {
            "question_id": self.question_id,
            "clean_tokens": self.clean_tokens,
            "corrupted_tokens": self.corrupted_tokens,
            "clean": self.clean,
            "corrupted": self.corrupted,
            "exact": {m: {s: grid.tolist() for s, grid in grids.items()} for m, grids in self.exact.items()},
            "attribution_log_odds": {s: grid.tolist() for s, grid in self.attribution.items()},
        }


def patch_pair(
    model: Any,
    tokenizer: Any,
    question_id: str,
    clean_prompt: str,
    corrupted_prompt: str,
    label: bool,
    answer_ids: torch.Tensor,
    is_true_word: Sequence[bool],
    attribution: bool = True,
) -> PairPatching:
    """All four exact grids (both metrics) and, unless ``attribution`` is False, their attribution estimates."""
    device = next(model.parameters()).device
    clean_tokens, corrupted_tokens = (t.to(device) for t in tokenize_pair(tokenizer, question_id, clean_prompt, corrupted_prompt))
    answer_ids = answer_ids.to(device)
    clean = record_activations(model, clean_tokens, answer_ids)
    corrupted = record_activations(model, corrupted_tokens, answer_ids)
    clean_m = {k: float(v) for k, v in answer_metrics(clean.answer_logits, is_true_word, label).items()}
    corrupted_m = {k: float(v) for k, v in answer_metrics(corrupted.answer_logits, is_true_word, label).items()}
    patched = {site: answer_metrics(logits, is_true_word, label) for site, logits in patched_answer_logits(model, clean, corrupted, answer_ids).items()}
    exact = {m: {site: normalize(patched[site][m], clean_m[m], corrupted_m[m]) for site in SITES} for m in METRICS}
    estimates = {}
    if attribution:
        raw = attribution_patch(model, clean, corrupted_tokens, answer_ids, is_true_word, label)
        delta = clean_m["log_odds"] - corrupted_m["log_odds"]
        estimates = {site: grid / delta for site, grid in raw.items()}
    return PairPatching(
        question_id,
        tokenizer.convert_ids_to_tokens(clean_tokens.tolist()),
        tokenizer.convert_ids_to_tokens(corrupted_tokens.tolist()),
        clean_m,
        corrupted_m,
        exact,
        estimates,
    )
