"""What the model cache's content check (XXH3-128 of every cached file, on every load) costs.

Each measurement is a fresh process (the page cache warm), ``--repeats`` times per mode:
``hash only`` (the check alone), ``load, no check``, ``load, check beside`` (the default: the check runs in a
thread beside the weights' load) and ``check, then load`` (the two one after the other).

    python benchmarks/bench_cache_check.py --model embedded --repeats 5
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys

MODES = ("hash only", "load, no check", "load, check beside (default)", "check, then load")
ONE = r"""
import sys, time
import fk_bench.models.loading as loading
from fk_bench.models import zoo_model
from fk_bench.models.cache import content_problem
mode, name = sys.argv[1], sys.argv[2]
path = loading.zoo_model_dir(zoo_model(name), verify=False)
start = time.perf_counter()
if mode == "hash only":
    assert content_problem(path) is None
    print(time.perf_counter() - start)
    sys.exit()
if mode == "check, then load":
    assert content_problem(path) is None
if mode != "load, check beside (default)":
    loading.content_problem = lambda path: None
loading.load_model(name, device="cpu", dtype="float32")
print(time.perf_counter() - start)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="embedded")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    times: dict[str, list[float]] = {mode: [] for mode in MODES}
    for _ in range(args.repeats):
        for mode in MODES:
            out = subprocess.run([sys.executable, "-c", ONE, mode, args.model], capture_output=True, text=True, check=True).stdout
            times[mode].append(float(out.strip().splitlines()[-1]))
    for mode in MODES:
        print(f"{args.model:30s} {mode:30s} median {statistics.median(times[mode]):6.2f} s (min {min(times[mode]):.2f}, n={args.repeats})")


if __name__ == "__main__":
    main()
