"""Host overhead of the evaluator (issue 20): a model whose compute is small (the embedded Gemma 3 config
cut to 2 layers and hidden size 64, with the real tokenizer and 262,144-word vocabulary), so what is
measured is what a fast GPU would leave: tokenizing, building batches, the unembedding's normalizer,
Python per batch.

- ``test_in_process``: ``score_answer_words`` on the first ``--fk-host-questions`` plain questions,
  today's code against ``fk_bench/scoring.py`` of ``--fk-before`` (imported from git) in the same run,
  interleaved; then one run of each under cProfile (what bounds the rate, before and now).
- ``test_eval_command``: ``fk-bench eval --model DIR --limit N`` as a user runs it, and the scoring rate
  it reports (goal: at least 1,000 q/s).

    pytest benchmarks/bench_host.py --benchmark-only --fk-threads 1
"""

from __future__ import annotations

import cProfile
import os
import pstats
import re
import subprocess
from pathlib import Path

import pytest
from measure import build_host_model, prompts_for, scoring_at, spread, timed, venv_command

from fk_bench.answer_groups import DEFAULT_GROUPS

GOAL = 1000  # q/s


@pytest.fixture(scope="session")
def host_model_dir(tmp_path_factory):
    return build_host_model(tmp_path_factory.mktemp("host-model"))


def _profile_lines(function, top: int = 12) -> list[str]:
    """What bounds ``function``: its cProfile, the functions with the most time of their own."""
    profile = cProfile.Profile()
    profile.runcall(function)
    stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    total = sum(entry[2] for entry in stats.values())
    rows = sorted(stats.items(), key=lambda item: -item[1][2])[:top]
    lines = [f"cProfile of one run: {total:.2f} s of own time; the functions with the most:"]
    for (path, line, name), (_, calls, own, _, _) in rows:
        where = name if path == "~" else f"{Path(path).name}:{line}({name})"
        lines.append(f"    {own:6.2f} s  {calls:>7} calls  {where}")
    return lines


def test_in_process(host_model_dir, figure, benchmark, pytestconfig):
    from fk_bench.data import load_questions
    from fk_bench.models import load_model
    from fk_bench.scoring import score_answer_words

    n = pytestconfig.getoption("--fk-host-questions")
    before = scoring_at(pytestconfig.getoption("--fk-before"))
    loaded = load_model(str(host_model_dir), device="cpu", dtype="float32")
    prompts = prompts_for(loaded, load_questions(config="all", limit=n)["question"], "plain")
    words = DEFAULT_GROUPS.words

    def today():
        return score_answer_words(loaded, prompts, words, 128, False).scores

    def old():
        return before.score_answer_words(loaded, prompts, words, 128, False)[0]

    def run():
        today(), old()  # warm-up
        times: dict[str, list[float]] = {"today": [], "before": []}
        scores = {}
        for _ in range(pytestconfig.getoption("--fk-repeats")):
            for name, function in (("today", today), ("before", old)):
                seconds, scores[name] = timed(function)
                times[name].append(seconds)
        return times, scores

    times, scores = benchmark.pedantic(run, rounds=1, iterations=1)
    difference = abs(scores["today"] - scores["before"]).max()
    figure += [
        f"host model (Gemma 3 config, 2 layers, d_model 64, vocabulary 262,144), float32, {len(prompts)} plain questions, batch 128",
        f"today {spread([len(prompts) / s for s in times['today']], 0)} q/s; before ({pytestconfig.getoption('--fk-before')}) "
        f"{spread([len(prompts) / s for s in times['before']], 0)} q/s; speed-up {spread([b / t for b, t in zip(times['before'], times['today'])])}x",
        f"max |score difference| today vs before {difference:.1e}",
        *("today's " + line if i == 0 else line for i, line in enumerate(_profile_lines(today))),
        *("before's " + line if i == 0 else line for i, line in enumerate(_profile_lines(old))),
    ]
    assert difference < 1e-4


def test_eval_command(host_model_dir, figure, benchmark, pytestconfig, tmp_path):
    n = pytestconfig.getoption("--fk-host-questions")
    env = dict(os.environ)
    if pytestconfig.getoption("--fk-threads"):
        env["OMP_NUM_THREADS"] = str(pytestconfig.getoption("--fk-threads"))
    command = [venv_command("fk-bench"), "eval", "--model", str(host_model_dir), "--limit", str(n), "--device", "cpu"]

    def run():
        rates = []
        for r in range(pytestconfig.getoption("--fk-repeats")):
            done = subprocess.run([*command, "--out", str(tmp_path / f"out{r}")], env=env, capture_output=True, text=True, check=True)
            rates.append(float(re.search(r"\(([\d.]+) q/s\)", done.stdout).group(1)))  # type: ignore[union-attr]
        return rates

    rates = benchmark.pedantic(run, rounds=1, iterations=1)
    figure += [
        f"fk-bench eval --model HOST_MODEL_DIR --limit {n} --device cpu --out OUT"
        + (f" (OMP_NUM_THREADS={env['OMP_NUM_THREADS']})" if "OMP_NUM_THREADS" in env else ""),
        f"scoring rate it reports: {spread(rates, 0)} q/s (goal >= {GOAL})",
    ]
