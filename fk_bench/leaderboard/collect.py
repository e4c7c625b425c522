"""Read fk-bench (``results.json``) and lm-eval (``results_*.json``) result files into leaderboard rows.

One row per result (per task or group of an lm-eval run): the model, every setting that changes a
number (prompt format and k, dtype, device, dataset and its slice, answer map), the metrics of
:data:`fk_bench.metrics.METRICS` and, per relation, paired accuracy and accuracy. Rows that were scored
on different questions (another dataset or version, config, split, relation, slice or answer map) are
put in different *groups*: each group is ranked on its own and never beside another (see
:data:`GROUP_SETTINGS`).

fk-bench files are read by :func:`fk_bench.results.read_results`, the one reader of results (strict
JSON, every figure recomputed from the per-question rows); lm-eval files are read by
:mod:`fk_bench.leaderboard.lm_eval_rows`. One bad file never takes the others down: a file that is not
JSON, not UTF-8, huge, nested too deep, of an unknown schema version, out of range, or not a file is
skipped with one warning line naming it and why (``strict``: an error). Staging folders of unfinished
writes are never read. A row links an interp report only when the report's recorded run spec is the row's.
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
from fk_bench.files import is_staging, read_json
from fk_bench.leaderboard.columns import NA, RELATION_METRICS, breakdown_columns, number, slice_label, text
from fk_bench.leaderboard.lm_eval_rows import TASK_PREFIX, rows_from_lm_eval
from fk_bench.leaderboard.uncertainty import CALIBRATION_COLUMNS, complete_rows, interval_columns, row_statistics
from fk_bench.metrics import METRICS, POPULARITY_BINS, passes_filter
from fk_bench.prompt_formats import prompt_label as format_label
from fk_bench.results import RESULTS_FILE, RunResult, read_results
from fk_bench.spec import DEFAULT_FILTER_THRESHOLD, RunSpec

SORT_METRICS = ("paired_accuracy", "accuracy")
"""Default ranking: paired accuracy (a yes-bias cannot fake it), then accuracy."""

DISPLAY_METRICS = ("paired_accuracy", "accuracy", "yes_rate", "auroc") + tuple(
    name for name in METRICS if name not in ("paired_accuracy", "accuracy", "yes_rate", "auroc")
)
"""Every metric of the registry, in the leaderboard's column order: yes_rate beside accuracy."""

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
    "consistency_from",
)
__all__ = ["NA", "RELATION_METRICS", "TASK_PREFIX", "collect_rows", "data_label", "domains", "popularity_bins", "prompt_label", "relations"]


# ---------------------------------------------------------------- fk-bench results.json


def spec_key(spec: RunSpec) -> str:
    """A run spec as one comparable string (a row's and a report's spec are the same run when these are equal)."""
    return json.dumps(spec.model_dump(mode="json"), sort_keys=True)


def _row_from_fk_bench(path: Path, result: RunResult, threshold: float) -> dict[str, Any]:
    spec, dataset, summary = result.spec, result.spec.dataset, result.summary.model_dump()
    return {
        "model": result.model.name,
        "harness": "fk-bench",
        "prompt_format": spec.prompt_format,
        "fewshot_k": "" if spec.fewshot_k is None else str(spec.fewshot_k),
        "dtype": spec.dtype,
        "device": spec.device,
        "dataset": dataset.id,
        "version": text(dataset.version),
        "config": text(dataset.config),
        "split": text(dataset.split),
        "relation": text(dataset.relation, "all"),
        "limit": slice_label(dataset.limit, dataset.limit_per_relation),
        "answer_map": text(spec.answer_map),
        "n": summary["n_questions"],
        **{name: number(summary.get(name)) for name in DISPLAY_METRICS},
        "n_pairs": float(summary["n_pairs"]),
        "n_pass_filter": float(passes_filter(result.frame, threshold).sum()),
        "filter_threshold": threshold,
        "questions_per_second": number(result.scoring.questions_per_second),
        "batch_size": str(result.scoring.batch_size),
        **breakdown_columns(
            {k: v.model_dump() for k, v in result.per_relation.items()},
            {k: v.model_dump() for k, v in result.per_domain.items()},
            {k: v.model_dump() for k, v in result.by_popularity.items()},
        ),
        "report": None,
        "run_spec": spec_key(spec),
        "source": str(path),
        **row_statistics(result),
    }


# ---------------------------------------------------------------- finding and grouping


class _Skips:
    """Files left out, each said once in one line (a warning), or, ``strict``, the first one an error."""

    def __init__(self, strict: bool) -> None:
        self.strict = strict

    def __call__(self, path: Path | str, why: str) -> None:
        message = f"{path}: skipped, {why}"
        if self.strict:
            raise FkBenchError(f"{message} (--strict)")
        warnings.warn(message, stacklevel=3)


def _is_result_name(name: str) -> bool:
    return name == RESULTS_FILE or (name.startswith("results_") and name.endswith(".json"))


def _result_files(paths: Iterable[Path], skip: _Skips) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if is_staging(path.absolute()):
            skip(path, "a staging folder of an unfinished or killed write (never read)")
        elif path.is_dir():
            for candidate in sorted(p for p in path.rglob("results*.json") if _is_result_name(p.name) and not is_staging(p.relative_to(path))):
                if candidate.is_file():
                    files.append(candidate)
                else:
                    skip(candidate, "a folder or special file named like a result file")
        elif path.is_file():
            files.append(path)
        elif path.exists():
            skip(path, "neither a file nor a folder (a FIFO or device?)")
        else:
            skip(path, "no such file or folder")
    return files


def _read_rows(path: Path, threshold: float, skip: _Skips) -> list[dict[str, Any]]:
    """The rows of one result file, or none (said by ``skip``) when it is not a readable, sound result."""
    try:
        if path.name == RESULTS_FILE:
            return [_row_from_fk_bench(path, read_results(path), threshold)]
        data = read_json(path, "lm-eval results file", allow_nan=True)
        if isinstance(data, dict) and "results" in data and "fk_bench_version" not in data:
            return rows_from_lm_eval(path, data, threshold)
        return [_row_from_fk_bench(path, read_results(path), threshold)]
    except FkBenchError as err:  # the readers name the file first: say it once
        skip(path, re.sub(rf"^(\w[\w -]* )?{re.escape(str(path))}: ", "", str(err)))
    except (OSError, KeyError, TypeError, AttributeError, ValueError, RecursionError) as err:
        skip(path, f"not a readable fk-bench or lm-eval result ({type(err).__name__}: {err})")
    return []


def _report_specs(folders: Iterable[Path], skip: _Skips) -> dict[str, str]:
    """Interp reports under ``folders`` by the run spec they record (report.json ``run.spec``): spec key -> report.html."""
    found: dict[str, str] = {}
    for folder in folders:
        for page in sorted(folder.rglob("report.html")):
            if is_staging(page.relative_to(folder)) or not page.is_file() or str(page) in found.values():
                continue
            if not page.with_name("report.json").is_file():
                warnings.warn(f"{page}: not linked, no report.json beside it tells its run spec (an older fk-bench report? rerun it)", stacklevel=3)
                continue
            try:
                spec = ((read_json(page.with_name("report.json"), "interp report") or {}).get("run") or {}).get("spec")
                if spec is None:
                    raise FkBenchError("its report.json records no run spec (made by an older fk-bench report; rerun it)")
                found.setdefault(spec_key(RunSpec.model_validate(spec)), str(page))
            except (FkBenchError, AttributeError, ValueError) as err:
                warnings.warn(f"{page}: not linked, {str(err).splitlines()[0]}", stacklevel=3)
    return found


def group_key(row: dict[str, Any] | pd.Series) -> tuple[str | int, ...]:
    """The settings that must be equal for two rows to be ranked together."""
    return tuple(str(row[name]) for name in GROUP_SETTINGS) + (int(row["n"]),)


def _rank(table: pd.DataFrame) -> pd.DataFrame:
    """Best first by :data:`SORT_METRICS` (n/a last), ties by model name so the order is stable."""
    keys = [-table[m].fillna(-math.inf) for m in SORT_METRICS]
    order = np.lexsort([table["model"].to_numpy(), table["prompt_format"].to_numpy(), *reversed([k.to_numpy() for k in keys])])
    return table.iloc[order]


def collect_rows(
    paths: Iterable[str | Path], threshold: float = DEFAULT_FILTER_THRESHOLD, reports: Iterable[str | Path] = (), strict: bool = False
) -> pd.DataFrame:
    """Rows for every readable result under ``paths``, grouped by the questions they were scored on
    (``group`` 1 is the largest group), ranked inside each group by paired accuracy then accuracy.

    A file that cannot be read or is not sound is skipped with one warning line (``strict``: an
    FkBenchError); no readable result at all is an FkBenchError. Each fk-bench row links the interp report,
    beside the result or under any folder of ``paths`` or ``reports``, that records the row's run spec.
    The same model, prompt format and settings found twice keeps the first file, with a warning naming both.
    """
    skip = _Skips(strict)
    given = [Path(p) for p in paths]
    rows = [row for path in _result_files(given, skip) for row in _read_rows(path, threshold, skip)]
    if not rows:
        raise FkBenchError("leaderboard: no readable results among the given paths (see the warnings above)")
    folders = list(dict.fromkeys(path for path in [*given, *map(Path, reports), *(Path(r["source"]).parent for r in rows)] if path.is_dir()))
    reports_by_spec = _report_specs(folders, skip)
    kept: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        row["report"] = reports_by_spec.get(row["run_spec"]) if row["run_spec"] else None
        identity = tuple(row[name] for name in ROW_SETTINGS) + group_key(row)
        if identity in kept:
            skip(row["source"], f"same model and settings as {kept[identity]['source']}")
            continue
        kept[identity] = row
    table = pd.DataFrame(list(kept.values()))
    keys = table.apply(group_key, axis=1)
    sizes = keys.value_counts()
    order = sorted(sizes.index, key=lambda key: (-sizes[key], key))
    table["group"] = keys.map({key: index + 1 for index, key in enumerate(order)})
    ranked = pd.concat([_rank(part) for _, part in table.groupby("group", sort=True)])
    ranked["rank"] = ranked.groupby("group").cumcount() + 1
    ranked = _borrow_consistency(complete_rows(ranked))
    relation_columns = sorted(c for c in ranked.columns if "[" in c)
    return ranked[[*COLUMNS, *relation_columns, "report", "source", "evidence"]].reset_index(drop=True)


CONSISTENCY_COLUMNS = tuple(f"{name}{end}" for name in ("consistency", "paired_consistency") for end in ("", "_low", "_high"))
COMPANION_SETTINGS = (*ROW_SETTINGS, "dataset", "version", "split", "relation", "answer_map")
"""What a row without paraphrases shares with the paraphrase run whose consistency it shows: the same model,
prompt and settings on another slice of the same dataset version (the zoo's full split and paraphrase slice)."""


def _borrow_consistency(table: pd.DataFrame) -> pd.DataFrame:
    """Consistency for rows scored on one wording per fact (the zoo's full test split), taken from the run of
    the same model and settings on the paraphrase config of the same dataset version, with ``consistency_from``
    naming that run's questions. A row with its own consistency, or with no such run, keeps what it has."""
    table = table.assign(consistency_from="")
    own = table["consistency"].notna()
    donors = table[own & (table["config"] == "paraphrase")]
    for index, row in table[~own].iterrows():
        match = donors[(donors[list(COMPANION_SETTINGS)] == row[list(COMPANION_SETTINGS)]).all(axis=1)]
        if len(match):
            donor = match.iloc[0]
            table.loc[index, list(CONSISTENCY_COLUMNS)] = donor[list(CONSISTENCY_COLUMNS)].to_numpy()
            table.loc[index, "consistency_from"] = f"{data_label(donor)}, {int(donor['n']):,} questions"
    return table


def prompt_label(row: dict[str, Any] | pd.Series) -> str:
    """``plain``, ``fewshot (k=4)`` or ``chat``."""
    fmt, k = row["prompt_format"], row["fewshot_k"]
    return format_label(str(fmt), None if k == NA else k)


def data_label(row: dict[str, Any] | pd.Series) -> str:
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
