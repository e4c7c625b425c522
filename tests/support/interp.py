"""Tiny random models of every decoder-only family the interp tests cover, built from configs.

Each is a 2-layer model with the tiny byte-level tokenizer of :mod:`support`, saved and loaded as
fk-bench loads any local model. Norm gains are perturbed (they start at one, which would hide a
missing gain in DLA) and embeddings scaled up so that answer words get distinct probabilities.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from fk_bench.answer_groups import DEFAULT_GROUPS
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


# ---- report.json files written by hand (what the readers of reports are tested on) -------------------


def interval_json(estimate, low, high, wide=False, kind="magnitude", n_pairs=10) -> dict:
    return {"estimate": estimate, "low": low, "high": high, "n_pairs": n_pairs, "kind": kind, "wide": wide}


def summary_row_json(relation: str = "capital_of", n_layers: int = 18, mlp_share: float = 0.92, wide: bool = False) -> dict:
    """A studied relation's summary row, as interp.study.sections.summary_row writes it."""
    gate = {"metric": "paired_accuracy", "threshold": 0.6, "value": 0.8, "passed": True}
    return {
        "relation": relation,
        "passed": True,
        "gate": gate,
        "n_pairs": 10,
        "n_skipped": 0,
        "jump": {
            "label": "13_mlp_out",
            "name": "MLP 13",
            "value": 2.5,
            "layer": 13,
            "fraction_of_depth": 14 / n_layers,
            "layer_interval": interval_json(13.0, 12.0, 15.0, wide=wide, kind="layer"),
            "value_interval": interval_json(2.5, 2.0, 3.0),
        },
        "mlp_share": interval_json(mlp_share, mlp_share - 0.12, mlp_share + 0.13, wide=wide),
        "fact_sits": "subject last L2-9; last L12-17",
        "knockout_peak": {
            "role": "subject",
            "layer": 9,
            "fraction_of_depth": 10 / n_layers,
            "drop": interval_json(0.4, 0.2, 0.6),
            "layer_interval": interval_json(9.0, 8.0, 10.0, kind="layer"),
        },
    }


def report_json(name: str = "model-a", n_layers: int = 18, rows: list | None = None, prompt_format: str = "chat") -> dict:
    """A complete, valid report.json (schema version 1) of a model ``name``: one studied relation and one gated out."""
    from fk_bench.spec import RunSpec
    from interp.study.report_settings import ReportSettings

    spec = RunSpec(model=name, prompt_format=prompt_format).model_dump(mode="json")
    gated = {"relation": "atomic_number", "passed": False, "gate": {"metric": "paired_accuracy", "threshold": 0.6, "value": 0.5, "passed": False}}
    gate = {"metric": "paired_accuracy", "threshold": 0.6, "value": 0.7, "passed": True}
    return {
        "schema_version": 1,
        "model": {
            **{"spec": name, "name": name, "path": f"/models/{name}", "source": {}, "device": "cpu", "dtype": "float32"},
            **{"architecture": "Gemma3ForCausalLM", "n_layers": n_layers, "n_heads": 4, "softcap": None},
        },
        "dataset": {**spec["dataset"], "n_questions": 40},
        "run": {"source": f"/runs/{name}/results.json", "spec": spec},
        "settings": ReportSettings().to_json(),
        "corruption": {"kind": "noise", "seed": 0, "span": "object", "noise_scale": 0.1},
        "gate": {**gate, "per_relation": {"capital_of": gate}},
        "evaluation": {"n_questions": 40, "n_pairs": 20, "accuracy": 0.7},
        "answer_tokens": {"words": ["Yes", "No"]},
        "n_skipped_pairs": 0,
        "summary_table": [summary_row_json(n_layers=n_layers), gated] if rows is None else rows,
        "sections": [{"relation": "atomic_number", "title": "atomic_number", "studied": False, "gate": gated["gate"], "reason": "below the gate"}],
        "seconds": {"total": 1.0},
        "n_figures": 0,
    }


def write_report(folder: Path, name: str = "model-a", data: dict | None = None, **kwargs: Any) -> Path:
    """``folder/name/report.json`` holding ``data`` (default: :func:`report_json` of ``name``)."""
    import json

    path = folder / name / "report.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report_json(name, **kwargs) if data is None else data), encoding="utf-8")
    return path


def _with(**changes: object) -> str:
    import json

    return json.dumps({**report_json("model-a"), **changes})


_GOOD = json.dumps(report_json("model-a"))
"""Bad report.json contents (text or bytes) and the reason the reader must give for each."""
HOSTILE_REPORTS: dict[str, tuple[str | bytes, str]] = {
    "not JSON": ("{not json", "not valid JSON"),
    "truncated": (_GOOD[: len(_GOOD) // 2], "not valid JSON"),
    "empty": ("", "not valid JSON"),
    "a JSON list": ("[1, 2]", "holds a JSON list, not a report.json"),
    "a JSON string": ('"report"', "holds a JSON str, not a report.json"),
    "duplicate keys": ('{"schema_version": 1, "schema_version": 1}', "duplicate key 'schema_version' in one object"),
    "NaN": (_GOOD.replace('"n_figures": 0', '"n_figures": NaN'), "holds NaN, not a number strict JSON allows"),
    "Infinity": (_GOOD.replace('"total": 1.0', '"total": Infinity'), "holds Infinity"),
    "latin-1": (_GOOD.replace("model-a", "mod\u00e8le").encode("latin-1"), "is not UTF-8 text"),
    "UTF-16": (_GOOD.encode("utf-16"), "is UTF-16 encoded; save it as UTF-8"),
    "nested 10,000 deep": ("[" * 10_000 + "]" * 10_000, "nested 10000 levels deep, more than the 64 fk-bench reads"),
    "nested 100 deep": ('{"a": ' * 100 + "1" + "}" * 100, "nested 100 levels deep, more than the 64 fk-bench reads"),
    "schema version 99": (_with(schema_version=99), "schema version 99; this fk-bench reads version 1: upgrade fk-bench"),
    "schema version 0": (_with(schema_version=0), "schema version 0; this fk-bench reads version 1: rerun fk-bench report"),
    "schema version as text": (_with(schema_version="1"), "schema version '1'; .* rerun fk-bench report"),
    "no schema version, no run": (json.dumps({"model": {}}), "not a valid report.json"),
    "summary_table not a list": (_with(summary_table={"a": 1}), "summary_table: Input should be a valid list"),
    "n_layers as text": (_with(model={**report_json()["model"], "n_layers": "18"}), "model.n_layers"),
    "unknown top-level key": (_with(injected=1), "injected: Extra inputs are not permitted"),
    "pair margin 0 in settings": (_with(settings={**report_json()["settings"], "pair_margin": 0.0}), "pair margin 0.0: must be more than 0"),
}
