"""Shared fixtures: the tiny random-weight model (see tests/support) and the real embedded model for
the tests marked ``embedded``."""

from __future__ import annotations

import pytest
from support import build_tiny_model

from fk_bench.data import load_questions
from fk_bench.models import LoadedModel


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
