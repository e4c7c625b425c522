"""What checking a result before showing it costs: reading a committed zoo results.json (1,500 questions)
with plain ``json.loads``, with the strict reader (``fk_bench.files.read_json``: duplicate keys, NaN,
size and bracket depth checked first) and with ``read_results`` (the schema, then every figure
recomputed from the per-question rows by ``fk_bench.result_checks.verify``).

    pytest benchmarks/bench_read_results.py --benchmark-only
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from measure import spread, timed

RESULTS = Path(__file__).resolve().parents[1] / "leaderboard" / "results" / "gemma-3-270m-q4_k_m" / "results.json"


@pytest.mark.skipif(not RESULTS.exists(), reason="no committed leaderboard results in this checkout")
def test_read_results(figure, benchmark, pytestconfig):
    from fk_bench.files import read_json
    from fk_bench.result_checks import verify
    from fk_bench.results import read_results

    sides = {
        "json.loads": lambda: json.loads(RESULTS.read_text(encoding="utf-8")),
        "read_json (strict)": lambda: read_json(RESULTS),
        "read_results (schema + verify)": lambda: read_results(RESULTS),
    }

    def run():
        for side in sides.values():
            side()  # warm-up: imports, the page cache
        times: dict[str, list[float]] = {name: [] for name in sides}
        for _ in range(max(5, pytestconfig.getoption("--fk-repeats"))):
            for name, side in sides.items():
                times[name].append(timed(side)[0])
        return times

    times = benchmark.pedantic(run, rounds=1, iterations=1)
    result = read_results(RESULTS)
    verify_times = [timed(lambda: verify(result))[0] for _ in range(5)]
    figure.append(f"{RESULTS.relative_to(RESULTS.parents[3])}: {RESULTS.stat().st_size / 1e6:.1f} MB, {len(result.questions)} questions")
    for name, values in times.items():
        figure.append(f"{name}: {spread([1000 * v for v in values], 0)} ms")
    figure.append(f"verify alone: {spread([1000 * v for v in verify_times], 0)} ms")
