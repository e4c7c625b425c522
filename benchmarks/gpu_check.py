"""Checks that need a CUDA GPU, in one run: the numbers on the GPU are the CPU's, and how fast they come.

    python benchmarks/gpu_check.py --out gpu-check        # on any machine with CUDA (and fk-bench installed)

1. ``scoring``: :func:`fk_bench.scoring.score_answer_words` on the GPU against the CPU, float32, tiny
   random Gemma 3 / Llama / Qwen2 models (tests/support), plain, few-shot (the shared-prefix KV-cache
   path, prefix longer than Gemma's sliding window), chat, and chat with a long system prompt: max
   |delta score| GPU vs CPU, and GPU with the prefix cache vs GPU without it (pass: < 1e-4).
2. ``evaluate``: :func:`fk_bench.evaluation.evaluate` runs end to end on the GPU, which is the default
   device when CUDA is present (results.json records it, strict JSON), numbers equal to the CPU's;
   ``resolve_device``/``resolve_dtype`` on CUDA (float16 allowed there, refused on the CPU), and a float16
   run gives finite scores.
3. ``interp``: exact patching (:func:`interp.patching.activation_patching.act_patch`, every site) on the GPU against
   ``transformer_lens.patching`` on the GPU and against itself on the CPU, and the DLA closures on the
   GPU (per-layer components sum to the final projection, which plus the bias share is logit_diff; heads
   plus bias = attention output; GPU = CPU), tiny random models (tests/support/interp.py).
4. ``throughput``: random weights in the embedded Gemma 3 270M's config (the zoo's
   ``random-gemma-3-270m``: its initializer, seed 0), the first N questions of the packaged test split,
   plain and few-shot prompts, float32 against bfloat16 on the GPU: questions/s, and max/median
   |delta log_odds| between the dtypes (random weights: speed is the weights-independent figure; the
   deltas only bound the rounding; real-weight deltas: benchmarks/bench_dtype.py).

5. ``speed`` (issue 20): the same random-weight 270M, all 5,228 packaged questions, plain, float32 and
   bfloat16, :func:`fk_bench.scoring.score_answer_words` at ``--speed-batch-sizes`` (``auto`` included:
   the size it resolves to is recorded): questions/s (goal: 10,000 on an H200), peak memory, and a
   cProfile of one bfloat16 run (what bounds the rate: Python per batch, or the wait for the device).

Every check reports pass / fail / skip on its own (an import that fails skips the checks needing it,
with the error); nothing stops at the first failure. Writes ``gpu_check.json`` and ``gpu_check.txt``
(the printed table) under ``--out``. Without CUDA, ``--device cpu`` runs the same code CPU against CPU
(a dry run of the script, not a check).
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import importlib
import json
import os
import platform
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]  # fk_bench and interp from this checkout; tests/support

import numpy as np  # noqa: E402
import torch  # noqa: E402

TOLERANCE = 1e-4
EXTRA_WORDS = ("Affirmative", "Nah", " Negative")  # words the tiny tokenizer splits: the tree rows run
TINY_QUESTIONS = [
    "Is Paris the capital of France?",
    "Is Rome in Italy?",
    "Does Paris have a desert climate?",
    "Is the Louvre Museum in Rome?",
    "Is Madrid the capital of Spain?",
    "Is Berlin the capital of Germany?",
    "Is Tokyo a city in Japan?",
    "Is the Eiffel Tower located in Paris?",
]
LONG_SYSTEM_CHAT_TEMPLATE = (
    "{{ bos_token }}<|system|>\n"
    + "You answer questions about capitals, cities and countries. Answer Yes or No. " * 4
    + "\n{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)
"""A chat template whose system prompt alone is longer than the tiny Gemma 3's 64-token sliding window."""


@dataclasses.dataclass
class Check:
    name: str
    status: str = "skip"  # pass / fail / skip
    figures: dict = dataclasses.field(default_factory=dict)
    detail: str = ""
    seconds: float = 0.0


class Report:
    """The checks so far, written to ``out`` after each one (a run cut short still leaves its figures)."""

    def __init__(self, out: Path, device: str) -> None:
        self.out, self.device = out, device
        self.checks: list[Check] = []
        self.environment: dict = {}
        out.mkdir(parents=True, exist_ok=True)

    def run(self, name: str, function: Callable[[Check], None], needs: tuple[str, ...] = ()) -> Check:
        check = Check(name)
        missing = [f"{module}: {self.environment['imports'][module]}" for module in needs if not self.environment["imports"][module].startswith("ok")]
        start = time.perf_counter()
        if missing:
            check.detail = "import failed: " + "; ".join(missing)
        else:
            print(f"--- {name}", flush=True)
            try:
                function(check)
            except Exception as err:  # report and go on: every check stands alone
                check.status = "fail"
                check.detail = f"{type(err).__name__}: {err}".strip()[:2000]
                check.figures["traceback"] = traceback.format_exc()[-3000:]
        check.seconds = round(time.perf_counter() - start, 2)
        self.checks.append(check)
        print(f"    {check.status} ({check.seconds} s) {check.detail[:300]}", flush=True)
        self.write()
        if self.device.startswith("cuda"):
            torch.cuda.empty_cache()
        return check

    def table(self) -> str:
        lines = [f"GPU check on {self.environment.get('device_name', self.device)}", ""]
        lines += ["| check | status | seconds | detail |", "|---|---|---:|---|"]
        lines += [f"| {c.name} | {c.status} | {c.seconds} | {c.detail[:160]} |" for c in self.checks]
        for c in self.checks:
            for key in ("rows", "figures_table"):
                if key in c.figures:
                    lines += ["", f"{c.name}:", *c.figures[key]]
        return "\n".join(lines) + "\n"

    def write(self) -> None:
        data = {"environment": self.environment, "checks": [dataclasses.asdict(c) for c in self.checks]}
        (self.out / "gpu_check.json").write_text(json.dumps(data, indent=1, default=str), encoding="utf-8")
        (self.out / "gpu_check.txt").write_text(self.table(), encoding="utf-8")


def _first_line(err: BaseException) -> str:
    return f"{type(err).__name__}: {(str(err).strip().splitlines() or [''])[0]}"[:400]


def environment(device: str) -> dict:
    env: dict[str, Any] = {"python": platform.python_version(), "torch": torch.__version__, "device": device, "imports": {}}
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        env.update(device_name=props.name, gpu_memory_gib=round(props.total_memory / 2**30, 1), cuda=torch.version.cuda)
    for module in (
        "transformers",
        "datasets",
        "sklearn",
        "einops",
        "jinja2",
        "transformer_lens",
        "transformer_lens.patching",
        "fk_bench.evaluation",
        "fk_bench.data",
        "interp.patching.activation_patching",
        "interp.attribution.dla",
    ):
        try:
            imported = importlib.import_module(module)
            env["imports"][module] = f"ok {getattr(imported, '__version__', '')}".strip()
        except Exception as err:  # an ImportError, or anything a module raises while importing
            env["imports"][module] = _first_line(err)
    return env


# ---- helpers ----------------------------------------------------------------------------------------


def _max_abs(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64))))


def _with_template(loaded: Any, template: str) -> Any:
    import copy

    tokenizer = copy.deepcopy(loaded.tokenizer)
    tokenizer.chat_template = template
    return dataclasses.replace(loaded, tokenizer=tokenizer)


def _tiny_model(family: str, path: Path) -> Any:
    """A tiny random model of ``family`` saved at ``path``, loaded on the CPU (float32)."""
    from support import build_tiny_model
    from support.tiny_families import build_tiny_family

    return build_tiny_model(path) if family == "gemma3" else build_tiny_family(path, family)


# ---- 1. scoring -------------------------------------------------------------------------------------


def check_scoring(check: Check, device: str, scratch: Path) -> None:
    from support.tiny_families import CHAT_TEMPLATE

    from fk_bench.answers import DEFAULT_GROUPS
    from fk_bench.data import fewshot_pool
    from fk_bench.models import load_model
    from fk_bench.prompts import build_prompt, encode, split_context
    from fk_bench.scoring import score_answer_words, shared_prefix

    words = (*DEFAULT_GROUPS.words, *EXTRA_WORDS)
    formats = {
        "plain": ("plain", 0, CHAT_TEMPLATE),
        "fewshot-k4": ("fewshot", 4, CHAT_TEMPLATE),
        "chat": ("chat", 0, CHAT_TEMPLATE),
        "chat-long-system": ("chat", 0, LONG_SYSTEM_CHAT_TEMPLATE),
    }
    rows, worst = (
        [
            "| model | prompt | prompt tokens | shared prefix | max abs d score GPU vs CPU | GPU prefix cache vs none |",
            "|---|---|---:|---:|---:|---:|",
        ],
        0.0,
    )
    for family in ("gemma3", "llama", "qwen2"):
        path = scratch / f"scoring-{family}"
        cpu = _tiny_model(family, path)
        gpu = load_model(str(path), device=device, dtype="float32")
        assert str(next(gpu.model.parameters()).device).startswith(device.split(":")[0]), "model not on the device"
        for label, (fmt, k, template) in formats.items():
            cpu_t, gpu_t = _with_template(cpu, template), _with_template(gpu, template)
            examples = fewshot_pool(k) if fmt == "fewshot" else []
            prompts = [build_prompt(q, fmt, cpu_t.tokenizer, examples) for q in TINY_QUESTIONS]
            bases = [encode(cpu_t.tokenizer, split_context(p)[0]) for p in prompts]
            prefix, _ = shared_prefix(bases)
            on_cpu, _ = score_answer_words(cpu_t, prompts, words, batch_size=4, progress=False)
            on_gpu, n_tokens = score_answer_words(gpu_t, prompts, words, batch_size=4, progress=False)
            no_cache, _ = score_answer_words(gpu_t, prompts, words, batch_size=4, progress=False, share_prefix=False)
            d_device, d_cache = _max_abs(on_gpu, on_cpu), _max_abs(on_gpu, no_cache)
            worst = max(worst, d_device, d_cache)
            assert np.isfinite(on_gpu).all() and n_tokens.max() > 1
            check.figures[f"{family}/{label}"] = {
                "gpu_vs_cpu": d_device,
                "prefix_cache_vs_none": d_cache,
                "prompt_tokens": max(map(len, bases)),
                "shared_prefix": len(prefix),
            }
            rows.append(f"| {family} | {label} | {max(map(len, bases))} | {len(prefix)} | {d_device:.2e} | {d_cache:.2e} |")
        del cpu, gpu
    check.figures["rows"] = rows
    check.figures["max_abs_delta"] = worst
    check.status = "pass" if worst < TOLERANCE else "fail"
    check.detail = f"max abs delta {worst:.2e} over 3 models x 4 prompt formats (tolerance {TOLERANCE:g})"


# ---- 2. evaluate and device/dtype resolution ----------------------------------------------------------


def check_evaluate(check: Check, device: str, scratch: Path) -> None:
    from fk_bench.answers import DEFAULT_GROUPS
    from fk_bench.data import load_questions
    from fk_bench.errors import FkBenchError
    from fk_bench.evaluation import evaluate, write_results
    from fk_bench.models import default_device, default_dtype, load_model, resolve_device, resolve_dtype

    problems: list[str] = []
    f = check.figures
    f["default_device"] = default_device()
    f["resolve_device(None)"] = resolve_device(None)
    f["default_dtype(cuda)"] = str(default_dtype("cuda")).removeprefix("torch.")
    f["default_dtype(cpu)"] = str(default_dtype("cpu")).removeprefix("torch.")
    if device.startswith("cuda"):
        if resolve_device(None) != "cuda":
            problems.append(f"resolve_device(None) = {resolve_device(None)!r} with CUDA present")
        for name in ("cuda", "cuda:0"):
            if resolve_device(name) != name:
                problems.append(f"resolve_device({name!r}) = {resolve_device(name)!r}")
        try:
            resolve_device(f"cuda:{torch.cuda.device_count()}")
            problems.append("a CUDA index past the last device was accepted")
        except FkBenchError as err:
            f["past_last_device_error"] = str(err)
        if resolve_dtype("float16", "cuda") != torch.float16:
            problems.append("float16 not allowed on cuda")
    try:
        resolve_dtype("float16", "cpu")
        problems.append("float16 accepted on the CPU")
    except FkBenchError:
        pass

    path = scratch / "evaluate-gemma3"
    cpu = _tiny_model("gemma3", path)
    questions = load_questions(limit=48)
    reference = evaluate(cpu, questions, DEFAULT_GROUPS, progress=False)
    default = load_model(str(path))  # no device given: CUDA when present
    f["load_model default device"] = default.device
    f["load_model default dtype"] = str(default.dtype).removeprefix("torch.")
    if device.startswith("cuda") and (default.device != "cuda" or next(default.model.parameters()).device.type != "cuda"):
        problems.append(f"load_model without a device loaded on {default.device!r}")
    result = evaluate(default, questions, DEFAULT_GROUPS, progress=False)
    written = write_results(result, scratch / "results")
    recorded = json.loads(written.read_text(), parse_constant=lambda c: (_ for _ in ()).throw(ValueError(f"non-strict JSON: {c}")))
    f["results.json spec.device"] = recorded["spec"]["device"]
    f["results.json spec.dtype"] = recorded["spec"]["dtype"]
    if device.startswith("cuda") and recorded["spec"]["device"] != "cuda":
        problems.append(f"results.json records device {recorded['spec']['device']!r}")
    if result.spec.dtype == "float32":
        delta = _max_abs(result.frame["log_odds"].to_numpy(), reference.frame["log_odds"].to_numpy())
        f["max_abs_delta_log_odds_vs_cpu"] = delta
        if delta >= TOLERANCE:
            problems.append(f"log_odds differ from the CPU's by {delta:.2e}")
    if device.startswith("cuda"):
        half = evaluate(load_model(str(path), device=device, dtype="float16"), questions, DEFAULT_GROUPS, progress=False)
        f["float16 max_abs_delta_log_odds_vs_cpu_float32"] = _max_abs(half.frame["log_odds"].to_numpy(), reference.frame["log_odds"].to_numpy())
        f["float16 spec.dtype"] = half.spec.dtype
    check.status = "fail" if problems else "pass"
    check.detail = "; ".join(problems) or (
        f"device {recorded['spec']['device']}, dtype {recorded['spec']['dtype']}, "
        f"log_odds vs CPU {f.get('max_abs_delta_log_odds_vs_cpu', float('nan')):.2e}"
    )


# ---- 3. interp ----------------------------------------------------------------------------------------


def _interp_side(family: str, path: Path, device: str | None) -> dict:
    """Every patching grid (act_patch, and transformer_lens.patching when ``device``) and the DLA of one
    pair on one device."""
    import transformer_lens.patching as tl_patching
    from support.interp import CLEAN, CORRUPTED, build_family_model, tiny_answers

    from fk_bench.models import load_model
    from interp.attribution import dla
    from interp.core import runner
    from interp.core.model import SITES, InterpModel
    from interp.patching import activation_patching as patching

    loaded = build_family_model(family, path) if device is None else load_model(str(path), device=device, dtype="float32")
    model, answers = InterpModel.boot(loaded), tiny_answers(loaded)
    ids = answers.id_tensor(model.device)
    clean, corrupted = model.tensor(model.tokens(CLEAN)), model.tensor(model.tokens(CORRUPTED))
    with torch.no_grad():
        clean_logits, clean_cache = model.bridge.run_with_cache(clean[None])
        clean_value = float(answers.log_odds(clean_logits[0, -1, ids]))
        corrupted_value = float(answers.log_odds(model.bridge(corrupted[None])[0, -1, ids]))

    def metric(logits: torch.Tensor) -> torch.Tensor:
        return (answers.log_odds(logits[:, -1, ids]) - corrupted_value) / (clean_value - corrupted_value)

    tl_functions = {
        "resid_pre": tl_patching.get_act_patch_resid_pre,
        "attn_out": tl_patching.get_act_patch_attn_out,
        "mlp_out": tl_patching.get_act_patch_mlp_out,
        "head_out": tl_patching.get_act_patch_attn_head_out_all_pos,
    }
    out: dict[str, Any] = {"ours": {}, "tl": {}, "clean_minus_corrupted": clean_value - corrupted_value}
    for site in SITES:
        out["ours"][site] = patching.act_patch(model, corrupted, clean_cache, metric, site).double().cpu().numpy()
        if device is not None:  # transformer_lens on the GPU (the CPU reference is the test suite's)
            out["tl"][site] = tl_functions[site](model.bridge, corrupted[None], clean_cache, lambda logits: metric(logits)[0]).double().cpu().numpy()
    out["method"] = "layer sweeps" if model.replay_ok else f"full forwards ({model.replay_note})"
    tokens = model.tensor([model.tokens(p) for p in (CLEAN, "Is Berlin the capital of Germany?\n")])
    _, cache, unembedded = runner.record(model, tokens, dla.dla_hooks(with_patterns=False), ids)
    out["dla"] = dla.question_dla(model, cache, unembedded, dla.Direction.of(model, answers), answers)
    out["n_layers"] = model.n_layers
    return out


def check_interp(check: Check, device: str, scratch: Path, families: list[str]) -> None:
    problems: list[str] = []
    rows = ["| model | site | act_patch GPU vs transformer_lens GPU | act_patch GPU vs CPU | grid max abs |", "|---|---|---:|---:|---:|"]
    for family in families:
        path = scratch / f"interp-{family}"
        cpu = _interp_side(family, path, None)
        gpu = _interp_side(family, path, device)
        check.figures[f"{family}/exact patching method on {device}"] = gpu["method"]
        if abs(gpu["clean_minus_corrupted"]) < 0.05:
            problems.append(f"{family}: the pair hardly moves the answer ({gpu['clean_minus_corrupted']:.3f})")
        for site in gpu["ours"]:
            vs_tl, vs_cpu = _max_abs(gpu["ours"][site], gpu["tl"][site]), _max_abs(gpu["ours"][site], cpu["ours"][site])
            size = float(np.abs(gpu["tl"][site]).max())
            check.figures[f"{family}/{site}"] = {"vs_transformer_lens": vs_tl, "vs_cpu": vs_cpu, "grid_max_abs": size}
            rows.append(f"| {family} | {site} | {vs_tl:.2e} | {vs_cpu:.2e} | {size:.3f} |")
            if not (vs_tl < TOLERANCE and vs_cpu < TOLERANCE):
                problems.append(f"{family}/{site}: {vs_tl:.2e} vs transformer_lens, {vs_cpu:.2e} vs CPU")
        closure, dla_vs_cpu = 0.0, 0.0
        attention = [i for i, label in enumerate(gpu["dla"][0].layer_labels) if label.endswith("_attn_out")]
        for row, cpu_row in zip(gpu["dla"], cpu["dla"]):
            scale = max(1.0, abs(row.logit_diff))
            closure = max(
                closure,
                abs(row.per_layer.sum() - row.final_projection) / scale,
                abs(row.final_projection + row.unembed_bias - row.logit_diff) / scale,
                abs(row.logit_lens[-1] - row.logit_diff) / scale,
                float(np.abs(row.per_head.sum(1) + row.attn_bias - row.per_layer[attention]).max()) / scale,
            )
            dla_vs_cpu = max(
                dla_vs_cpu,
                _max_abs(row.per_layer, cpu_row.per_layer),
                _max_abs(row.per_head, cpu_row.per_head),
                _max_abs(row.logit_lens, cpu_row.logit_lens),
                abs(row.logit_diff - cpu_row.logit_diff),
            )
        check.figures[f"{family}/dla"] = {"closure_max_rel": closure, "vs_cpu": dla_vs_cpu}
        rows.append(f"| {family} | DLA closures (relative) / DLA GPU vs CPU | {closure:.2e} | {dla_vs_cpu:.2e} | |")
        if not (closure < TOLERANCE and dla_vs_cpu < TOLERANCE):
            problems.append(f"{family}/DLA: closure {closure:.2e}, vs CPU {dla_vs_cpu:.2e}")
    check.figures["rows"] = rows
    check.status = "fail" if problems else "pass"
    check.detail = "; ".join(problems) or f"{', '.join(families)}: every grid and DLA within {TOLERANCE:g}"


# ---- 4. throughput --------------------------------------------------------------------------------------


def _random_270m(scratch: Path, config: Path, tokenizer_dir: Path | None) -> Path:
    """The zoo's chance baseline, built as the zoo builds it: the config's initializer under seed 0."""
    from fk_bench.models.gguf import write_random_model

    base = scratch / "gemma-3-270m-base"
    base.mkdir(parents=True, exist_ok=True)
    shutil.copy2(config, base / "config.json")
    if tokenizer_dir is not None:
        for item in tokenizer_dir.iterdir():
            if item.is_file() and item.name.startswith(("tokenizer", "special_tokens")) and item.suffix == ".json":
                shutil.copy2(item, base / item.name)
    else:  # the tiny tokenizer: its ids fit in the 262k vocabulary, its prompts are longer (about 2x)
        from support import build_tiny_tokenizer

        build_tiny_tokenizer().save_pretrained(base)
    target = scratch / "random-gemma-3-270m"
    write_random_model(base, target, 0, "random-gemma-3-270m", torch.float32)
    return target


def check_throughput(
    check: Check, device: str, scratch: Path, n_questions: int, config: Path, tokenizer_dir: Path | None, batch_sizes: list[int], repeats: int
) -> None:
    from fk_bench.answers import DEFAULT_GROUPS
    from fk_bench.data import load_questions
    from fk_bench.evaluation import evaluate
    from fk_bench.models import load_model

    model_dir = _random_270m(scratch, config, tokenizer_dir)
    questions = load_questions(limit=n_questions)
    warmup = questions.select(range(min(64, len(questions))))
    check.figures["tokenizer"] = str(tokenizer_dir) if tokenizer_dir else "tiny test tokenizer"
    check.figures["n_questions"] = len(questions)
    runs: dict[tuple[str, str, int], dict] = {}
    for dtype in ("float32", "bfloat16"):
        loaded = load_model(str(model_dir), device=device, dtype=dtype)
        for fmt in ("plain", "fewshot"):
            for batch_size in batch_sizes:
                evaluate(loaded, warmup, DEFAULT_GROUPS, prompt_format=fmt, batch_size=batch_size, progress=False)
                if device.startswith("cuda"):
                    torch.cuda.reset_peak_memory_stats()
                best = None
                for _ in range(repeats):
                    result = evaluate(loaded, questions, DEFAULT_GROUPS, prompt_format=fmt, batch_size=batch_size, progress=False)
                    best = result if best is None or result.scoring.seconds < best.scoring.seconds else best
                assert best is not None
                runs[(dtype, fmt, batch_size)] = {
                    "qps": len(questions) / best.scoring.seconds,
                    "seconds": best.scoring.seconds,
                    "log_odds": np.asarray(best.frame["log_odds"], dtype=np.float64),
                    "p_true": np.asarray(best.frame["p_true"], dtype=np.float64),
                    "accuracy": json.loads(best.model_dump_json())["summary"]["accuracy"],
                    "peak_gib": torch.cuda.max_memory_allocated() / 2**30 if device.startswith("cuda") else None,
                }
        del loaded
        if device.startswith("cuda"):
            torch.cuda.empty_cache()
    rows = [
        "| prompt | batch | float32 q/s | bfloat16 q/s | bf16 / fp32 | max abs d log_odds | median abs d log_odds "
        "| same p_true > 0.5 verdict | peak GiB fp32 / bf16 |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for fmt in ("plain", "fewshot"):
        for batch_size in batch_sizes:
            a, b = runs[("float32", fmt, batch_size)], runs[("bfloat16", fmt, batch_size)]
            delta = np.abs(a["log_odds"] - b["log_odds"])
            same = float(np.mean((a["p_true"] > 0.5) == (b["p_true"] > 0.5)))
            peak = f"{a['peak_gib']:.2f} / {b['peak_gib']:.2f}" if a["peak_gib"] is not None else "-"
            check.figures[f"{fmt}/batch{batch_size}"] = {
                "float32_qps": a["qps"],
                "bfloat16_qps": b["qps"],
                "speedup": b["qps"] / a["qps"],
                "max_abs_delta_log_odds": float(delta.max()),
                "median_abs_delta_log_odds": float(np.median(delta)),
                "same_verdict_share": same,
                "float32_log_odds_spread": float(a["log_odds"].std()),
                "accuracy_fp32": a["accuracy"],
                "accuracy_bf16": b["accuracy"],
                "peak_gib": [a["peak_gib"], b["peak_gib"]],
            }
            rows.append(
                f"| {fmt} | {batch_size} | {a['qps']:.0f} | {b['qps']:.0f} | {b['qps'] / a['qps']:.2f}x | {delta.max():.4f} | "
                f"{np.median(delta):.4f} | {same:.3f} | {peak} |"
            )
    check.figures["rows"] = rows
    check.status = "pass"
    check.detail = f"{len(questions)} questions, best of {repeats}; see the table"


def _score_synchronized(loaded: Any, prompts: list[str], batch_size: Any) -> None:
    from fk_bench.answers import DEFAULT_GROUPS
    from fk_bench.scoring import score_answer_words

    score_answer_words(loaded, prompts, DEFAULT_GROUPS.words, batch_size, False)
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def _profile(function: Callable[[], Any], top: int = 15) -> list[str]:
    """The functions with the most time of their own in one call of ``function`` (cProfile)."""
    import cProfile
    import pstats

    profile = cProfile.Profile()
    profile.runcall(function)
    stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    rows = sorted(stats.items(), key=lambda item: -item[1][2])[:top]
    return [f"{own:.3f} s {calls} calls {Path(f).name}:{line}({name})" for (f, line, name), (_, calls, own, _, _) in rows]


def check_speed(
    check: Check, device: str, scratch: Path, config: Path, tokenizer_dir: Path | None, batch_sizes: list, repeats: int, limit: int
) -> None:
    from fk_bench.answers import DEFAULT_GROUPS
    from fk_bench.data import load_questions
    from fk_bench.models import load_model
    from fk_bench.prompts import build_prompt
    from fk_bench.scoring import score_answer_words

    model_dir = _random_270m(scratch, config, tokenizer_dir)
    prompts = [build_prompt(q) for q in load_questions(config="all")["question"]][:limit]
    cuda = device.startswith("cuda")

    def synchronize() -> None:
        if cuda:
            torch.cuda.synchronize()

    rows = ["| dtype | batch (resolved) | q/s (best of repeats) | peak GiB |", "|---|---|---:|---:|"]
    for dtype in ("float32", "bfloat16"):
        loaded = load_model(str(model_dir), device=device, dtype=dtype)
        for batch_size in batch_sizes:
            score_answer_words(loaded, prompts[:256], DEFAULT_GROUPS.words, batch_size, False)  # warm-up
            synchronize()
            if cuda:
                torch.cuda.reset_peak_memory_stats()
            best, resolved = float("inf"), None
            for _ in range(repeats):
                start = time.perf_counter()
                scored = score_answer_words(loaded, prompts, DEFAULT_GROUPS.words, batch_size, False)
                synchronize()
                best, resolved = min(best, time.perf_counter() - start), scored.batch_size
            peak = torch.cuda.max_memory_allocated() / 2**30 if cuda else None
            check.figures[f"{dtype}/batch-{batch_size}"] = {"qps": len(prompts) / best, "seconds": best, "batch_size": resolved, "peak_gib": peak}
            rows.append(f"| {dtype} | {batch_size} ({resolved}) | {len(prompts) / best:.0f} | {'-' if peak is None else f'{peak:.2f}'} |")
        if dtype == "bfloat16":
            check.figures["profile_bfloat16"] = _profile(functools.partial(_score_synchronized, loaded, prompts, batch_sizes[-1]))
        del loaded
        if cuda:
            torch.cuda.empty_cache()
    check.figures["rows"] = rows
    check.figures["n_questions"] = len(prompts)
    best_rate = max(v["qps"] for k, v in check.figures.items() if isinstance(v, dict) and "qps" in v)
    check.status = "pass"
    check.detail = f"{len(prompts)} plain questions; best {best_rate:.0f} q/s (goal 10,000 on an H200); see the table and the profile"


# ---- main -------------------------------------------------------------------------------------------


def _default_model_dir() -> Path | None:
    try:
        from fk_bench.models.cache import models_dir

        candidate = models_dir() / "gemma-3-270m-q4_k_m"
    except Exception:
        candidate = Path.home() / ".cache" / "fk-bench" / "models" / "gemma-3-270m-q4_k_m"
    return candidate if (candidate / "config.json").is_file() else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--out", type=Path, default=Path(os.environ.get("OUT", "gpu-check")), help="folder for gpu_check.json/.txt (default $OUT or ./gpu-check)"
    )
    parser.add_argument("--device", default="cuda", help="the device checked against the CPU (default cuda; cpu = a dry run)")
    parser.add_argument("--questions", type=int, default=512, help="questions of the throughput check (default 512)")
    parser.add_argument("--batch-sizes", default="128,512", help="throughput batch sizes (default 128,512)")
    parser.add_argument("--repeats", type=int, default=2, help="timed runs per throughput cell, best kept (default 2)")
    parser.add_argument("--model-config", type=Path, default=None, help="Gemma 3 270M config.json (default: the embedded model's cached one)")
    parser.add_argument(
        "--tokenizer", type=Path, default=None, help="folder with the 270M's tokenizer files (default: beside --model-config, else the tiny one)"
    )
    parser.add_argument("--interp-families", default="gemma3,qwen2", help="tiny families of the interp check (tests/support/interp.py)")
    parser.add_argument("--speed-batch-sizes", default="512,2048,auto", help="batch sizes of the speed check (default 512,2048,auto)")
    parser.add_argument("--speed-questions", type=int, default=5228, help="questions of the speed check (default all 5,228)")
    parser.add_argument("--only", default="scoring,evaluate,interp,throughput,speed", help="checks to run, comma-separated")
    args = parser.parse_args(argv)

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("CUDA is not available here: run on a CUDA machine, or --device cpu for a dry run", file=sys.stderr)
        return 2
    torch.backends.cuda.matmul.allow_tf32 = False  # float32 means float32 (torch's default; kept explicit)
    report = Report(args.out, args.device)
    report.environment = environment(args.device)
    print(json.dumps(report.environment, indent=1), flush=True)
    only = set(args.only.split(","))
    scratch = Path(tempfile.mkdtemp(prefix="fk-bench-gpu-check-"))
    config = args.model_config
    if config is None:
        model_dir = _default_model_dir()
        config = model_dir / "config.json" if model_dir else None
    tokenizer_dir = args.tokenizer or (config.parent if config is not None and (config.parent / "tokenizer.json").is_file() else None)
    core = ("transformers", "fk_bench.data", "fk_bench.evaluation")
    try:
        if "scoring" in only:
            report.run("scoring", lambda c: check_scoring(c, args.device, scratch), core)
        if "evaluate" in only:
            report.run("evaluate", lambda c: check_evaluate(c, args.device, scratch), core)
        if "interp" in only:
            report.run(
                "interp",
                lambda c: check_interp(c, args.device, scratch, args.interp_families.split(",")),
                (*core, "transformer_lens", "transformer_lens.patching", "interp.patching.activation_patching", "interp.attribution.dla"),
            )
        if "throughput" in only:
            if config is None:
                report.checks.append(Check("throughput", detail="no Gemma 3 270M config.json: pass --model-config"))
            else:
                report.run(
                    "throughput",
                    lambda c: check_throughput(
                        c, args.device, scratch, args.questions, config, tokenizer_dir, [int(b) for b in args.batch_sizes.split(",")], args.repeats
                    ),
                    core,
                )
        if "speed" in only:
            if config is None:
                report.checks.append(Check("speed", detail="no Gemma 3 270M config.json: pass --model-config"))
            else:
                sizes = [b if b == "auto" else int(b) for b in args.speed_batch_sizes.split(",")]
                report.run(
                    "speed",
                    lambda c: check_speed(c, args.device, scratch, config, tokenizer_dir, sizes, args.repeats, args.speed_questions),
                    core,
                )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        report.write()
    print(report.table(), flush=True)
    return 0 if all(c.status == "pass" for c in report.checks) else 1


if __name__ == "__main__":
    sys.exit(main())
