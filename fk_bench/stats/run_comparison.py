"""Two runs on the same questions: is A better than B? (``fk-bench compare-runs``)

Only the questions both runs scored count (matched by question id, and refused when an id names a
different question or answer in the two files). For accuracy an item is a question, for paired
accuracy a pair both runs scored whole (right when the true question's log(p_True/p_False) exceeds its
twin's, a tie half). Each score gets A, B, their difference with a paired bootstrap interval over facts
(:mod:`fk_bench.stats.intervals`), and, for the right/wrong scores, the exact McNemar test on the
items only one run gets right (:mod:`fk_bench.stats.significance`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from fk_bench.errors import FkBenchError
from fk_bench.metrics import auroc
from fk_bench.pair_index import PairIndex
from fk_bench.results import RunResult
from fk_bench.stats.intervals import BOOTSTRAP_SEED, N_RESAMPLES, FactResampler, fact_keys, percentile_interval, weighted_auroc
from fk_bench.stats.significance import compare_paired, mcnemar_exact

SCORES = ("accuracy", "paired_accuracy", "auroc", "log_odds", "yes_rate")
"""What compare-runs reports, in order; the first two with McNemar's test."""


def _dataset_label(run: RunResult) -> str:
    dataset = run.spec.dataset
    return f"{dataset.id} version {dataset.version or 'unknown'}"


def shared_questions(a: RunResult, b: RunResult, names: tuple[str, str] = ("A", "B")) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Both runs' rows of the questions they share, in the same order; refused (one line) when they share
    none, are not the same dataset version, or one id names different questions."""
    if (a.spec.dataset.id, a.spec.dataset.version) != (b.spec.dataset.id, b.spec.dataset.version):
        raise FkBenchError(f"compare-runs: {names[0]} is {_dataset_label(a)}, {names[1]} is {_dataset_label(b)}; compare runs of one dataset version")
    frames = []
    for run, name in zip((a, b), names):
        frame = run.frame
        duplicated = frame["id"][frame["id"].duplicated()]
        if len(duplicated):
            raise FkBenchError(f"compare-runs: {name} holds question id {duplicated.iloc[0]!r} more than once")
        frames.append(frame.set_index("id", drop=False))
    common = [i for i in frames[0].index if i in frames[1].index]
    if not common:
        raise FkBenchError(f"compare-runs: {names[0]} and {names[1]} share no question")
    left, right = frames[0].loc[common], frames[1].loc[common]
    changed = (left["question"] != right["question"]) | (left["answer"] != right["answer"])
    if changed.any():
        raise FkBenchError(f"compare-runs: question {changed.idxmax()!r} reads differently in {names[0]} and {names[1]}; not the same data")
    return left.reset_index(drop=True), right.reset_index(drop=True)


def _score(a: float | None, b: float | None, low: float, high: float, n: int) -> dict[str, Any]:
    delta = None if a is None or b is None else a - b
    return {"a": a, "b": b, "delta": delta, "ci_low": low, "ci_high": high, "n": n}


def compare_runs(a: RunResult, b: RunResult, n_resamples: int = N_RESAMPLES, seed: int = BOOTSTRAP_SEED) -> dict[str, Any]:
    """Every score of :data:`SCORES` for A and B on their shared questions (``delta`` = a - b), as one JSON-ready object."""
    left, right = shared_questions(a, b)
    keys = fact_keys(left.get("fact_id"), left.get("pair_id"), left["id"])
    resampler = FactResampler.draw(keys, n_resamples, seed)
    weights = resampler.weights(keys)
    out: dict[str, Any] = {"a": a.run_name, "b": b.run_name, "dataset": _dataset_label(a), "n_shared_questions": len(left)}
    out["bootstrap"] = resampler.record()
    out["accuracy"] = compare_paired(left["accuracy"].to_numpy(), right["accuracy"].to_numpy(), weights).to_dict()

    labels = left["answer"].to_numpy(dtype=bool)
    pairs = PairIndex.from_ids(list(left["pair_id"]) if "pair_id" in left else [None] * len(left), labels)
    if len(pairs):
        pair_weights = weights[:, pairs.true_rows]
        a_v, b_v = pairs.verdicts(left["true_log_odds"].to_numpy()), pairs.verdicts(right["true_log_odds"].to_numpy())
        out["paired_accuracy"] = compare_paired(a_v, b_v, pair_weights).to_dict()
    else:
        out["paired_accuracy"] = {**_score(None, None, float("nan"), float("nan"), 0), "a_only": 0, "b_only": 0, "p_value": mcnemar_exact(0, 0)}

    for name in ("log_odds", "yes_rate"):
        a_values = left[name].to_numpy() if name != "yes_rate" else (left["true_log_odds"].to_numpy() > 0).astype(float)
        b_values = right[name].to_numpy() if name != "yes_rate" else (right["true_log_odds"].to_numpy() > 0).astype(float)
        row = compare_paired(a_values, b_values, weights).to_dict()
        out[name] = {k: row[k] for k in ("a", "b", "delta", "ci_low", "ci_high", "n")}
    t_a, t_b = left["true_log_odds"].to_numpy(), right["true_log_odds"].to_numpy()
    auroc_a, auroc_b = auroc(t_a, labels), auroc(t_b, labels)
    low, high = percentile_interval(weighted_auroc(t_a, labels, weights) - weighted_auroc(t_b, labels, weights))
    out["auroc"] = _score(auroc_a, auroc_b, low, high, len(left))
    ready: dict[str, Any] = _json_ready(out)
    return ready


def _json_ready(value: Any) -> Any:
    """Strict JSON: a number that is not finite (an interval with no resample defined) becomes null."""
    if isinstance(value, dict):
        return {k: _json_ready(v) for k, v in value.items()}
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def _number(value: Any, digits: int = 3) -> str:
    return "n/a" if value is None or (isinstance(value, float) and not np.isfinite(value)) else f"{value:.{digits}f}"


def comparison_text(result: dict[str, Any]) -> str:
    """The comparison as a few lines for the terminal."""
    lines = [
        f"A = {result['a']}\nB = {result['b']}",
        f"{result['n_shared_questions']:,} shared questions of {result['dataset']}; 95% intervals: {result['bootstrap']['method']}, "
        f"{result['bootstrap']['n_resamples']} resamples, seed {result['bootstrap']['seed']}",
        f"{'score':<16}{'A':>8}{'B':>8}{'A - B':>9}  {'95% interval':<18}{'n':>7}  McNemar (A only / B only, exact p)",
    ]
    for name in SCORES:
        s = result[name]
        mcnemar = f"{s['a_only']} / {s['b_only']}, p = {s['p_value']:.3g}" if "p_value" in s and s["n"] else ""
        interval = f"[{_number(s['ci_low'])}, {_number(s['ci_high'])}]"
        lines.append(f"{name:<16}{_number(s['a']):>8}{_number(s['b']):>8}{_number(s['delta']):>9}  {interval:<18}{s['n']:>7,}  {mcnemar}")
    return "\n".join(lines)
