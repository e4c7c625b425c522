"""Refactoring changes no number: the evaluator on the Paris set and on 200 questions of the version-1 dataset
gives the scores the code before the run spec (commit 6f7617f) gave, within 1e-4.

The golden files in tests/data/golden/ were written by that commit:
``fk-bench eval --model embedded --config paris`` and ``--dataset tests/data/golden/v1_first200.csv``
(the first 200 test questions of dataset 1.0.0), float32 on the CPU; their ``score[<word>]`` columns.
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fk_bench.answer_groups import DEFAULT_GROUPS
from fk_bench.data import load_questions
from fk_bench.evaluation import evaluate

pytestmark = pytest.mark.embedded
GOLDEN = Path(__file__).parents[1] / "data" / "golden"


@pytest.mark.parametrize(("name", "source"), [("paris", {"config": "paris"}), ("first200", {"source": GOLDEN / "v1_first200.csv"})])
def test_evaluator_scores_are_those_before_the_refactoring(embedded_model, name, source):
    result = evaluate(embedded_model, load_questions(**source), DEFAULT_GROUPS, progress=False)
    golden = pd.read_csv(GOLDEN / f"embedded_{name}_scores.csv").set_index("id")
    table = result.frame.set_index("id")
    assert list(table.index) == list(golden.index)
    columns = [f"score[{word}]" for word in DEFAULT_GROUPS.words]
    difference = np.abs(table[columns].to_numpy() - golden[columns].to_numpy())
    assert difference.max() < 1e-4, f"largest change {difference.max():.2e}"
