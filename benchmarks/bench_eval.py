"""Native evaluator throughput: its share of the FLOP floor per zoo model and dtype, the prompt formats
against the plain prompt (with and without the shared-prefix cache), and the cached model's reload.

    pytest benchmarks/bench_eval.py --benchmark-only                 # everything, about 40 minutes
    pytest benchmarks/bench_eval.py --benchmark-only -k floor        # one figure
    pytest benchmarks/bench_eval.py --benchmark-only --fk-models embedded --fk-repeats 1   # quick look
"""

from __future__ import annotations

import functools
import subprocess
import sys

import numpy as np
import pytest
from measure import CHAT_MODELS, floor_questions, forward_flops, mlp_rate, prompts_for, scoring_at, spread, timed

from fk_bench.answer_groups import DEFAULT_GROUPS
from fk_bench.scoring import score_answer_words

BATCH_SIZE = 128
UNCACHED = 64


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_floor(zoo_name, dtype, models, figure, benchmark, pytestconfig):
    """Plain prompt, ``--fk-floor-questions`` shuffled questions: measured time against the FLOP floor;
    with ``--fk-floor-before``, ``fk_bench/scoring.py`` of ``--fk-before`` timed too, interleaved."""
    loaded = models.get(zoo_name, dtype)
    questions = floor_questions(pytestconfig.getoption("--fk-floor-questions"))
    prompts = prompts_for(loaded, questions["question"], "plain")
    flops = forward_flops(loaded, prompts)
    n = len(prompts)
    sides = {"today": score_answer_words}
    if pytestconfig.getoption("--fk-floor-before"):
        sides["before"] = scoring_at(pytestconfig.getoption("--fk-before")).score_answer_words

    def run():
        for score in sides.values():  # warm-up: first-call costs (kernels for each shape) are no side's
            score(loaded, prompts[:BATCH_SIZE], DEFAULT_GROUPS.words, BATCH_SIZE, False)
        times: dict[str, list[float]] = {side: [] for side in sides}
        for _ in range(pytestconfig.getoption("--fk-repeats")):
            for side, score in sides.items():
                times[side].append(timed(functools.partial(score, loaded, prompts, DEFAULT_GROUPS.words, BATCH_SIZE, False))[0])
        return times

    times = benchmark.pedantic(run, rounds=1, iterations=1)
    rate = mlp_rate(loaded, BATCH_SIZE * flops.tokens // n)
    floor = flops.total / (rate * 1e9)
    figure += [
        f"{zoo_name} {dtype}, plain, {n} questions, batch {BATCH_SIZE}: {flops.tokens} tokens read "
        f"({flops.tokens / n:.1f} a question), {flops.scored} positions unembedded, {flops.total / 1e9:.0f} GFLOP",
        f"matmul rate on the MLP shape {rate:.0f} GFLOP/s -> floor {floor:.2f} s ({n / floor:.1f} q/s)",
    ]
    for side, seconds in times.items():
        figure.append(
            f"{side}: measured {spread(seconds)} s = {spread([n / s for s in seconds], 1)} q/s = {spread([floor / s for s in seconds])} of the floor"
        )
    if "before" in times:
        figure.append(f"speed-up today / before {spread([b / t for b, t in zip(times['before'], times['today'])])}x")


def test_prompt_formats(zoo_name, models, figure, benchmark, pytestconfig):
    """float32, ``--fk-questions`` capital_of questions: fewshot (k=4) and chat against plain, with the
    shared-prefix cache (timed ``--fk-repeats`` times, interleaved), and without it once on the first
    ``UNCACHED`` questions (its speed, and the equality of the numbers)."""
    from fk_bench.data import load_questions

    loaded = models.get(zoo_name, "float32")
    questions = load_questions(config="capital_of", limit=pytestconfig.getoption("--fk-questions"))["question"]
    formats = ["plain", "fewshot"] + (["chat"] if zoo_name in CHAT_MODELS else [])
    prompts = {f: prompts_for(loaded, questions, f) for f in formats}
    n = len(questions)

    def score(f: str, share: bool = True):
        chosen = prompts[f] if share else prompts[f][:UNCACHED]
        return score_answer_words(loaded, chosen, DEFAULT_GROUPS.words, BATCH_SIZE, False, share_prefix=share).scores

    def run():
        times: dict[str, list[float]] = {f: [] for f in formats}
        scores = {}
        for _ in range(pytestconfig.getoption("--fk-repeats")):
            for f in formats:
                seconds, scores[f] = timed(functools.partial(score, f))
                times[f].append(seconds)
        # Without the cache (slow) on the first UNCACHED questions: its speed, and the same numbers.
        uncached = {f: timed(functools.partial(score, f, share=False)) for f in formats if f != "plain"}
        return times, scores, uncached

    times, scores, uncached = benchmark.pedantic(run, rounds=1, iterations=1)
    flops = {f: forward_flops(loaded, prompts[f]) for f in formats}
    plain = times["plain"]
    figure.append(f"{zoo_name} float32, capital_of, {n} questions, batch {BATCH_SIZE}")
    figure.append(f"plain: {spread([n / s for s in plain], 1)} q/s")
    for f in formats[1:]:
        seconds, reference = uncached[f]
        m = len(reference)
        ratios = [p / s for p, s in zip(plain, times[f])]
        difference = np.abs(scores[f][:m] - reference).max()
        figure.append(
            f"{f}: {flops[f].tokens / n:.1f} tokens read a question (plain {flops['plain'].tokens / n:.1f}), FLOP ratio plain/{f} "
            f"{flops['plain'].total / flops[f].total:.2f}; {spread([n / s for s in times[f]], 1)} q/s = {spread(ratios)} of plain (goal >= 0.70); "
            f"without the prefix cache (first {m} questions) {m / seconds:.1f} q/s; "
            f"max |score difference| cache vs none {difference:.1e}"
        )
        assert difference < 1e-4


def test_reload(zoo_name, models, figure, benchmark, pytestconfig):
    """In a fresh process, cache built: seconds importing transformers' model code, then ``load_model``."""
    import torch

    models.release()  # the 1.5B model must not be held twice
    code = (
        f"import time, torch, transformers, fk_bench.models as m; torch.set_num_threads({torch.get_num_threads()})\n"
        "from transformers import AutoConfig\n"
        f"path = m.resolve_model_dir({zoo_name!r}); arch = AutoConfig.from_pretrained(path).architectures[0]\n"
        "s = time.perf_counter(); getattr(transformers, arch); i = time.perf_counter() - s\n"
        f"s = time.perf_counter(); m.load_model({zoo_name!r}, device='cpu', dtype='float32'); print(i, time.perf_counter() - s)"
    )

    def run():
        out = [
            subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
            for _ in range(pytestconfig.getoption("--fk-repeats"))
        ]
        return [tuple(map(float, o.strip().splitlines()[-1].split())) for o in out]

    runs = benchmark.pedantic(run, rounds=1, iterations=1)
    figure.append(
        f"{zoo_name} float32 reload in a fresh process: load_model {spread([r[1] for r in runs])} s "
        f"(after {spread([r[0] for r in runs])} s importing transformers' model class)"
    )
