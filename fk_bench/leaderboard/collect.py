"""Read fk-bench (``results.json``) and lm-eval (``results_*.json``) result files into leaderboard rows.

One row per result: the model, every setting that changes a number (prompt format and k, dtype,
device, dataset and its slice, answer map), the metrics of :data:`fk_bench.metrics.METRICS` and, per
relation, paired accuracy and accuracy. Rows that were scored on different questions (another dataset,
config, split, relation, slice or answer map) are put in different *groups*: each group is ranked on
its own and never beside another (see :data:`GROUP_SETTINGS`).

fk-bench files are read by :func:`fk_bench.results.read_results`, the one reader of results (which
upgrades version-1 files and refuses any number outside its range); lm-eval files are checked against
the same metric ranges here. A file that is not JSON, not a result, out of range, or not a file is
skipped with a warning naming it, never ranked. Staging folders of interrupted writes are not searched.
"""

from __future__ import annotations

import json
import math
import os
import re
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fk_bench.errors import FkBenchError
from fk_bench.files import is_staging
from fk_bench.leaderboard.uncertainty import CALIBRATION_COLUMNS, complete_rows, interval_columns, row_statistics
from fk_bench.metrics import METRICS, POPULARITY_BINS, passes_filter
from fk_bench.results import RunResult, read_results
from fk_bench.spec import DEFAULT_CONFIG, DEFAULT_FILTER_THRESHOLD, PACKAGED_DATASET
from fk_bench.task_plugin import lm_eval_name

TASK_PREFIX = "fk_yesno"

SORT_METRICS = ("paired_accuracy", "accuracy")
"""Default ranking: paired accuracy (a yes-bias cannot fake it), then accuracy."""

DISPLAY_METRICS = ("paired_accuracy", "accuracy", "yes_rate", "auroc") + tuple(
    name for name in METRICS if name not in ("paired_accuracy", "accuracy", "yes_rate", "auroc")
)
"""Every metric of the registry, in the leaderboard's column order: yes_rate beside accuracy."""

RELATION_METRICS = ("paired_accuracy", "accuracy")
"""Per-relation columns, ``<metric>[<relation>]``."""

ROW_SETTINGS = ("model", "harness", "prompt_format", "fewshot_k", "dtype", "device")
"""What tells rows of one group apart (each row is one model under one prompt format and dtype)."""

GROUP_SETTINGS = ("dataset", "version", "config", "split", "relation", "limit", "answer_map")
"""What must be equal for rows to be ranked together: they were scored on the same questions (the same
dataset at the same version) with the same answer words. The number of questions ``n`` is part of the key too."""

COLUMNS = (
    "group",
    "rank",
    "rank_low",
    "rank_high",
    *ROW_SETTINGS,
    *GROUP_SETTINGS,
    "n",
    *interval_columns(DISPLAY_METRICS),
    *CALIBRATION_COLUMNS,
    "n_pairs",
    "n_pass_filter",
    "filter_threshold",
    "questions_per_second",
    "batch_size",
)
NA = "n/a"


def _number(value: Any) -> float:
    """A metric as a float; missing, null or non-numeric -> NaN (shown as n/a)."""
    if value is None or isinstance(value, bool):
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _text(value: Any, default: str = NA) -> str:
    return default if value is None or value == "" else str(value)


def _slice_label(limit: Any, per_relation: bool) -> str:
    """``all``, ``first 100`` or ``first 100 per relation``."""
    if limit is None or limit == "":
        return "all"
    if isinstance(limit, float) and limit.is_integer():
        limit = int(limit)
    return f"first {limit} per relation" if per_relation else f"first {limit}"


def _breakdown_columns(per_relation: dict[str, Any], per_domain: dict[str, Any], by_popularity: dict[str, Any]) -> dict[str, float]:
    """``<metric>[<relation>]``, ``<metric>[domain:<domain>]`` and ``paired_accuracy[popularity:<tercile>]`` columns."""
    columns = {f"{metric}[{name}]": _number(stats.get(metric)) for name, stats in sorted(per_relation.items()) for metric in RELATION_METRICS}
    columns.update(
        {f"{metric}[domain:{name}]": _number(stats.get(metric)) for name, stats in sorted(per_domain.items()) for metric in RELATION_METRICS}
    )
    columns.update({f"paired_accuracy[popularity:{name}]": _number(stats.get("paired_accuracy")) for name, stats in by_popularity.items()})
    return columns


def _find_report(folder: Path) -> str | None:
    report = folder / "report.html"
    return str(report) if report.is_file() else None


# ---------------------------------------------------------------- fk-bench results.json


def _row_from_fk_bench(path: Path, result: RunResult, threshold: float) -> dict:
    spec, dataset, summary = result.spec, result.spec.dataset, result.summary.model_dump()
    return {
        "model": result.model.name,
        "harness": "fk-bench",
        "prompt_format": spec.prompt_format,
        "fewshot_k": "" if spec.fewshot_k is None else str(spec.fewshot_k),
        "dtype": spec.dtype,
        "device": spec.device,
        "dataset": dataset.id,
        "version": _text(dataset.version),
        "config": _text(dataset.config),
        "split": _text(dataset.split),
        "relation": _text(dataset.relation, "all"),
        "limit": _slice_label(dataset.limit, dataset.limit_per_relation),
        "answer_map": _text(spec.answer_map),
        "n": summary["n_questions"],
        **{name: _number(summary.get(name)) for name in DISPLAY_METRICS},
        "n_pairs": float(summary["n_pairs"]),
        "n_pass_filter": float(passes_filter(result.frame, threshold).sum()),
        "filter_threshold": threshold,
        "questions_per_second": _number(result.scoring.questions_per_second),
        "batch_size": str(result.scoring.batch_size),
        **_breakdown_columns(
            {k: v.model_dump() for k, v in result.per_relation.items()},
            {k: v.model_dump() for k, v in result.per_domain.items()},
            {k: v.model_dump() for k, v in result.by_popularity.items()},
        ),
        "report": _find_report(path.parent),
        "source": str(path),
        **row_statistics(result),
    }


# ---------------------------------------------------------------- lm-eval results_<date>.json


def _lm_eval_number(value: Any, where: str, low: float | None = None, high: float | None = None) -> float:
    """A number from an lm-eval file: NaN for absent or null (n/a); ValueError for text, booleans,
    infinities and values outside ``[low, high]`` (the file is skipped, never ranked)."""
    if value is None:
        return math.nan
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{where} is {value!r}, not a number")
    value = float(value)
    if math.isinf(value) or (not math.isnan(value) and ((low is not None and value < low) or (high is not None and value > high))):
        raise ValueError(f"{where} is {value}, outside [{low}, {high}]")
    return value


def _lm_eval_metric(metrics: dict, name: str, task: str) -> float:
    bounds = METRICS[name].bounds or (None, None)
    key = f"{lm_eval_name(name)},none"
    return _lm_eval_number(metrics.get(key), f"results.{task}.{key}", *bounds)


def _lm_eval_dataset_version(data: dict, tasks: list[str]) -> str:
    """The dataset version the task YAML recorded (``metadata.dataset_version``), from the first task that has one."""
    configs = data.get("configs") or {}
    for task in tasks:
        version = ((configs.get(task) or {}).get("metadata") or {}).get("dataset_version")
        if version is not None:
            return str(version)
    return NA


def _lm_eval_seconds(data: dict) -> float:
    """lm-eval writes its total time as text: a positive finite number of seconds, else n/a."""
    try:
        seconds = float(data.get("total_evaluation_time_seconds") or "nan")
    except (TypeError, ValueError):
        return math.nan
    return seconds if math.isfinite(seconds) and seconds > 0 else math.nan


def _model_args(config: dict) -> dict:
    args = config.get("model_args") or {}
    if isinstance(args, dict):
        return args
    return dict(part.split("=", 1) for part in str(args).split(",") if "=" in part)


def _samples(path: Path, task: str) -> list[dict] | None:
    """The ``--log_samples`` records of ``task`` written by the same run as ``path`` (same timestamp)."""
    samples = path.parent / f"samples_{task}_{path.stem.removeprefix('results_')}.jsonl"
    if not samples.is_file():
        return None
    return [json.loads(line) for line in samples.read_text(encoding="utf-8").splitlines() if line.strip()]


def _recount_lm_eval(path: Path, tasks: list[str], threshold: float) -> float:
    """lm-eval writes no filter count: recount it from the samples of every task, when the same run
    logged them all (``--log_samples``); otherwise n/a."""
    total = 0
    for task in tasks:
        samples = _samples(path, task)
        names = [lm_eval_name(name) for name in ("accuracy", "prob_diff")]
        if samples is None or not all(isinstance(s, dict) and all(n in s for n in names) for s in samples):
            return math.nan
        columns = {name: [s[lm_eval_name(name)] for s in samples] for name in ("accuracy", "prob_diff")}
        total += int(passes_filter(columns, threshold).sum())
    return float(total)


def _lm_eval_model_name(pretrained: str) -> str:
    """The name ``fk-bench eval`` gives the same model, so one model has one name in both harnesses: a
    cached zoo model's folder is named after it; another local folder gets its path-hashed name; a Hub
    id ``org/name`` becomes ``org__name``; a path that no longer exists, its folder name."""
    from fk_bench.models.cache import models_dir
    from fk_bench.models.loading import model_display_name

    path = Path(pretrained.rstrip("/")).expanduser()
    if path.is_dir():
        return path.name if path.resolve().parent == models_dir().resolve() else model_display_name(str(path))
    if path.is_absolute() or pretrained.startswith("."):
        return path.name
    return model_display_name(pretrained)


def _row_from_lm_eval(path: Path, data: dict, threshold: float) -> dict:
    results = data["results"]
    tasks = sorted(name for name in results if name.startswith(TASK_PREFIX))
    if not tasks:
        raise KeyError(f"no {TASK_PREFIX} task in results")
    main = TASK_PREFIX if TASK_PREFIX in results else tasks[0]
    subtasks = [t for t in tasks if t != TASK_PREFIX] if main == TASK_PREFIX else [main]
    config = data.get("config") or {}
    model_args = _model_args(config)
    name = data.get("model_name") or model_args.get("pretrained") or config.get("model") or "unknown"
    n_samples = data.get("n-samples") or {}
    n = int(sum(_lm_eval_number((n_samples.get(task) or {}).get("effective"), f"n-samples.{task}.effective", 0) for task in subtasks))
    if n < 1:
        raise ValueError("n-samples: no question was scored")
    # The group runs each relation's own task (config = relation): a limit applies per relation.
    per_relation = main == TASK_PREFIX
    relation = main[len(TASK_PREFIX) + 1 :] if main not in (TASK_PREFIX, f"{TASK_PREFIX}_fewshot") else "all"
    fewshot = (data.get("n-shot") or {}).get(main) or (data.get("configs") or {}).get(main, {}).get("num_fewshot") or 0
    chat = bool(data.get("chat_template") or data.get("chat_template_sha"))
    prompt_format = "chat" if chat else "fewshot" if fewshot else "plain"
    metrics = results[main]
    row = {
        "model": _lm_eval_model_name(str(name)),
        "harness": "lm-eval",
        "prompt_format": prompt_format,
        "fewshot_k": str(fewshot) if prompt_format == "fewshot" else "",
        "dtype": _text(model_args.get("dtype") or str(config.get("model_dtype") or "").removeprefix("torch.") or None),
        "device": _text(config.get("device")),
        "dataset": PACKAGED_DATASET,
        "version": _lm_eval_dataset_version(data, [main, *subtasks]),
        "config": DEFAULT_CONFIG if relation == "all" else relation,
        "split": "test",
        "relation": relation,
        "limit": _slice_label(config.get("limit"), per_relation),
        "answer_map": "default",
        "n": n,
        **{metric: _lm_eval_metric(metrics, metric, main) for metric in DISPLAY_METRICS},
        "batch_calibrated_accuracy": _lm_eval_number(
            metrics.get("batch_calibrated_accuracy,none"), f"results.{main}.batch_calibrated_accuracy", 0, 1
        ),
        "n_pairs": math.nan,
        "n_pass_filter": _recount_lm_eval(path, subtasks, threshold),
        "filter_threshold": threshold,
        "questions_per_second": n / _lm_eval_seconds(data),
        "batch_size": _text(config.get("batch_size")),
        "report": _find_report(path.parent),
        "source": str(path),
    }
    if main == TASK_PREFIX:
        per_task = {task[len(TASK_PREFIX) + 1 :]: {m: _lm_eval_metric(results[task], m, task) for m in RELATION_METRICS} for task in subtasks}
        row.update(_breakdown_columns(per_task, {}, {}))
    return row


# ---------------------------------------------------------------- finding and grouping


def _result_files(paths: Iterable[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(
                p for p in path.rglob("*.json") if (p.name == "results.json" or p.name.startswith("results_")) and not is_staging(p.relative_to(path))
            )
            for candidate in found:
                if candidate.is_file():
                    files.append(candidate)
                else:
                    warnings.warn(f"{candidate}: skipped, a folder named like a result file", stacklevel=3)
        elif path.is_file():
            files.append(path)
        elif path.exists():
            warnings.warn(f"{path}: skipped, neither a file nor a folder", stacklevel=3)
        else:
            warnings.warn(f"{path}: no such file or folder, skipped", stacklevel=3)
    return files


def _read_row(path: Path, threshold: float) -> dict | None:
    """The row of one result file, or None (with a warning naming it) when it is not a readable, sound result."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(data, dict) and "results" in data and "fk_bench_version" not in data:
            return _row_from_lm_eval(path, data, threshold)
        return _row_from_fk_bench(path, read_results(path), threshold)
    except FkBenchError as err:  # read_results names the file first: say it once
        warnings.warn(f"{path}: skipped, {str(err).removeprefix(f'{path}: ')}", stacklevel=3)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, AttributeError, ValueError) as err:
        warnings.warn(f"{path}: skipped, not a readable fk-bench or lm-eval result ({type(err).__name__}: {err})", stacklevel=3)
    return None


def group_key(row: dict | pd.Series) -> tuple:
    """The settings that must be equal for two rows to be ranked together."""
    return tuple(str(row[name]) for name in GROUP_SETTINGS) + (int(row["n"]),)


def _rank(table: pd.DataFrame) -> pd.DataFrame:
    """Best first by :data:`SORT_METRICS` (n/a last), ties by model name so the order is stable."""
    keys = [-table[m].fillna(-math.inf) for m in SORT_METRICS]
    order = np.lexsort([table["model"].to_numpy(), table["prompt_format"].to_numpy(), *reversed([k.to_numpy() for k in keys])])
    return table.iloc[order]


def collect_rows(paths: Iterable[str | Path], threshold: float = DEFAULT_FILTER_THRESHOLD, reports: Iterable[str | Path] = ()) -> pd.DataFrame:
    """Rows for every readable result under ``paths``, grouped by the questions they were scored on
    (``group`` 1 is the largest group), ranked inside each group by paired accuracy then accuracy.

    Each row links its model's interp report when one lies beside the result or, by model name, under
    any folder of ``paths`` or ``reports`` (``fk-bench report --out DIR`` writes ``DIR/<model-name>/report.html``). The same
    model, prompt format and settings found twice keeps the first file, with a warning naming both.
    """
    given = [Path(p) for p in paths]
    rows = [row for path in _result_files(given) if (row := _read_row(path, threshold)) is not None]
    if not rows:
        raise FkBenchError("leaderboard: no readable results among the given paths")
    folders = [path for path in [*given, *map(Path, reports)] if path.is_dir()]
    found = {report.parent.name: str(report) for folder in folders for report in sorted(folder.rglob("report.html")) if report.is_file()}
    kept: dict[tuple, dict] = {}
    for row in rows:
        row["report"] = row["report"] or found.get(row["model"])
        identity = tuple(row[name] for name in ROW_SETTINGS) + group_key(row)
        if identity in kept:
            warnings.warn(f"{row['source']}: skipped, same model and settings as {kept[identity]['source']}", stacklevel=2)
            continue
        kept[identity] = row
    table = pd.DataFrame(list(kept.values()))
    keys = table.apply(group_key, axis=1)
    sizes = keys.value_counts()
    order = sorted(sizes.index, key=lambda key: (-sizes[key], key))
    table["group"] = keys.map({key: index + 1 for index, key in enumerate(order)})
    ranked = pd.concat([_rank(part) for _, part in table.groupby("group", sort=True)])
    ranked["rank"] = ranked.groupby("group").cumcount() + 1
    ranked = complete_rows(ranked)
    relation_columns = sorted(c for c in ranked.columns if "[" in c)
    return ranked[[*COLUMNS, *relation_columns, "report", "source", "evidence"]].reset_index(drop=True)


def prompt_label(row: dict | pd.Series) -> str:
    """``plain``, ``fewshot (k=4)`` or ``chat``."""
    fmt, k = row["prompt_format"], row["fewshot_k"]
    return f"{fmt} (k={k})" if fmt == "fewshot" and k != NA else str(fmt)


def data_label(row: dict | pd.Series) -> str:
    """The questions a row was scored on, in one line: ``fk_yesno 2.0.0 · all · test · first 100 per relation``."""
    dataset = row["dataset"] if row["version"] in ("", NA) else f"{row['dataset']} {row['version']}"
    parts = [dataset, row["config"], row["split"]]
    if row["relation"] not in ("all", NA) and row["relation"] != row["config"]:
        parts.append(f"relation {row['relation']}")
    parts.append(row["limit"])
    if row["answer_map"] not in ("default", NA):
        parts.append(f"answer map {row['answer_map']}")
    return " · ".join(str(p) for p in parts)


def relative_link(target: str | None, out_dir: Path) -> str | None:
    """A link from a page written in ``out_dir`` to ``target``, relative so the folder can move."""
    if not isinstance(target, str) or not target:
        return None
    return Path(os.path.relpath(Path(target).resolve(), out_dir.resolve())).as_posix()


def relations(table: pd.DataFrame) -> list[str]:
    """The relations that have per-relation columns, sorted."""
    return sorted({m.group(1) for c in table.columns if (m := re.fullmatch(r"\w+\[([^:\]]+)\]", c))})


def domains(table: pd.DataFrame) -> list[str]:
    """The domains that have per-domain columns (``<metric>[domain:<name>]``), sorted."""
    return sorted({m.group(1) for c in table.columns if (m := re.fullmatch(r"\w+\[domain:(.+)\]", c))})


def popularity_bins(table: pd.DataFrame) -> list[str]:
    """The popularity terciles that have columns (``paired_accuracy[popularity:<bin>]``), low to high."""
    return [name for name in POPULARITY_BINS if f"paired_accuracy[popularity:{name}]" in table.columns]
