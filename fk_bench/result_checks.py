"""Every figure of a result checked against its per-question rows: what every reader of results.json runs
(:func:`fk_bench.results.parse_results`), so a summary, count or per-relation figure that the rows contradict
(a tampered or half-edited file) is refused, never shown."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from fk_bench.pair_index import PairIndex

if TYPE_CHECKING:
    from fk_bench.results import RunResult

TOLERANCE = 1e-6
"""How far a stored figure may lie from the one recomputed from the per-question rows (float rounding only)."""


def recomputed(result: RunResult) -> dict[str, Any]:
    """What the per-question rows give: each row's metrics from its answer-word scores, the summary, and
    the per-relation and per-domain summaries, as :func:`fk_bench.evaluation.evaluate` computes them."""
    import numpy as np
    from scipy.special import logit

    from fk_bench.metrics import by_popularity, question_metrics, summarize
    from fk_bench.pair_index import groups_of

    rows = result.questions
    if not rows:
        raise ValueError("questions: none, but a result holds every question it scored")
    words = result.words
    is_true = np.asarray([word in result.answer_words["True"] for word in words])
    labels = np.asarray([row.answer for row in rows], dtype=bool)
    scores = np.asarray([[row.scores.get(word, np.nan) for word in words] for row in rows], dtype=np.float64)
    if not np.isfinite(scores).all():
        raise ValueError("questions[].scores: every answer word needs a finite score")
    per_question = question_metrics(scores, is_true, labels)
    pairs = PairIndex.from_ids([row.pair_id for row in rows], labels)  # not result.pairs: its cache would change result == other
    threshold = result.spec.filter_threshold
    fact_ids = [row.fact_id for row in rows]
    facts = fact_ids if any(f is not None for f in fact_ids) else None

    # The content-free bias needs the model: taken from the stored summary, the verdicts it gives are checked.
    contextual = result.summary.contextual_calibration
    bias = None if contextual is None else float(logit(np.clip(contextual.p_true_content_free, 1e-300, 1 - 1e-16)))

    def summary_of(selected: np.ndarray) -> dict[str, Any]:
        return summarize(
            {k: v[selected] for k, v in per_question.items()},
            labels[selected],
            threshold,
            pairs.select(selected),
            [facts[i] for i in selected] if facts is not None else None,
            content_free_log_odds=bias,
        )

    everything = np.arange(len(rows))
    return {
        "per_question": per_question,
        "summary": summary_of(everything),
        "per_relation": {key: summary_of(sel) for key, sel in groups_of([row.relation for row in rows], min_size=1).items()},
        "per_domain": {key: summary_of(sel) for key, sel in groups_of([row.domain for row in rows], min_size=1).items()},
        "by_popularity": by_popularity(per_question["true_log_odds"], [row.popularity for row in rows], [row.relation for row in rows], pairs),
    }


def _differs(stored: Any, computed: Any) -> bool:
    if stored is None or computed is None:
        return (stored is None) != (computed is None)
    if isinstance(computed, dict):  # a calibration object: every figure of it
        stored = stored.model_dump() if isinstance(stored, BaseModel) else stored
        return not isinstance(stored, dict) or any(_differs(stored.get(k), v) for k, v in computed.items())
    if isinstance(stored, bool) or isinstance(computed, bool):
        return bool(stored) != bool(computed)
    return abs(float(stored) - float(computed)) > TOLERANCE


LATER_FIGURES = ("ece_adaptive", "aurc", "brier_reliability", "brier_resolution", "brier_uncertainty", "batch_calibration", "contextual_calibration")
"""The calibration battery: results written before it have none (null), which is no contradiction; readers
that show these figures recompute them from the rows (:mod:`fk_bench.leaderboard.uncertainty`)."""


def _first_difference(stored: dict[str, Any], computed: dict[str, Any], where: str) -> str | None:
    for name, value in computed.items():
        if name in LATER_FIGURES and stored.get(name) is None:
            continue
        if _differs(stored.get(name), value):
            return f"{where}.{name} is {stored.get(name)!r}, the per-question rows give {value!r}"
    return None


def verify(result: RunResult) -> str | None:
    """The first stored figure of ``result`` that its per-question rows contradict (beyond :data:`TOLERANCE`),
    as ``field is X, the rows give Y``; None when every figure holds. Checked: each row's metrics against
    its answer-word scores, ``passes_filter``, the summary (``n_questions``, ``n_pairs``, ``n_pass_filter``,
    every metric), every per-relation and per-domain summary and popularity tercile, their names included."""
    import numpy as np

    from fk_bench.metrics import PER_QUESTION_METRICS, passes_filter

    try:
        computed = recomputed(result)
    except ValueError as err:  # pair ids of one label, a missing score
        return str(err)
    for name in PER_QUESTION_METRICS:
        stored = np.asarray([getattr(row, name) for row in result.questions], dtype=np.float64)
        bad = np.flatnonzero(np.abs(stored - computed["per_question"][name]) > TOLERANCE)
        if bad.size:
            i = int(bad[0])
            return f"questions[{i}].{name} is {stored[i]!r}, its answer-word scores give {float(computed['per_question'][name][i])!r}"
    filtered = passes_filter(computed["per_question"], result.spec.filter_threshold)
    for i, row in enumerate(result.questions):
        if row.passes_filter != bool(filtered[i]):
            return f"questions[{i}].passes_filter is {row.passes_filter}, its metrics give {bool(filtered[i])}"
    problem = _first_difference(result.summary.model_dump(), computed["summary"], "summary")
    for field in ("per_relation", "per_domain"):
        stored_groups = {key: value.model_dump() for key, value in getattr(result, field).items()}
        if problem is None and set(stored_groups) != set(computed[field]):
            problem = f"{field} names {sorted(stored_groups)}, the per-question rows give {sorted(computed[field])}"
        for key in sorted(computed[field]) if problem is None else []:
            problem = problem or _first_difference(stored_groups[key], computed[field][key], f"{field}.{key}")
    bins = {key: value.model_dump() for key, value in result.by_popularity.items()}
    if problem is None and set(bins) != set(computed["by_popularity"]):
        problem = f"by_popularity terciles {sorted(bins)}, the per-question rows give {sorted(computed['by_popularity'])}"
    for key in sorted(computed["by_popularity"]) if problem is None else []:
        problem = problem or _first_difference(bins[key], computed["by_popularity"][key], f"by_popularity.{key}")
    return problem
