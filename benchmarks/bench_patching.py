"""Interp speed: the resid_pre patching grid against ``transformer_lens.patching`` on every family, and whole reports.

    pytest benchmarks/bench_patching.py --benchmark-only -k grid                 # the grid on every family
    pytest benchmarks/bench_patching.py --benchmark-only -k report               # fk-bench report, embedded and Qwen
    pytest benchmarks/bench_patching.py --benchmark-only -k report --fk-models embedded

1. ``test_resid_pre_grid``: the full resid_pre grid (layers x positions, log_odds) of one
   pair, "Is Paris the capital of France?\\n" vs "... Italy?\\n": :func:`interp.patching.activation_patching.get_act_patch_resid_pre`
   against TransformerLens's ``get_act_patch_resid_pre`` on the same bridge, both timed in the same
   run (ours: median of ``--fk-repeats``; TransformerLens: once, it takes a minute on the embedded
   model). Families: random 6-layer models (d_model 256) of each architecture the interp tests cover,
   and the embedded Gemma 3 270M.
2. ``test_report``: ``fk-bench report --from-results`` as a user runs it after ``fk-bench eval`` of the
   default dataset, in a fresh process (wall time with imports and model load; the eval is not timed):
   the embedded model, every relation, the default report (target: 5 minutes), and
   Qwen2.5-Coder-1.5B-Instruct with its chat template, every relation it passes, 10 pairs each, noise
   corruption (target: 30 minutes). Figures: wall time, relations and pairs studied, the report's stages.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from measure import run_command, spread, venv_command

CLEAN = "Is Paris the capital of France?\n"
CORRUPTED = "Is Paris the capital of Italy?\n"
FAMILIES = ("gemma3", "gemma2", "llama", "qwen2", "gpt2", "gpt_neox", "embedded")


def _small_model(family: str, folder: Path):
    """A random model of ``family``, 6 layers of d_model 256: the tiny test models scaled up, so that the
    forward's own cost, not Python overhead alone, is timed."""
    from support import build_tiny_tokenizer
    from support.interp import family_config

    from fk_bench.models import load_model

    tokenizer = build_tiny_tokenizer()
    model_class, config = family_config(family, tokenizer)
    sizes = (
        {"n_embd": 256, "n_layer": 6, "n_head": 8}
        if family == "gpt2"
        else {"hidden_size": 256, "intermediate_size": 1024, "num_hidden_layers": 6, "num_attention_heads": 8}
    )
    for key, value in sizes.items():
        setattr(config, key, value)
    if hasattr(config, "head_dim"):
        config.head_dim = 32
    if hasattr(config, "num_key_value_heads"):
        config.num_key_value_heads = 2
    if getattr(config, "layer_types", None) is not None:
        config.layer_types = [config.layer_types[i % len(config.layer_types)] for i in range(6)]
    torch.manual_seed(0)
    model_class(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return load_model(str(folder), device="cpu", dtype="float32")


@pytest.fixture(scope="module", params=FAMILIES)
def pair(request, tmp_path_factory, models):
    from fk_bench.answers import DEFAULT_GROUPS
    from fk_bench.models import load_model
    from interp.core.answer_tokens import single_token_answers
    from interp.core.model import InterpModel

    if request.param == "embedded":
        models.release()
        loaded = load_model("embedded", device="cpu", dtype="float32")  # its own copy: booting takes the model over
    else:
        loaded = _small_model(request.param, tmp_path_factory.mktemp(request.param))
    answers = single_token_answers(loaded.tokenizer, [CLEAN, CORRUPTED], DEFAULT_GROUPS)
    model = InterpModel.boot(loaded)
    clean, corrupted = model.tensor(model.tokens(CLEAN)), model.tensor(model.tokens(CORRUPTED))
    ids = answers.id_tensor()
    with torch.no_grad():
        _, cache = model.bridge.run_with_cache(clean[None])

    def metric(last_logits: torch.Tensor) -> torch.Tensor:
        """log_odds in nats (not normalized: the embedded model's corruption moves it by 0.12 nats only,
        and dividing by that would magnify float noise)."""
        return answers.log_odds(last_logits[:, -1, ids])

    return {"family": request.param, "model": model, "corrupted": corrupted, "cache": cache, "metric": metric}


def test_resid_pre_grid(pair, figure, benchmark, pytestconfig):
    import transformer_lens.patching as tl_patching

    from interp.patching import activation_patching as patching

    model, repeats = pair["model"], pytestconfig.getoption("--fk-repeats")
    patching.get_act_patch_resid_pre(model, pair["corrupted"], pair["cache"], pair["metric"])  # warm-up

    def run():
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            grid = patching.get_act_patch_resid_pre(model, pair["corrupted"], pair["cache"], pair["metric"])
            times.append(time.perf_counter() - start)
        return grid, times

    ours, times = benchmark.pedantic(run, rounds=1, iterations=1)
    start = time.perf_counter()
    reference = tl_patching.get_act_patch_resid_pre(model.bridge, pair["corrupted"][None], pair["cache"], lambda logits: pair["metric"](logits)[0])
    tl_seconds = time.perf_counter() - start
    difference = float((reference.double() - ours.double()).abs().max())
    ratio = tl_seconds / sorted(times)[len(times) // 2]
    figure.append(
        f"{pair['family']}: resid_pre grid {tuple(ours.shape)} ({model.architecture}): interp {spread(times, 3)} s "
        f"({'layer sweeps' if model.replay_ok else 'full forwards'}), transformer_lens {tl_seconds:.2f} s, "
        f"ratio {ratio:.1f}x, max |difference| {difference:.1e} nats of log_odds"
    )
    benchmark.extra_info.update({"ratio": ratio, "max_difference": difference})
    assert difference < 1e-4


REPORTS = {
    "embedded": [["--relation", "all"]],
    "qwen2.5-coder-1.5b-instruct": [["--relation", "all", "--max-pairs", "10", "--corruption", "noise"]],
}
EVAL_ARGS = {"embedded": [], "qwen2.5-coder-1.5b-instruct": ["--prompt-format", "chat"]}


def _report(zoo_name: str, args: list[str]) -> tuple[float, dict]:
    """Evaluate the default dataset (untimed), then time ``fk-bench report --from-results`` on that run."""
    with tempfile.TemporaryDirectory(prefix="fk-bench-bench-report-") as folder:
        results, out = Path(folder) / "results", Path(folder) / "reports"
        run_command([venv_command("fk-bench"), "eval", "--model", zoo_name, *EVAL_ARGS[zoo_name], "--out", str(results)], Path.cwd())
        run = next(results.glob("*/results.json")).parent
        wall = run_command([venv_command("fk-bench"), "report", "--from-results", str(run), *args, "--out", str(out)], Path.cwd())
        return wall, json.loads(next(out.glob("*/report.json")).read_text())


def test_report(zoo_name, models, figure, benchmark):
    models.release()  # the report process loads its own copy; the 1.5B model must not be held twice
    runs = benchmark.pedantic(lambda: [_report(zoo_name, args) for args in REPORTS[zoo_name]], rounds=1, iterations=1)
    for args, (wall, data) in zip(REPORTS[zoo_name], runs):
        studied = [section for section in data["sections"] if section["studied"]]
        pairs = sum(section["selection"]["n_studied"] for section in studied)
        stages = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in data["seconds"].items())
        figure.append(
            f"fk-bench report --from-results <eval run of {' '.join([zoo_name, *EVAL_ARGS[zoo_name]])}> {' '.join(args)}: "
            f"{wall:.1f} s wall (imports and model load included); {len(studied)} of {len(data['sections'])} relations "
            f"pass the gate, {pairs} pairs studied, {data['n_skipped_pairs']} skipped; stages: {stages}"
        )
        benchmark.extra_info.update({"wall_seconds": wall, "pairs": pairs, "skipped": data["n_skipped_pairs"]})
        assert data["n_skipped_pairs"] == 0 or data["corruption"]["kind"] == "twin"


test_report.zoo_names = tuple(REPORTS)  # type: ignore[attr-defined]
