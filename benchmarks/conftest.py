"""Speed benchmarks (pytest-benchmark): ``pytest benchmarks/ --benchmark-only`` reproduces each figure of
BENCHMARKS.md; CI's test run skips them (pyproject: ``testpaths = ["tests"]``, ``--benchmark-skip``).

Each benchmark measures both sides of its comparison in the same run and prints its figure (ratios
included) at the end of the session, with the machine's load average. Files are named ``bench_*.py``.
"""

from __future__ import annotations

import gc
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # for `import measure`


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("fk-bench speed benchmarks")
    group.addoption(
        "--fk-models",
        default="embedded,smollm2-135m-instruct,qwen2.5-coder-1.5b-instruct",
        help="comma-separated zoo names to benchmark (default: the three zoo models)",
    )
    group.addoption("--fk-questions", type=int, default=402, help="questions per throughput run (capital_of has 402)")
    group.addoption("--fk-floor-questions", type=int, default=1024, help="questions of the FLOP-floor run")
    group.addoption("--fk-per-relation", type=int, default=60, help="questions per relation in the lm-eval comparisons")
    group.addoption("--fk-repeats", type=int, default=3, help="repeats of each timed run (figures give median and range)")
    group.addoption("--fk-threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    group.addoption("--fk-host-questions", type=int, default=4096, help="questions of the host-overhead benchmark (bench_host.py)")
    group.addoption("--fk-before", default="6f7617f", help="commit whose fk_bench/scoring.py is the 'before' of bench_host.py")
    group.addoption("--fk-floor-before", action="store_true", help="test_floor: also time fk_bench/scoring.py of --fk-before, interleaved")
    group.addoption("--fk-model-root", default=None, help="GPU benchmark: DIR/<zoo name>/ holds config.json and tokenizer files")


def pytest_collect_file(file_path: Path, parent: pytest.Collector):
    # (a file named on the command line is collected by pytest itself)
    if file_path.suffix == ".py" and file_path.name.startswith("bench_") and not parent.session.isinitpath(file_path):
        return pytest.Module.from_parent(parent, path=file_path)
    return None


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "zoo_name" in metafunc.fixturenames:
        names = [n for n in metafunc.config.getoption("--fk-models").split(",") if n]
        wanted = getattr(metafunc.function, "zoo_names", None)
        metafunc.parametrize("zoo_name", [n for n in names if wanted is None or n in wanted])


@pytest.fixture(scope="session", autouse=True)
def _threads(pytestconfig: pytest.Config) -> None:
    threads = pytestconfig.getoption("--fk-threads")
    if threads:
        import torch

        torch.set_num_threads(threads)


class ModelPool:
    """Loads zoo models, holding one at a time: the 1.5B model in float32 takes 7 GB."""

    def __init__(self) -> None:
        self.key: tuple | None = None
        self.loaded: Any = None

    def get(self, name: str, dtype: str = "float32"):
        if self.key != (name, dtype):
            self.loaded = None
            gc.collect()
            from fk_bench.models import load_model

            self.loaded = load_model(name, device="cpu", dtype=dtype)
            self.key = (name, dtype)
        return self.loaded

    def release(self) -> None:
        self.key, self.loaded = None, None
        gc.collect()


@pytest.fixture(scope="session")
def models() -> ModelPool:
    return ModelPool()


_FIGURES: list[tuple[str, list[str]]] = []


@pytest.fixture
def figure(request: pytest.FixtureRequest, benchmark):
    """Lines of this benchmark's figure: printed at the end of the run and kept in the benchmark's extra_info."""
    import torch
    from measure import load_average

    lines: list[str] = [f"torch threads {torch.get_num_threads()}, load average {load_average()} at start"]
    _FIGURES.append((request.node.nodeid, lines))
    yield lines
    lines.append(f"load average {load_average()} at end")
    benchmark.extra_info["figure"] = "\n".join(lines)


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    if not _FIGURES:
        return
    terminalreporter.section("fk-bench figures")
    for nodeid, lines in _FIGURES:
        terminalreporter.write_line(nodeid)
        for line in lines:
            terminalreporter.write_line(f"    {line}")
