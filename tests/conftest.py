"""Shared fixtures: the tiny random-weight model (see tests/support) and the real embedded model for
the tests marked ``embedded``; and the fast lane's ``slow`` marker (``pytest -m "not slow"``)."""

from __future__ import annotations

import pytest
from support import build_tiny_model

from fk_bench.data import load_questions
from fk_bench.models import LoadedModel

SLOW_FOLDER = "slow"
"""Every test under tests/slow/ is slow."""
REAL_MODEL_MARKERS = ("embedded", "smollm2")
"""A test of a real model (loading, dequantizing on first use, scoring at full size) is slow wherever it lives."""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the fast lane's exclusions ``slow``: tests/slow/ and the tests of a real model (the tests measured
    slowest elsewhere carry ``@pytest.mark.slow`` themselves)."""
    for item in items:
        if SLOW_FOLDER in item.path.parent.parts[-1:] or any(item.get_closest_marker(name) for name in REAL_MODEL_MARKERS):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> LoadedModel:
    return build_tiny_model(tmp_path_factory.mktemp("tiny-gemma3"))


@pytest.fixture(scope="session")
def embedded_model() -> LoadedModel:
    from fk_bench.models import load_model

    return load_model("embedded", device="cpu")


@pytest.fixture(scope="session")
def paris_questions():
    return load_questions(config="paris")
