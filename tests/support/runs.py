"""Hand-made results files that every reader accepts: a committed run's rows with chosen log-odds, and every
figure recomputed from the rows (readers refuse a file whose figures its rows contradict)."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import numpy as np


def with_true_log_odds(data: dict[str, Any], true_log_odds: Sequence[float] | None = None, name: str | None = None) -> dict[str, Any]:
    """A copy of results ``data`` whose questions have these log(p_True/p_False) (None: as they are), as model
    ``name``: the answer words' scores are set to give them, and every per-question figure, the summary and the
    per-relation, per-domain and popularity figures are recomputed from the rows, as fk-bench eval writes them."""
    from fk_bench.metrics import PER_QUESTION_METRICS, passes_filter
    from fk_bench.result_checks import recomputed
    from fk_bench.results import RunResult

    out = copy.deepcopy(data)
    if name is not None:
        out["model"]["name"] = name
    true_words, false_words = out["answer_words"]["True"], out["answer_words"]["False"]
    rows = out["questions"]
    if true_log_odds is not None:
        for row, value in zip(rows, true_log_odds, strict=True):
            p_true = 0.9 / (1.0 + np.exp(-float(value)))  # both groups' masses: 0.9 in all, in the ratio asked for
            row["scores"] = {
                **{w: float(np.log(p_true / len(true_words))) for w in true_words},
                **{w: float(np.log((0.9 - p_true) / len(false_words))) for w in false_words},
            }
    computed = recomputed(RunResult.model_validate(out))
    per_question = computed["per_question"]
    filtered = passes_filter(per_question, out["spec"]["filter_threshold"])
    for i, row in enumerate(rows):
        row.update({metric: float(per_question[metric][i]) for metric in PER_QUESTION_METRICS}, passes_filter=bool(filtered[i]))
    out["summary"] = computed["summary"]  # the content-free bias is the stored one; its verdicts are the new rows'
    for field in ("per_relation", "per_domain", "by_popularity"):
        out[field] = computed[field]
    return out
