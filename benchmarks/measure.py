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

from fk_bench.answers import DEFAULT_GROUPS
from fk_bench.data import fewshot_pool, load_questions
from fk_bench.prompts import build_prompt
from fk_bench.scoring import _plans, _row, shared_prefix

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

    return datasets.concatenate_datasets([load_questions(config=r, limit=per_relation) for r in RELATIONS])


def floor_questions(n: int) -> Any:
    """``n`` packaged test questions of all relations, shuffled with seed 0 (the floor benchmark's set)."""
    return load_questions(config="all").shuffle(seed=0).select(range(n))


def prompts_for(loaded: Any, questions: Sequence[str], prompt_format: str, k: int = 4) -> list[str]:
    examples = fewshot_pool(k) if prompt_format == "fewshot" else []
    return [build_prompt(q, prompt_format, loaded.tokenizer, examples) for q in questions]


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
    plans = _plans(loaded.tokenizer, prompts, words)
    prefix, starts_with = shared_prefix([p.base for p in plans])
    tokens = scored = pairs = 0
    for i, plan in enumerate(plans):
        row = _row(i, plan, len(prefix) if starts_with[i] else 0)
        tokens += len(row.tokens)
        scored += len(row.tokens) - row.segment.count(-1) + 1
        seen: dict[int, int] = {}  # tokens of each split word so far
        for position, segment in zip(row.positions, row.segment):
            if segment == -1:
                pairs += position + 1
            else:
                seen[segment] = seen.get(segment, 0) + 1
                pairs += len(plan.base) + seen[segment]
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
