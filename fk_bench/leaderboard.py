"""Leaderboard: one row per model and setting from ``fk-bench eval`` and ``lm_eval`` result files.

Reads ``results.json`` written by fk-bench and ``results_*.json`` written by lm-eval (metrics keyed
like ``acc,none``; per-relation accuracy from the ``fk_yesno_<relation>`` subtasks). A broken or
foreign JSON is skipped with a warning naming it; the rest render, sorted by log_odds.
"""

from __future__ import annotations

import html
import json
import math
import warnings
from pathlib import Path
from typing import Iterable

import pandas as pd

from fk_bench.errors import FkBenchError
from fk_bench.files import write_atomic, write_text_atomic
from fk_bench.metrics import DEFAULT_FILTER_THRESHOLD

COLUMNS = ["model", "setting", "n", "accuracy", "logit_diff", "prob_diff", "log_odds", "brier", "ece", "n_pass_filter"]
LM_EVAL_METRICS = {"accuracy": "acc", "logit_diff": "logit_diff", "prob_diff": "prob_diff", "log_odds": "log_odds", "brier": "brier", "ece": "ece"}
TASK_PREFIX = "fk_yesno"


def _report_link(folder: Path) -> str | None:
    report = folder / "report.html"
    return str(report) if report.exists() else None


def _row_from_fk_bench(path: Path, data: dict) -> dict:
    summary = data["summary"]
    row = {
        "model": data["model"]["name"],
        "setting": f"fk-bench {data['prompt_format']}",
        "n": summary["n_questions"],
        **{name: summary[name] for name in ("accuracy", "logit_diff", "prob_diff", "log_odds", "brier", "ece", "n_pass_filter")},
        "report": _report_link(path.parent),
        "source": str(path),
    }
    for relation, stats in sorted(data.get("per_relation", {}).items()):
        row[f"acc[{relation}]"] = stats["accuracy"]
    return row


def _count_passing(path: Path, task: str, threshold: float) -> int | None:
    """lm-eval writes no filter count; recount it from --log_samples output when present."""
    files = sorted(path.parent.glob(f"samples_{task}_*.jsonl"))
    if not files:
        return None
    samples = [json.loads(line) for line in files[-1].read_text().splitlines() if line.strip()]
    return sum(1 for s in samples if s["acc"] > 0 and s["prob_diff"] >= threshold)


def _row_from_lm_eval(path: Path, data: dict, threshold: float) -> dict:
    results = data["results"]
    tasks = [name for name in results if name.startswith(TASK_PREFIX)]
    if not tasks:
        raise KeyError(f"no {TASK_PREFIX} task in results")
    main = TASK_PREFIX if TASK_PREFIX in results else sorted(tasks)[0]
    metrics = results[main]
    model_args = str(data.get("config", {}).get("model_args", ""))
    pretrained = dict(part.split("=", 1) for part in model_args.split(",") if "=" in part).get("pretrained", "")
    name = data.get("model_name") or pretrained or "unknown"
    n_samples = data.get("n-samples", {})
    n = sum(v.get("effective", 0) for k, v in n_samples.items() if k == main or (main == TASK_PREFIX and k.startswith(TASK_PREFIX + "_")))
    row = {
        "model": Path(str(name).rstrip("/")).name,
        "setting": f"lm-eval {main}",
        "n": n,
        **{ours: metrics.get(f"{theirs},none", math.nan) for ours, theirs in LM_EVAL_METRICS.items()},
        "n_pass_filter": None if main == TASK_PREFIX else _count_passing(path, main, threshold),
        "report": _report_link(path.parent),
        "source": str(path),
    }
    for task in sorted(tasks):
        relation = task[len(TASK_PREFIX) + 1:]
        if relation and relation not in ("fewshot",) and main == TASK_PREFIX:
            row[f"acc[{relation}]"] = results[task].get("acc,none", math.nan)
    return row


def _result_files(paths: Iterable[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(p for p in path.rglob("*.json") if p.name == "results.json" or p.name.startswith("results_"))
        elif path.exists():
            files.append(path)
        else:
            warnings.warn(f"{path}: no such file or folder, skipped", stacklevel=2)
    return files


def collect_rows(paths: Iterable[str | Path], threshold: float = DEFAULT_FILTER_THRESHOLD) -> pd.DataFrame:
    """Rows for every readable result under ``paths``, best log_odds first, each linked to its model's
    interp report when one lies beside the result or under any of ``paths``."""
    paths = list(paths)
    rows = []
    for path in _result_files(Path(p) for p in paths):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if "fk_bench_version" in data:
                rows.append(_row_from_fk_bench(path, data))
            elif "results" in data:
                rows.append(_row_from_lm_eval(path, data, threshold))
            else:
                raise KeyError("neither an fk-bench nor an lm-eval result")
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError, ValueError) as err:
            warnings.warn(f"{path}: skipped, not a readable fk-bench or lm-eval result ({type(err).__name__}: {err})", stacklevel=2)
    if not rows:
        raise FkBenchError("leaderboard: no readable results among the given paths")
    # `fk-bench report --out DIR` writes DIR/<model-name>/report.html: link it wherever it was given.
    reports = {report.parent.name: str(report) for path in map(Path, paths) if path.is_dir() for report in sorted(path.rglob("report.html"))}
    for row in rows:
        row["report"] = row["report"] or reports.get(row["model"])
    table = pd.DataFrame(rows)
    relation_columns = sorted(c for c in table.columns if c.startswith("acc["))
    table = table[COLUMNS + relation_columns + ["report", "source"]]
    return table.sort_values("log_odds", ascending=False, kind="stable").reset_index(drop=True)


def render(table: pd.DataFrame, out: str | Path) -> Path:
    """Write the table as Markdown, CSV or HTML, chosen by ``out``'s suffix."""
    out = Path(out)
    if out.suffix not in (".csv", ".md", ".html"):
        raise FkBenchError(f"{out}: leaderboard output must end in .md, .csv or .html")
    shown = table.drop(columns=["source"])
    if out.suffix == ".csv":
        return write_atomic(out, lambda tmp: table.to_csv(tmp, index=False))
    if out.suffix == ".md":
        shown = shown.assign(report=[f"[report]({r})" if isinstance(r, str) else "" for r in shown["report"]])
        return write_text_atomic(out, shown.to_markdown(index=False, floatfmt=".3f") + "\n")
    shown = shown.assign(report=[f'<a href="{html.escape(r)}">report</a>' if isinstance(r, str) else "" for r in shown["report"]])
    body = shown.to_html(index=False, escape=False, float_format=lambda v: f"{v:.3f}", na_rep="")
    page = f"<!doctype html><html><head><meta charset='utf-8'><title>fk-bench leaderboard</title></head><body><h1>fk-bench leaderboard</h1>{body}</body></html>\n"
    return write_text_atomic(out, page)
