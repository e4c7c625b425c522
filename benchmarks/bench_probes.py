"""``fk-bench probe`` speed: the whole command on an eval run of the embedded model, as a user runs it.

    pytest benchmarks/bench_probes.py --benchmark-only                       # the default test split (6,362 questions)
    FK_PROBE_LIMIT=400 pytest benchmarks/bench_probes.py --benchmark-only   # the first 400 questions

(an environment variable, not an option: the options live in benchmarks/conftest.py, shared by every benchmark)

``test_probe``: ``fk-bench eval --model embedded`` of the default dataset (untimed), then ``fk-bench probe
--from-results`` on that run in a fresh process (wall time with imports and model load). Figures: wall
time, the stages probe.json records (reading the run, bridge, activations, probes, gap and transfer,
steering), the activations' size on disk, and the headline numbers (chosen layer, probe and output paired
accuracy, the gap), so that a change of speed that changes the numbers shows.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from measure import run_command, venv_command


def _probe(limit: int | None) -> tuple[float, dict, int]:
    with tempfile.TemporaryDirectory(prefix="fk-bench-bench-probe-") as folder:
        results, out = Path(folder) / "results", Path(folder) / "probes"
        eval_args = [venv_command("fk-bench"), "eval", "--model", "embedded", "--out", str(results)]
        run_command(eval_args + (["--limit", str(limit)] if limit else []), Path.cwd())
        run = next(results.glob("*/results.json")).parent
        wall = run_command([venv_command("fk-bench"), "probe", "--from-results", str(run), "--out", str(out)], Path.cwd())
        probe = next(out.glob("*/probe.json"))
        size = sum(p.stat().st_size for p in (probe.parent / "activations").glob("*.npy"))
        return wall, json.loads(probe.read_text(encoding="utf-8")), size


def test_probe(figure, benchmark):
    limit = int(os.environ["FK_PROBE_LIMIT"]) if os.environ.get("FK_PROBE_LIMIT") else None
    wall, data, size = benchmark.pedantic(lambda: _probe(limit), rounds=1, iterations=1)
    stages = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in data["seconds"].items())
    best, gap = data["best"], data["gap"]
    figure.append(
        f"fk-bench probe --from-results <eval run of embedded{f' --limit {limit}' if limit else ''}>: {wall:.1f} s wall "
        f"(imports and model load included), {data['n_questions']} questions, {data['model']['n_layers'] + 1} layers, "
        f"activations {size / 2**20:.0f} MiB (float16); stages: {stages}; best layer {data['best_layer']}, probe paired accuracy "
        f"{best['paired_accuracy']:.3f} [{best['ci_low']:.3f}, {best['ci_high']:.3f}], output {data['output_paired_accuracy']:.3f}, "
        f"gap {gap['value']:+.3f} [{gap['ci_low']:+.3f}, {gap['ci_high']:+.3f}]"
    )
    benchmark.extra_info.update({"wall_seconds": wall, "n_questions": data["n_questions"], "activation_bytes": size})
    assert data["n_questions"] >= 4 and size > 0
