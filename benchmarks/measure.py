"""What the speed benchmarks share: question slices, the FLOP floor, matmul rates, timing, subprocesses.

The FLOP floor of a run is the forward FLOPs the evaluator cannot avoid, divided by this machine's
matmul rate measured in the same run on the model's own MLP shape and dtype:

- 2 x non-embedding parameters per token the model reads (the prompt, after any shared prefix, and the
  leading tokens of the answer words the tokenizer splits, "Absol" of "Absol|utely");
- attention scores and values: 4 x layers x heads x head_dim per (query, visible key) pair;
- the unembedding, 2 x d_model x vocabulary, once per scored position (each question's last token,
  plus one per split-word token).

Share of the floor = floor time / measured time (1.0 = every FLOP at matmul speed).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from fk_bench.answer_groups import DEFAULT_GROUPS
from fk_bench.data import fewshot_pool, load_questions
from fk_bench.prompt_formats import build_prompt
from fk_bench.scoring import plan_prompts, shared_prefix

ZOO = ("embedded", "smollm2-135m-instruct", "qwen2.5-coder-1.5b-instruct")
CHAT_MODELS = ("smollm2-135m-instruct", "qwen2.5-coder-1.5b-instruct")
RELATIONS = (
    "atomic_number",
    "calling_code",
    "capital_of",
    "city_in_country",
    "country_domain",
    "country_in_continent",
    "currency_of",
    "element_symbol",
    "shares_border",
)


def relation_slice(per_relation: int) -> Any:
    """The first ``per_relation`` test questions of every relation: what ``lm_eval --tasks fk_yesno --limit N`` scores."""
    import datasets

    return datasets.concatenate_datasets([_table(load_questions(config=r, limit=per_relation)) for r in RELATIONS])


def _table(questions: Any) -> Any:
    """The ``datasets.Dataset`` of loaded questions (``load_questions`` returns it, or an object holding it)."""
    return getattr(questions, "table", questions)


def floor_questions(n: int) -> Any:
    """``n`` packaged test questions of all relations, shuffled with seed 0 (the floor benchmark's set)."""
    return _table(load_questions(config="all")).shuffle(seed=0).select(range(n))


def prompts_for(loaded: Any, questions: Sequence[str], prompt_format: str, k: int = 4) -> list[str]:
    examples = fewshot_pool(k) if prompt_format == "fewshot" else []
    return [build_prompt(q, prompt_format, loaded.tokenizer, examples) for q in questions]


def build_host_model(path: Path) -> Path:
    """The model of the host-overhead benchmark (issue 20), whose compute is small: the embedded Gemma 3
    config cut to 2 layers and hidden size 64, random weights (seed 0), with the embedded model's real
    tokenizer and 262,144-word vocabulary (so tokenizing and the unembedding cost what they cost)."""
    import shutil

    from transformers import AutoConfig, AutoModelForCausalLM

    from fk_bench.models.loading import embedded_model_dir

    if (path / "config.json").exists():
        return path
    source = embedded_model_dir()
    config = AutoConfig.from_pretrained(source)
    config.update(
        {
            "num_hidden_layers": 2,
            "hidden_size": 64,
            "intermediate_size": 128,
            "head_dim": 16,
            "query_pre_attn_scalar": 16,
            "layer_types": ["sliding_attention", "full_attention"],
        }
    )
    torch.manual_seed(0)
    AutoModelForCausalLM.from_config(config).save_pretrained(path)
    for item in source.iterdir():
        if item.name.startswith("tokenizer"):
            shutil.copy(item, path / item.name)
    return path


def scoring_at(commit: str) -> Any:
    """``fk_bench/scoring.py`` as of ``commit``, imported as its own module: the 'before' side of a speed
    comparison measured in the same run as today's."""
    import importlib.util

    source = subprocess.run(["git", "show", f"{commit}:fk_bench/scoring.py"], cwd=Path(__file__).parents[1], capture_output=True, text=True)
    if source.returncode != 0:
        raise RuntimeError(f"git show {commit}:fk_bench/scoring.py: {source.stderr.strip()}")
    spec = importlib.util.spec_from_loader(f"scoring_{commit}", loader=None)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    exec(compile(source.stdout, f"{commit}:fk_bench/scoring.py", "exec"), module.__dict__)
    return module


@dataclass
class Flops:
    total: float
    tokens: int
    scored: int


def forward_flops(loaded: Any, prompts: Sequence[str], words: Sequence[str] = DEFAULT_GROUPS.words) -> Flops:
    """The forward FLOPs :func:`fk_bench.scoring.score_answer_words` cannot avoid on ``prompts`` (see the module doc)."""
    model = loaded.model
    config = model.config.get_text_config()
    embedding = model.get_input_embeddings().weight
    output = model.get_output_embeddings().weight
    non_embedding = sum(p.numel() for p in model.parameters()) - embedding.numel()
    if output.data_ptr() != embedding.data_ptr():
        non_embedding -= output.numel()
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    per_pair = 4 * config.num_hidden_layers * config.num_attention_heads * head_dim
    plans, layouts, _ = plan_prompts(loaded.tokenizer, prompts, words)
    prefix, starts_with = shared_prefix([p.base for p in plans])
    tokens = scored = pairs = 0
    for i, plan in enumerate(plans):
        layout = layouts[plan.layout]
        start = len(prefix) if starts_with[i] else 0
        tokens += len(plan.base) - start + len(layout.lead)
        scored += len(layout.lead) + 1
        pairs += sum(position + 1 for position in range(start, len(plan.base)))  # the question's tokens
        pairs += sum(len(plan.base) + offset + 1 for offset in layout.offset)  # a word's token: the question and its word so far
    if prefix:
        tokens += len(prefix)
        pairs += len(prefix) * (len(prefix) + 1) // 2
    total = 2 * non_embedding * tokens + per_pair * pairs + 2 * config.hidden_size * output.shape[0] * scored
    return Flops(total, tokens, scored)


def matmul_gflops(tokens: int, d_model: int, d_ff: int, dtype: torch.dtype, repeats: int = 20) -> float:
    """Best-of matmul rate on the MLP's shape ([tokens, d_model] @ [d_model, d_ff]) in ``dtype``."""
    a, b = torch.randn(tokens, d_model, dtype=dtype), torch.randn(d_model, d_ff, dtype=dtype)
    for _ in range(3):
        a @ b
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(repeats):
            a @ b
        best = min(best, (time.perf_counter() - start) / repeats)
    return 2 * tokens * d_model * d_ff / best / 1e9


def mlp_rate(loaded: Any, tokens_per_batch: int) -> float:
    config = loaded.model.config.get_text_config()
    return matmul_gflops(tokens_per_batch, config.hidden_size, config.intermediate_size, loaded.model.dtype)


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def spread(values: Sequence[float], digits: int = 2) -> str:
    """'median (min-max)' of repeated measurements."""
    values = sorted(values)
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{statistics.median(values):.{digits}f} ({values[0]:.{digits}f}-{values[-1]:.{digits}f})"


def load_average() -> str:
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        return "n/a"


def run_command(args: Sequence[str], cwd: Path, env: dict | None = None) -> float:
    """Wall time of a whole command (a fresh process, as a user runs it); its output is kept on failure."""
    start = time.perf_counter()
    done = subprocess.run(list(args), cwd=cwd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} exited {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return seconds


def venv_command(name: str) -> str:
    """A console script of the running interpreter's environment (fk-bench, lm_eval)."""
    return str(Path(sys.executable).with_name(name))
