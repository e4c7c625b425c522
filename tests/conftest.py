"""Shared fixtures: the tiny random-weight model (see tests/support) and the real embedded model for
the tests marked ``embedded``; and the fast lane's ``slow`` marker (``pytest -m "not slow"``)."""

from __future__ import annotations

import pytest
from support import build_tiny_model
from support.interp import FAMILIES

from fk_bench.data import load_questions
from fk_bench.models import LoadedModel

SLOW_FOLDER = "slow"
"""Every test under tests/slow/ is slow."""
REAL_MODEL_MARKERS = ("embedded", "smollm2")
"""A test of a real model (loading, dequantizing on first use, scoring at full size) is slow wherever it lives."""
FAST_FAMILY = "gemma3"
"""Tests run once per tiny model family (support.interp.FAMILIES) check each family in the full suite; the
fast lane keeps the embedded model's family only (the other families' runs cost 220 of its 480 CPU seconds)."""


def _other_family(item: pytest.Item) -> bool:
    """Whether ``item`` is parametrized with a tiny model family other than :data:`FAST_FAMILY`."""
    callspec = getattr(item, "callspec", None)
    if callspec is None:
        return False
    values = [v for value in callspec.params.values() for v in (value if isinstance(value, tuple) else (value,))]
    return any(isinstance(v, str) and v in FAMILIES and v != FAST_FAMILY for v in values)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the fast lane's exclusions ``slow``: tests/slow/, the tests of a real model, and the runs of a
    family-parametrized test on other families than :data:`FAST_FAMILY` (the other tests measured slowest
    carry ``@pytest.mark.slow`` themselves)."""
    for item in items:
        real_model = any(item.get_closest_marker(name) for name in REAL_MODEL_MARKERS)
        if item.path.parent.name == SLOW_FOLDER or real_model or _other_family(item):
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
