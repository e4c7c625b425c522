"""Write a leaderboard table (from :func:`fk_bench.leaderboard.collect.collect_rows`) as Markdown, CSV or HTML.

All three carry the same rows and settings; each group of rows (same questions, same answer words) is
its own ranked table. The HTML page (``templates/leaderboard.html.j2``, on the shared page shell of
:mod:`fk_bench.pages`) adds a sortable table with the best value per column highlighted, the bias
picture (yes_rate against paired accuracy, with the chance band), a models x relations heatmap, and
the metric definitions from :data:`fk_bench.metrics.METRICS`.

The rows come from other people's result folders, so every name is hostile text: the page escapes it
(Jinja2) and makes links only through :func:`fk_bench.pages.path_url`/``safe_url``, figures get it
through :func:`fk_bench.pages.plain_text`, the CSV quotes formula-like cells and the Markdown escapes
every cell and heading (:mod:`fk_bench.pages.tables`; docs/bad-input.md, "Shared pages and tables").
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fk_bench.errors import FkBenchError
from fk_bench.files import write_atomic, write_text_atomic
from fk_bench.leaderboard.board_figures import (
    rank_text,
    row_label,
)
from fk_bench.leaderboard.collect import DISPLAY_METRICS, data_label, domains, popularity_bins, prompt_label, relations, relative_link
from fk_bench.leaderboard.uncertainty import SIGNIFICANCE_LEVEL, Matrix, significance
from fk_bench.metrics import METRICS
from fk_bench.pages import format_number, path_url
from fk_bench.pages.tables import csv_safe, markdown_code_block, markdown_text
from fk_bench.stats.intervals import BOOTSTRAP_SEED, N_RESAMPLES

SUFFIXES = (".md", ".csv", ".html")
TEMPLATES = Path(__file__).parent / "templates"
BOARD_METRICS = ("paired_accuracy", "accuracy", "yes_rate", "auroc", "log_odds", "consistency", "paired_consistency")
"""The ranking table's scores (with their intervals); the consistencies only where a row has them."""
CALIBRATION_METRICS = (
    "yes_rate",
    "accuracy",
    "batch_calibrated_accuracy",
    "batch_calibrated_yes_rate",
    "contextual_calibrated_accuracy",
    "contextual_calibrated_yes_rate",
    "p_true_content_free",
    "brier",
    "brier_reliability",
    "brier_resolution",
    "ece",
    "ece_adaptive",
    "aurc",
)
"""The bias-and-calibration table: raw verdicts beside the bias-corrected ones, then calibration."""
INTERVALS_NOTE = (
    f"95% intervals: Wilson for accuracy and yes rate, a bootstrap over facts (both questions of a pair drawn together; "
    f"{N_RESAMPLES} resamples, seed {BOOTSTRAP_SEED}) for the rest; rank intervals from the same bootstrap."
)
CALIBRATED_DEFINITIONS = {
    "batch_calibrated_accuracy": "accuracy once the run's mean log(p_True/p_False), its yes/no bias, is removed from every question "
    "(batch calibration, Zhou et al. 2024); batch_calibrated_yes_rate: the yes rate then",
    "contextual_calibrated_accuracy": "accuracy once the log-odds the prompt format gives content-free inputs (N/A, [MASK], and the empty "
    "question where the format leaves a context) is removed (contextual calibration, Zhao et al. 2021); p_true_content_free: p(true) on those inputs",
    "rank interval": "the 2.5th to 97.5th percentile of a row's rank by paired accuracy over bootstrap resamples of the facts; "
    "≈ marks a row whose rank interval overlaps another's (tied)",
    "significance": "exact McNemar test on the pairs both rows scored (pairs only one row gets right), Holm-corrected across every pair "
    "of rows on the board; ▲ the row is significantly better (p < 0.05), ▼ worse, · no significant difference",
    "MDE": "minimum detectable difference of a relation: the smallest paired-accuracy difference between two models its pairs can detect "
    "(two-sided 5%, 80% power, exact McNemar setting, 50% discordance)",
}
SHORT_NAMES = {
    "paired_accuracy": "paired acc",
    "accuracy": "accuracy",
    "yes_rate": "yes rate",
    "auroc": "AUROC",
    "log_odds": "log odds",
    "logit_diff": "logit diff",
    "prob_diff": "prob diff",
    "brier": "Brier",
    "ece": "ECE",
    "consistency": "consistency",
    "paired_consistency": "paired consist.",
    "batch_calibrated_accuracy": "acc · batch cal.",
    "batch_calibrated_yes_rate": "yes · batch cal.",
    "contextual_calibrated_accuracy": "acc · context cal.",
    "contextual_calibrated_yes_rate": "yes · context cal.",
    "p_true_content_free": "p(true) content-free",
    "brier_reliability": "reliability",
    "brier_resolution": "resolution",
    "ece_adaptive": "adaptive ECE",
    "aurc": "AURC",
}
EXTRA_DEFINITIONS = {
    "n_pass_filter": "questions the model answers correctly with prob_diff at or above the filter threshold (the "
    "original study's filter for the questions worth studying with interp); recounted at the leaderboard's threshold",
    "n": "questions scored; n_pairs of them form complete pairs (a true question and its corrupted twin)",
    "paired accuracy per domain": "paired accuracy over the relations of one domain (geography, people, organisations, culture, science)",
    "paired accuracy by popularity": "paired accuracy over the pairs of one popularity tercile (low, mid, high), the terciles cut within "
    "each relation by how popular the subject is (a place's population, ...); a model that knows only famous subjects falls from high to low",
}


def check_suffix(out: str | Path) -> Path:
    """Refuse an output name the leaderboard cannot write, before any result is read."""
    out = Path(out)
    if out.suffix not in SUFFIXES:
        raise FkBenchError(f"{out}: leaderboard output must end in .md, .csv or .html")
    if out.is_dir():
        raise FkBenchError(f"{out}: is a folder, expected a file path ending in .md, .csv or .html")
    return out


def best_values(rows: pd.DataFrame) -> dict[str, float]:
    """Per metric with a direction in :data:`METRICS`, the best value among ``rows`` (n/a ignored; none
    when all rows are equal: nothing stands out)."""
    best = {}
    for name in (*DISPLAY_METRICS, "batch_calibrated_accuracy", "contextual_calibrated_accuracy"):
        direction = METRICS[name].higher_is_better if name in METRICS else True
        values = rows[name].dropna()
        if direction is not None and len(values) > 1 and values.max() > values.min():
            best[name] = float(values.max() if direction else values.min())
    return best


def _is_best(value: Any, best: float | None) -> bool:
    return best is not None and isinstance(value, float) and not math.isnan(value) and math.isclose(value, best, rel_tol=0, abs_tol=5e-7)


def _settings_columns(rows: pd.DataFrame) -> tuple[list[str], dict[str, str]]:
    """Of the settings that may differ inside a group (device, harness), those that do (shown as columns)
    and the values of those that do not (said once above the table)."""
    varying = [name for name in ("device", "harness") if rows[name].nunique() > 1]
    return varying, {name: str(rows[name].iloc[0]) for name in ("harness", "device") if name not in varying}


def _groups(table: pd.DataFrame) -> list[tuple[int, pd.DataFrame]]:
    return [(int(group), rows) for group, rows in table.groupby("group", sort=True)]


def _group_title(group: int, rows: pd.DataFrame, n_groups: int) -> str:
    first = rows.iloc[0]
    head = f"Group {group}: " if n_groups > 1 else ""
    return f"{head}{data_label(first)}, {int(first['n']):,} questions"


# ---------------------------------------------------------------- CSV and Markdown


def _csv(table: pd.DataFrame, out: Path) -> Path:
    shown = table.drop(columns=["evidence"], errors="ignore").assign(
        prompt=[prompt_label(r) for _, r in table.iterrows()],
        report=[relative_link(r, out.parent) or "" for r in table["report"]],
        source=[relative_link(s, out.parent) for s in table["source"]],
    )
    first = ("group", "rank", "rank_low", "rank_high", "model", "harness", "prompt")
    columns = [*first, *[c for c in shown.columns if c not in first]]
    return write_atomic(out, lambda tmp: csv_safe(shown[columns]).to_csv(tmp, index=False, float_format="%.6g"))


def with_interval(row: pd.Series, key: str) -> str:
    """``0.761 [0.74, 0.78]`` (the value to three decimals, its 95% interval to two), or the value alone."""
    value, low, high = row.get(key), row.get(f"{key}_low"), row.get(f"{key}_high")
    text = format_number(value)
    if value is None or pd.isna(value) or low is None or high is None or pd.isna(low) or pd.isna(high):
        return text
    return f"{text} [{low:.2f}, {high:.2f}]"


def tied(rows: pd.DataFrame) -> dict[Any, bool]:
    """Per row (index): whether its rank interval overlaps another row's (n/a intervals overlap nothing)."""
    known = rows.dropna(subset=["rank_low", "rank_high"])
    return {
        i: any(
            j != i and known.at[j, "rank_low"] <= known.at[i, "rank_high"] and known.at[i, "rank_low"] <= known.at[j, "rank_high"]
            for j in known.index
        )
        for i in rows.index
        if i in known.index
    }


def consistency_note(rows: pd.DataFrame) -> str:
    """The sentence that says where a group's borrowed consistency comes from ("" when every row has its own)."""
    sources = sorted({str(s) for s in rows.get("consistency_from", pd.Series(dtype=str)).fillna("") if s})
    if not sources:
        return ""
    return (
        "Consistency and paired consistency: these questions ask each fact in one wording, so both come from the same model, "
        f"prompt and settings on {'; '.join(sources)} (every fact in several wordings)."
    )


def _markdown_cell(row: pd.Series, key: str, best: float | None = None) -> str:
    """The value (escaped like every cell) and its interval, ``0.761 [0.74, 0.78]``: numbers only, so the
    brackets stay plain (they link nothing without a following ``(...)``)."""
    value = markdown_text(format_number(row.get(key)))
    text = with_interval(row, key).replace(format_number(row.get(key)), value, 1)
    return f"**{text}**" if _is_best(row.get(key), best) else text


def _shown(rows: pd.DataFrame, names: tuple[str, ...]) -> list[str]:
    return [m for m in names if m in rows and rows[m].notna().any()]


def _markdown_table(title: str, rows: pd.DataFrame, keys: list[tuple[str, str]], best: dict[str, float] | None = None) -> list[str]:
    """One table of rows (labelled by rank and row label) and the columns ``keys`` (heading, column), with intervals."""
    if not keys:
        return []
    lines = [
        "",
        title,
        "",
        "| rank. model · prompt · dtype | " + " | ".join(markdown_text(h) for h, _ in keys) + " |",
        "|---|" + "---:|" * len(keys),
    ]
    for _, row in rows.iterrows():
        cells = [_markdown_cell(row, key, (best or {}).get(key)) for _, key in keys]
        label = markdown_text(f"{row['rank']}. {row_label(row)}")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines


def _markdown_significance(rows: pd.DataFrame, matrix: Matrix | None) -> list[str]:
    if matrix is None or len(matrix.rows) < 2 or np.isnan(matrix.p).all():
        return []
    ranks = [str(rows.loc[i, "rank"]) for i in matrix.rows]
    lines = [
        "",
        f"Significance (exact McNemar on the pairs both rows scored, Holm-corrected across the board, p < {SIGNIFICANCE_LEVEL}): "
        "▲ the row beats the column's row, ▼ it loses, · no significant difference.",
        "",
        "| rank | " + " | ".join(ranks) + " |",
        "|---|" + ":---:|" * len(ranks),
    ]
    for x, index in enumerate(matrix.rows):
        marks = ["" if np.isnan(p) else ("▲" if d > 0 else "▼") if p < SIGNIFICANCE_LEVEL else "·" for p, d in zip(matrix.p[x], matrix.delta[x])]
        lines.append(f"| {rows.loc[index, 'rank']}. | " + " | ".join(marks) + " |")
    return lines


def markdown(table: pd.DataFrame, out_dir: Path, command: str | None) -> str:
    """The leaderboard as Markdown: one ranked table per group (every score with its 95% interval, each row's
    rank interval), its significance matrix, bias and calibration, then the breakdowns."""
    lines = ["# fk-bench leaderboard", ""]
    if command:
        lines += ["Regenerate with:", "", *markdown_code_block(command), ""]
    lines += [
        "Ranked by paired accuracy, then accuracy; **bold** = best in its column. "
        "Rows scored on different questions are in separate groups and never ranked together. "
        f"{INTERVALS_NOTE} ≈ marks a rank interval that overlaps another row's: those rows are tied.",
        "",
    ]
    groups, matrices = _groups(table), significance(table)
    for group, rows in groups:
        best = best_values(rows)
        varying, constant = _settings_columns(rows)
        metrics = _shown(rows, BOARD_METRICS)
        ties = tied(rows)
        lines += [f"## {markdown_text(_group_title(group, rows, len(groups)))}", ""]
        if constant:
            lines += ["Every row: " + ", ".join(f"{name} {markdown_text(value)}" for name, value in constant.items()) + ".", ""]
        linked = rows["report"].notna().any()
        header = ["#", "rank 95%", "model", "prompt", "dtype", *varying, "n", *metrics, "n_pass_filter", *(["report"] if linked else [])]
        numeric = ("#", "rank 95%", "n", *metrics, "n_pass_filter")
        lines += ["| " + " | ".join(header) + " |", "|" + "|".join("---:" if h in numeric else "---" for h in header) + "|"]
        for index, row in rows.iterrows():
            link = path_url(relative_link(row["report"], out_dir))
            cells = [
                markdown_text(row["rank"]),
                rank_text(row) + (" ≈" if ties.get(index) else ""),
                markdown_text(row["model"]),
                markdown_text(prompt_label(row)),
                markdown_text(row["dtype"]),
                *[markdown_text(row[name]) for name in varying],
                f"{int(row['n']):,}",
                *[_markdown_cell(row, m, best.get(m)) for m in metrics],
                markdown_text(format_number(row["n_pass_filter"], 0)),
                *([f"[report]({link})" if link else ""] if linked else []),
            ]
            lines.append("| " + " | ".join(cells) + " |")
        if note := consistency_note(rows):
            lines += ["", markdown_text(note)]
        lines += _markdown_significance(rows, matrices.get(group))
        lines += _markdown_table("Bias and calibration:", rows, [(SHORT_NAMES.get(m, m), m) for m in _shown(rows, CALIBRATION_METRICS)], best)
        names = [r for r in relations(table) if rows[f"paired_accuracy[{r}]"].notna().any()] if relations(table) else []
        lines += _markdown_table("Paired accuracy per relation:", rows, [(r, f"paired_accuracy[{r}]") for r in names])
        mde = [rows[f"paired_accuracy_mde[{r}]"].dropna() for r in names if f"paired_accuracy_mde[{r}]" in rows]
        if names and len(mde) == len(names) and all(len(m) for m in mde):
            lines += [
                "",
                "Smallest paired-accuracy difference each relation can detect (two-sided 5%, 80% power): "
                + ", ".join(f"{markdown_text(r)} {m.iloc[0]:.2f}" for r, m in zip(names, mde))
                + ".",
            ]
        for title, keys in (
            ("Paired accuracy per domain:", [(d, f"paired_accuracy[domain:{d}]") for d in domains(table)]),
            (
                "Paired accuracy by popularity tercile (within each relation):",
                [(b, f"paired_accuracy[popularity:{b}]") for b in popularity_bins(table)],
            ),
        ):
            lines += _markdown_table(title, rows, [(name, key) for name, key in keys if rows[key].notna().any()])
        threshold = rows["filter_threshold"].iloc[0]
        lines += ["", f"n_pass_filter: correct with prob_diff >= {format_number(threshold, 2)}.", ""]
    return "\n".join(lines)


def render(table: pd.DataFrame, out: str | Path, command: str | None = None) -> Path:
    """Write ``table`` as Markdown, CSV or HTML, chosen by ``out``'s suffix; links are relative to ``out``."""
    out = check_suffix(out)
    if table.empty:
        raise FkBenchError(f"{out}: no rows to write")
    if out.suffix == ".csv":
        return _csv(table, out)
    from fk_bench.leaderboard.page import html

    text = markdown(table, out.parent, command) if out.suffix == ".md" else html(table, out.parent, command)
    return write_text_atomic(out, text)


def render_all(table: pd.DataFrame, out_dir: str | Path, command: str | None = None, stem: str = "leaderboard") -> list[Path]:
    """``<out_dir>/leaderboard.md``, ``.csv`` and ``.html`` from the same rows."""
    return [render(table, Path(out_dir) / f"{stem}{suffix}", command) for suffix in SUFFIXES]
