"""bfloat16 against float32: throughput and how far the numbers move, per zoo model and prompt format
(the evidence behind :func:`fk_bench.models.default_dtype`).

    pytest benchmarks/bench_dtype.py --benchmark-only -k cpu
    pytest benchmarks/bench_dtype.py --benchmark-only -k gpu --fk-model-root DIR   # on a CUDA machine

On the CPU: the real zoo weights, both dtypes. Per question: |delta log_odds|; whether the accuracy
verdict (p_true > 0.5 matches the label) and, per pair, the pairwise verdict (the true question gets
the higher p_true) are the same in both dtypes; and the summary metrics. On a GPU: throughput only, from
random weights in each zoo model's own config and tokenizer (speed does not depend on the weights);
``--fk-model-root DIR`` reads ``DIR/<name>/`` (config.json and tokenizer files), else the zoo cache.
"""

from __future__ import annotations

import functools
import types
from pathlib import Path

import numpy as np
import pytest
import torch
from measure import CHAT_MODELS, floor_questions, prompts_for, spread, timed

from fk_bench.answer_groups import DEFAULT_GROUPS
from fk_bench.metrics import paired_accuracy, question_metrics
from fk_bench.pair_index import PairIndex
from fk_bench.scoring import score_answer_words

BATCH_SIZE = 128


def _pair_verdicts(p_true: np.ndarray, labels: np.ndarray, pair_ids) -> np.ndarray:
    pairs: dict = {}
    for p, label, pair in zip(p_true, labels, pair_ids):
        pairs.setdefault(pair, {})[bool(label)] = p
    return np.array([d[True] > d[False] for d in pairs.values() if len(d) == 2])


def _scores(loaded, prompts, batch_size):
    scores = score_answer_words(loaded, prompts, DEFAULT_GROUPS.words, batch_size, False).scores
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return scores


def test_cpu_bfloat16_vs_float32(zoo_name, models, figure, benchmark, pytestconfig):
    from fk_bench.data import load_questions

    questions = load_questions(config="capital_of", limit=pytestconfig.getoption("--fk-questions"))
    labels, pair_ids = np.asarray(questions["answer"], dtype=bool), list(questions["pair_id"])
    formats = ["plain"] + (["chat"] if zoo_name in CHAT_MODELS else [])
    repeats = pytestconfig.getoption("--fk-repeats")
    n = len(questions)

    def run():
        out = {}
        for dtype in ("float32", "bfloat16"):
            loaded = models.get(zoo_name, dtype)
            for f in formats:
                prompts = prompts_for(loaded, questions["question"], f)
                runs = [timed(functools.partial(_scores, loaded, prompts, BATCH_SIZE)) for _ in range(repeats)]
                out[dtype, f] = ([s for s, _ in runs], runs[0][1])
        return out

    out = benchmark.pedantic(run, rounds=1, iterations=1)
    figure.append(f"{zoo_name}, capital_of, {n} questions, batch {BATCH_SIZE}")
    pairs = PairIndex.from_ids(pair_ids, labels)
    for f in formats:
        (t32, s32), (t16, s16) = out["float32", f], out["bfloat16", f]
        m32 = question_metrics(s32, np.asarray(DEFAULT_GROUPS.is_true_word), labels)
        m16 = question_metrics(s16, np.asarray(DEFAULT_GROUPS.is_true_word), labels)
        delta = np.abs(m16["log_odds"] - m32["log_odds"])
        verdict32, verdict16 = (m32["p_true"] > 0.5) == labels, (m16["p_true"] > 0.5) == labels
        pairs32, pairs16 = (_pair_verdicts(m["p_true"], labels, pair_ids) for m in (m32, m16))
        figure += [
            f"{f}: float32 {spread([n / s for s in t32], 1)} q/s, bfloat16 {spread([n / s for s in t16], 1)} q/s "
            f"({spread([a / b for a, b in zip(t32, t16)])}x)",
            f"    |delta log_odds| max {delta.max():.3f}, median {np.median(delta):.3f}; accuracy verdict agrees on "
            f"{np.mean(verdict32 == verdict16):.1%} of {n} questions, pairwise verdict on {np.mean(pairs32 == pairs16):.1%} of {len(pairs32)} pairs",
            f"    accuracy {verdict32.mean():.3f} -> {verdict16.mean():.3f}; paired_accuracy "
            f"{paired_accuracy(m32['true_log_odds'], pairs):.3f} -> {paired_accuracy(m16['true_log_odds'], pairs):.3f}",
        ]


def _random_weight_model(root: str | None, name: str, dtype: torch.dtype):
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    if root:
        path = Path(root) / name
    else:
        from fk_bench.models import resolve_model_dir

        path = resolve_model_dir(name)
    config = AutoConfig.from_pretrained(path)
    torch.manual_seed(0)
    with torch.device("cuda"):  # initialised on the GPU: seconds, not minutes, for 1.5B parameters
        model = AutoModelForCausalLM.from_config(config, dtype=dtype).eval()
    return types.SimpleNamespace(name=name, model=model, tokenizer=AutoTokenizer.from_pretrained(path), device="cuda")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("batch_size", [128, 512])
def test_gpu_bfloat16_vs_float32(zoo_name, batch_size, figure, benchmark, pytestconfig):
    questions = floor_questions(pytestconfig.getoption("--fk-floor-questions"))["question"]
    root = pytestconfig.getoption("--fk-model-root")
    formats = ["plain"] + (["chat"] if zoo_name in CHAT_MODELS else [])
    repeats = pytestconfig.getoption("--fk-repeats")
    n = len(questions)

    def run():
        out = {}
        for dtype in (torch.float32, torch.bfloat16):
            loaded = _random_weight_model(root, zoo_name, dtype)
            for f in formats:
                prompts = prompts_for(loaded, questions, f)
                score_answer_words(loaded, prompts[:batch_size], DEFAULT_GROUPS.words, batch_size, False)  # warm-up

                out[dtype, f] = [timed(functools.partial(_scores, loaded, prompts, batch_size))[0] for _ in range(repeats)]
            del loaded
            torch.cuda.empty_cache()
        return out

    out = benchmark.pedantic(run, rounds=1, iterations=1)
    figure.append(f"{zoo_name} on {torch.cuda.get_device_name()}, random weights, {n} questions, batch {batch_size}")
    for f in formats:
        t32, t16 = out[torch.float32, f], out[torch.bfloat16, f]
        figure.append(
            f"{f}: float32 {spread([n / s for s in t32], 0)} q/s, bfloat16 {spread([n / s for s in t16], 0)} q/s "
            f"({spread([a / b for a, b in zip(t32, t16)])}x)"
        )
