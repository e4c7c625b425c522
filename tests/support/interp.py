"""Tiny random models of every decoder-only family the interp tests cover, built from configs.

Each is a 2-layer model with the tiny byte-level tokenizer of :mod:`support`, saved and loaded as
fk-bench loads any local model. Norm gains are perturbed (they start at one, which would hide a
missing gain in DLA) and embeddings scaled up so that answer words get distinct probabilities.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from fk_bench.answers import DEFAULT_GROUPS
from fk_bench.models import LoadedModel, load_model
from interp.core.answer_tokens import AnswerTokens, single_token_answers
from support import build_tiny_tokenizer

if TYPE_CHECKING:
    from interp.core.model import InterpModel

CLEAN = "Is Paris the capital of France?\n"
CORRUPTED = "Is Paris the capital of Italy?\n"

FAMILIES = ("gemma3", "gemma2", "llama", "qwen2", "gpt2", "gpt_neox")
"""Gemma 3 and 2 (post-norms, soft-caps, sliding windows), Llama (SmolLM2's), Qwen2 (grouped-query
attention with q/k/v biases), GPT-2 (LayerNorm, learned positions, no post-norms), GPT-NeoX
(parallel attention and MLP, partial rotary)."""

CHAT_TEMPLATE = (
    "{{ bos_token }}<|system|>\nYou answer questions.\n"
    "{% for message in messages %}<|{{ message['role'] }}|>\n{{ message['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)
"""A chat template with a system prompt, so chat prompts have a long shared prefix."""


def family_config(family: str, tokenizer) -> tuple[type, Any]:
    import transformers as hf

    special = {
        "vocab_size": len(tokenizer),
        "pad_token_id": tokenizer.pad_token_id,
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
    }
    # A wide initialization so that the random models' answers move visibly between clean and corrupted prompts.
    rope = {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "max_position_embeddings": 256, "initializer_range": 0.2, **special}
    if family == "gemma3":
        return hf.Gemma3ForCausalLM, hf.Gemma3TextConfig(
            num_attention_heads=4, num_key_value_heads=1, head_dim=16, sliding_window=64, layer_types=["sliding_attention", "full_attention"], **rope
        )
    if family == "gemma2":
        return hf.Gemma2ForCausalLM, hf.Gemma2Config(
            num_attention_heads=4,
            num_key_value_heads=2,
            head_dim=16,
            sliding_window=64,
            final_logit_softcapping=30.0,
            attn_logit_softcapping=50.0,
            **rope,
        )
    if family == "llama":
        return hf.LlamaForCausalLM, hf.LlamaConfig(num_attention_heads=4, num_key_value_heads=2, **rope)
    if family == "qwen2":  # six query heads share one key/value head
        return hf.Qwen2ForCausalLM, hf.Qwen2Config(**{**rope, "hidden_size": 96}, num_attention_heads=6, num_key_value_heads=1)
    if family == "gpt2":
        return hf.GPT2LMHeadModel, hf.GPT2Config(n_embd=64, n_layer=2, n_head=4, n_positions=256, initializer_range=0.2, **special)
    if family == "gpt_neox":
        return hf.GPTNeoXForCausalLM, hf.GPTNeoXConfig(num_attention_heads=4, rotary_pct=0.5, **rope)  # type: ignore[call-arg]  # -> partial_rotary_factor
    raise ValueError(family)


def build_family_model(family: str, path: Path, seed: int = 0, chat: bool = False) -> LoadedModel:
    """A 2-layer random model of ``family`` saved to ``path`` and loaded with :func:`fk_bench.models.load_model`."""
    tokenizer = build_tiny_tokenizer()
    if chat:
        tokenizer.chat_template = CHAT_TEMPLATE
    model_class, config = family_config(family, tokenizer)
    config.architectures = [model_class.__name__]
    torch.manual_seed(seed)
    model = model_class(config)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        model.get_input_embeddings().weight.mul_(20.0)
        for name, param in model.named_parameters():
            if "norm" in name or ".ln_" in name or "layernorm" in name:
                param.add_(0.5 * torch.randn(param.shape, generator=generator))
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return load_model(str(path), device="cpu", dtype="float32")


def tiny_answers(loaded: LoadedModel, prompts=(CLEAN, CORRUPTED)) -> AnswerTokens:
    return single_token_answers(loaded.tokenizer, list(prompts), DEFAULT_GROUPS)


@functools.lru_cache(maxsize=1)
def private_embedded_model() -> LoadedModel:
    """An embedded model of the interp tests' own: booting a bridge takes the model over (wraps its
    modules, processes its weights), which other tests sharing the session's ``embedded_model`` should not see."""
    return load_model("embedded", device="cpu", dtype="float32")


@functools.cache
def booted_family(family: str) -> tuple[LoadedModel, InterpModel, AnswerTokens]:
    """One booted model per family for the whole test session (booting takes the model over, so the
    tests that share it use only the InterpModel)."""
    import atexit
    import shutil
    import tempfile

    from interp.core.model import InterpModel

    folder = Path(tempfile.mkdtemp(prefix=f"fk-bench-tiny-{family}-"))
    atexit.register(shutil.rmtree, folder, True)
    loaded = build_family_model(family, folder)
    answers = tiny_answers(loaded)
    return loaded, InterpModel.boot(loaded), answers


# --------------------------------------------------------------------------------------------------
# Naive references for causal tracing and attention knockout: one plainly hooked forward per cell


class NaiveTracer:
    """Restored runs written out plainly: one full forward of the noised prompt (no cache, no sweep) per
    run, with the clean (or, for a cell whose source is "corrupted", the noised run's own) activations
    written at its cells by hooks on the bridge's hook points."""

    def __init__(self, model: InterpModel, tokens, noise, answer_ids):
        self.model, self.noise, self.ids = model, noise, answer_ids
        self.tokens = model.tensor(list(tokens))[None]
        with torch.no_grad():
            _, self.clean = model.bridge.run_with_cache(self.tokens)
            with model.bridge.hooks(fwd_hooks=[noise.hook(0)]):
                _, self.noised = model.bridge.run_with_cache(self.tokens)

    def __call__(self, cells) -> torch.Tensor:
        """Answer logits ``[n_words]`` of the noised run with ``cells`` restored."""
        from interp.core.edits import SITE_TABLE

        hooks = [self.noise.hook(0)]
        for cell in cells:
            source = self.clean if cell.source == "clean" else self.noised
            name = SITE_TABLE[cell.site].hook(cell.layer)

            def write(x, hook, name=name, source=source, position=cell.index):
                x[:, position] = source[name][:, position]
                return x

            hooks.append((name, write))
        with torch.no_grad():
            return self.model.bridge.run_with_hooks(self.tokens, fwd_hooks=hooks)[0, -1, self.ids]


def hf_attention_modules(hf_model) -> list:
    """The Hugging Face attention module of each layer, in order (every family's has a ``layer_idx``)."""
    found = [m for m in hf_model.modules() if type(m).__name__.endswith("Attention") and hasattr(m, "layer_idx")]
    return sorted(found, key=lambda m: m.layer_idx)


@functools.cache
def eager_model(path: str):
    """The Hugging Face model saved at ``path``, loaded afresh with eager attention (never booted)."""
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(path, attn_implementation="eager", dtype=torch.float32).eval()


def hand_masked_logits(path, tokens, blocked_per_layer: dict[int, list[int]]) -> torch.Tensor:
    """Last-position logits of the Hugging Face model at ``path`` (loaded afresh, eager attention, never
    booted) where layer ``l``'s attention gets a 4D additive mask written out by hand: causal, plus the
    minimum float at (last query, each key of ``blocked_per_layer[l]``). Geva et al. block edges this way."""
    hf = eager_model(str(path))
    n = len(tokens)
    low = torch.finfo(torch.float32).min
    handles = []
    for module in hf_attention_modules(hf):
        allowed = torch.ones(n, n, dtype=torch.bool).tril()
        for key in blocked_per_layer.get(module.layer_idx, []):
            allowed[n - 1, key] = False
        mask = torch.zeros(1, 1, n, n).masked_fill(~allowed, low)

        def replace(module, args, kwargs, mask=mask):
            if "attention_mask" not in kwargs:
                raise AssertionError(f"{type(module).__name__} takes its mask positionally")
            kwargs["attention_mask"] = mask
            return args, kwargs

        handles.append(module.register_forward_pre_hook(replace, with_kwargs=True))
    try:
        with torch.no_grad():
            return hf(torch.tensor([list(tokens)])).logits[0, -1]
    finally:
        for handle in handles:
            handle.remove()
