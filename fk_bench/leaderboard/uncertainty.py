"""What the leaderboard adds to each row so a reader can act on it: intervals, rank intervals, significance.

- :func:`row_statistics`: a 95% interval beside every figure of an fk-bench row (``<metric>_low``,
  ``<metric>_high``): Wilson for shares of questions (accuracy, yes rate), the fact bootstrap for the rest
  (:mod:`fk_bench.stats.intervals`), per relation, domain and popularity tercile too; per relation the
  smallest paired-accuracy difference its pairs can detect (``paired_accuracy_mde[<relation>]``); the bias
  corrections; and the :class:`Evidence` that ranks and tests need (per-pair verdicts, reliability diagram).
- :func:`add_rank_intervals`: ``rank_low``/``rank_high`` per row, from the same fact draws for every row of a group.
- :func:`significance`: every pair of rows of a group, exact McNemar on the pairs both scored, Holm-corrected
  across the whole board.

lm-eval rows carry no per-question data: they get Wilson intervals from their counts and nothing else.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from fk_bench.metrics import METRICS, POPULARITY_BINS, popularity_terciles
from fk_bench.pair_index import groups_of
from fk_bench.results import RunResult
from fk_bench.stats import calibration
from fk_bench.stats.intervals import FactResampler, fact_keys, percentile_interval, weighted_auroc, weighted_means, wilson_interval
from fk_bench.stats.power import minimum_detectable_difference
from fk_bench.stats.ranks import rank_intervals
from fk_bench.stats.significance import holm, mcnemar_exact

WILSON_METRICS = ("accuracy", "yes_rate")
"""Shares of questions: Wilson intervals from the counts."""
BOOTSTRAP_METRICS = ("paired_accuracy", "auroc", "log_odds", "logit_diff", "prob_diff", "brier", "consistency", "paired_consistency")
"""Everything else with an interval: the fact bootstrap."""
INTERVAL_METRICS = tuple(m for m in METRICS if m in WILSON_METRICS or m in BOOTSTRAP_METRICS)
CALIBRATION_COLUMNS = (
    "batch_calibrated_accuracy",
    "batch_calibrated_yes_rate",
    "contextual_calibrated_accuracy",
    "contextual_calibrated_yes_rate",
    "p_true_content_free",
)
"""The bias corrections as row columns (from the summary's ``batch_calibration`` and ``contextual_calibration``)."""
RANK_METRIC = "paired_accuracy"
SIGNIFICANCE_LEVEL = 0.05


def interval_columns(metrics: tuple[str, ...]) -> list[str]:
    """``metric``, then ``metric_low`` and ``metric_high`` for those with an interval."""
    return [c for m in metrics for c in ((m, f"{m}_low", f"{m}_high") if m in INTERVAL_METRICS else (m,))]


@dataclass(frozen=True)
class Evidence:
    """Per-pair verdicts of one row (for rank intervals and the significance matrix) and its reliability diagram."""

    pair_ids: tuple[str, ...]
    pair_facts: tuple[str, ...]
    verdicts: np.ndarray
    diagram: dict[str, list[float]] = field(default_factory=dict)


def _wilson(share: float | None, n: int) -> tuple[float, float]:
    if share is None or n < 1 or not math.isfinite(share):
        return math.nan, math.nan
    return wilson_interval(round(share * n), n)


def _statement_agreement(values: np.ndarray, group_keys: list[Any], keys: list[str]) -> tuple[np.ndarray, list[str]]:
    """Per group of two or more rows: 1.0 when every verdict is the same; with the first row's fact key."""
    groups = groups_of(group_keys)
    return np.array([float(np.all(values[r] == values[r[0]])) for r in groups.values()]), [keys[int(r[0])] for r in groups.values()]


def row_statistics(result: RunResult) -> dict[str, Any]:
    """The interval, MDE, calibration and evidence columns of one fk-bench row."""
    frame, summary, pairs = result.frame, result.summary.model_dump(), result.pairs
    keys = fact_keys(frame.get("fact_id"), frame.get("pair_id"), frame["id"])
    resampler = FactResampler.draw(keys)
    weights = resampler.weights(keys)
    pair_keys = [keys[int(r)] for r in pairs.true_rows]
    pair_weights = weights[:, pairs.true_rows]
    verdicts = pairs.verdicts(frame["true_log_odds"].to_numpy())
    labels = frame["answer"].to_numpy(dtype=bool)
    out: dict[str, Any] = {}
    for name in WILSON_METRICS:
        out[f"{name}_low"], out[f"{name}_high"] = _wilson(summary.get(name), len(frame))
    if len(pairs):
        out["paired_accuracy_low"], out["paired_accuracy_high"] = percentile_interval(weighted_means(verdicts, pair_weights))
    out["auroc_low"], out["auroc_high"] = percentile_interval(weighted_auroc(frame["true_log_odds"].to_numpy(), labels, weights))
    for name in ("log_odds", "logit_diff", "prob_diff", "brier"):
        out[f"{name}_low"], out[f"{name}_high"] = percentile_interval(weighted_means(frame[name].to_numpy(), weights))
    if "fact_id" in frame and summary.get("consistency") is not None:
        agree, agree_keys = _statement_agreement(frame["accuracy"].to_numpy(), list(zip(frame["fact_id"], labels)), keys)
        out["consistency_low"], out["consistency_high"] = percentile_interval(weighted_means(agree, resampler.weights(agree_keys)))
        agree, agree_keys = _statement_agreement(verdicts, [frame["fact_id"].iloc[int(r)] for r in pairs.true_rows], pair_keys)
        if agree.size:
            out["paired_consistency_low"], out["paired_consistency_high"] = percentile_interval(weighted_means(agree, resampler.weights(agree_keys)))
    out.update(_breakdowns(result, frame, verdicts, pair_weights))
    out.update(_calibration_columns(summary, frame))
    out["evidence"] = Evidence(pairs.ids, tuple(pair_keys), verdicts, calibration.reliability_diagram(frame["p_true"].to_numpy(), labels))
    return out


def _breakdowns(result: RunResult, frame: pd.DataFrame, verdicts: np.ndarray, pair_weights: np.ndarray) -> dict[str, float]:
    """Intervals per relation (paired accuracy, accuracy), per domain and per popularity tercile; MDE per relation."""
    pairs, out = result.pairs, {}
    for column, prefix in (("relation", ""), ("domain", "domain:")):
        if column not in frame:
            continue
        of_pair = frame[column].to_numpy()[pairs.true_rows]
        stats = result.per_relation if column == "relation" else result.per_domain
        for name, group in stats.items():
            chosen = of_pair == name
            key = f"[{prefix}{name}]"
            if chosen.any():
                low, high = percentile_interval(weighted_means(verdicts[chosen], pair_weights[:, chosen]))
                out[f"paired_accuracy{key}_low"], out[f"paired_accuracy{key}_high"] = low, high
            out[f"accuracy{key}_low"], out[f"accuracy{key}_high"] = _wilson(group.accuracy, group.n_questions)
            if column == "relation":
                out[f"paired_accuracy_mde{key}"] = minimum_detectable_difference(group.n_pairs) if group.n_pairs else math.nan
    if result.by_popularity and "popularity" in frame:
        bins = popularity_terciles(list(frame["popularity"]), list(frame["relation"]), pairs)
        for number, name in enumerate(POPULARITY_BINS):
            chosen = bins == number
            if chosen.any():
                low, high = percentile_interval(weighted_means(verdicts[chosen], pair_weights[:, chosen]))
                out[f"paired_accuracy[popularity:{name}]_low"], out[f"paired_accuracy[popularity:{name}]_high"] = low, high
    return out


def _calibration_columns(summary: dict[str, Any], frame: pd.DataFrame) -> dict[str, float]:
    """The bias corrections, and the calibration battery recomputed from the rows where a file predates them
    (batch calibration needs only the log-odds; contextual calibration needs the model, so it stays n/a)."""
    t_vs_f, labels = frame["true_log_odds"].to_numpy(), frame["answer"].to_numpy(dtype=bool)
    batch, context = summary.get("batch_calibration") or calibration.batch_calibration(t_vs_f, labels), summary.get("contextual_calibration") or {}
    recomputed: dict[str, float] = {}
    if summary.get("aurc") is None:
        p_true = frame["p_true"].to_numpy()
        recomputed["ece_adaptive"] = calibration.adaptive_ece(p_true, labels)
        recomputed["aurc"] = calibration.aurc(t_vs_f, frame["accuracy"].to_numpy())
        recomputed.update({f"brier_{k}": v for k, v in calibration.brier_decomposition(p_true, labels).items()})
    return {
        **recomputed,
        "batch_calibrated_accuracy": batch.get("accuracy", math.nan),
        "batch_calibrated_yes_rate": batch.get("yes_rate", math.nan),
        "contextual_calibrated_accuracy": context.get("accuracy", math.nan),
        "contextual_calibrated_yes_rate": context.get("yes_rate", math.nan),
        "p_true_content_free": context.get("p_true_content_free", math.nan),
    }


def complete_rows(table: pd.DataFrame) -> pd.DataFrame:
    """Every interval and calibration column present (NaN where a row has none); Wilson intervals for rows that
    bring only counts (lm-eval); ``rank_low``/``rank_high`` per group (:func:`add_rank_intervals`)."""
    table = table.copy()
    for column in [*(c for m in INTERVAL_METRICS for c in (f"{m}_low", f"{m}_high")), *CALIBRATION_COLUMNS]:
        if column not in table:
            table[column] = math.nan
    if "evidence" not in table:
        table["evidence"] = None
    for name in WILSON_METRICS:
        missing = table[f"{name}_low"].isna() & table[name].notna()
        for index in table.index[missing]:
            table.loc[index, [f"{name}_low", f"{name}_high"]] = _wilson(float(table.loc[index, name]), int(table.loc[index, "n"]))
    return add_rank_intervals(table)


def add_rank_intervals(table: pd.DataFrame) -> pd.DataFrame:
    """``rank_low``/``rank_high`` by paired accuracy within each group, bootstrapping the facts of all its rows
    together (the same draws for every row); rows without per-pair data get none."""
    table = table.assign(rank_low=math.nan, rank_high=math.nan)
    for _, rows in table.groupby("group", sort=True):
        known = [i for i in rows.index if isinstance(table.at[i, "evidence"], Evidence) and len(table.at[i, "evidence"].verdicts)]
        if len(known) < 2:
            for i in known:
                table.loc[i, ["rank_low", "rank_high"]] = (1, 1) if len(rows) == 1 else (math.nan, math.nan)
            continue
        evidence = [table.at[i, "evidence"] for i in known]
        resampler = FactResampler.draw([key for e in evidence for key in e.pair_facts])
        replicates = np.column_stack([weighted_means(e.verdicts, resampler.weights(e.pair_facts)) for e in evidence])
        low, high = rank_intervals(replicates)
        table.loc[known, "rank_low"], table.loc[known, "rank_high"] = low, high
    return table


@dataclass(frozen=True)
class Matrix:
    """The significance matrix of one group: ``p[i][j]`` Holm-adjusted McNemar p of row i against row j on the
    pairs both scored, ``delta[i][j]`` their paired-accuracy difference there (NaN on the diagonal)."""

    rows: list[int]
    p: np.ndarray
    delta: np.ndarray


def significance(table: pd.DataFrame) -> dict[int, Matrix]:
    """Per group, every pair of rows with per-pair data compared by exact McNemar; Holm across the whole board."""
    tests: list[tuple[int, int, int, float, float]] = []
    members: dict[int, list[int]] = {}
    for group, rows in table.groupby("group", sort=True):
        known = [i for i in rows.index if isinstance(table.at[i, "evidence"], Evidence)]
        members[int(group)] = known
        for x, y in itertools.combinations(range(len(known)), 2):
            a, b = table.at[known[x], "evidence"], table.at[known[y], "evidence"]
            shared = sorted(set(a.pair_ids) & set(b.pair_ids))
            if not shared:
                continue
            index_a, index_b = {p: k for k, p in enumerate(a.pair_ids)}, {p: k for k, p in enumerate(b.pair_ids)}
            va = a.verdicts[[index_a[p] for p in shared]]
            vb = b.verdicts[[index_b[p] for p in shared]]
            p = mcnemar_exact(int(np.sum((va == 1) & (vb == 0))), int(np.sum((vb == 1) & (va == 0))))
            tests.append((int(group), x, y, p, float(va.mean() - vb.mean())))
    adjusted = holm([t[3] for t in tests]) if tests else np.array([])
    out = {}
    for group, known in members.items():
        n = len(known)
        p_matrix, delta = np.full((n, n), np.nan), np.full((n, n), np.nan)
        for (g, x, y, _, d), p in zip(tests, adjusted):
            if g == group:
                p_matrix[x, y] = p_matrix[y, x] = p
                delta[x, y], delta[y, x] = d, -d
        out[group] = Matrix(known, p_matrix, delta)
    return out
