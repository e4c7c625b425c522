"""Leaderboard rows from lm-eval's ``results_<date>.json``: one row per fk_yesno task or group the run
scored (``--tasks fk_yesno,fk_yesno_paraphrase`` gives two rows, the group's with its per-relation columns).

Every figure is checked against its metric's range (a file with one out of range is skipped, never
ranked). The dataset and its version come from the task YAMLs' ``metadata`` (``dataset``,
``dataset_version``), so an lm-eval row groups with native rows of the same data. The device is the one
the run used: lm-eval records the device asked for (``cuda:0`` by default), and its HF model falls back
to the CPU where CUDA is not available; the file's environment report says which.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

from fk_bench.leaderboard.columns import NA, RELATION_METRICS, breakdown_columns, slice_label, text
from fk_bench.metrics import METRICS, passes_filter
from fk_bench.prompt_formats import PROMPT_FORMATS, from_lm_eval
from fk_bench.spec import DEFAULT_CONFIG, DEFAULT_SPLIT, PACKAGED_DATASET
from fk_bench.task_plugin import lm_eval_name

TASK_PREFIX = "fk_yesno"
STANDALONE = {f"{TASK_PREFIX}_paraphrase", f"{TASK_PREFIX}_fewshot", f"{TASK_PREFIX}_paris"}
"""Tasks that are never a member of the fk_yesno group (its members are the relation tasks)."""
MAX_SAMPLE_FILE_BYTES = 512 * 1024 * 1024


def lm_eval_number(value: Any, where: str, low: float | None = None, high: float | None = None) -> float:
    """A number from an lm-eval file: NaN for absent, null or NaN (n/a); ValueError for text, booleans,
    infinities and values outside ``[low, high]`` (the file is skipped, never ranked)."""
    if value is None:
        return math.nan
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{where} is {value!r}, not a number")
    number = float(value)
    if math.isinf(number) or (not math.isnan(number) and ((low is not None and number < low) or (high is not None and number > high))):
        raise ValueError(f"{where} is {number}, outside [{low}, {high}]")
    return number


def _metric(metrics: dict[str, Any], name: str, task: str) -> float:
    bounds = METRICS[name].bounds or (None, None)
    key = f"{lm_eval_name(name)},none"
    return lm_eval_number(metrics.get(key), f"results.{task}.{key}", *bounds)


def _seconds(data: dict[str, Any]) -> float:
    """lm-eval writes its total time as text: a positive finite number of seconds, else n/a."""
    try:
        seconds = float(data.get("total_evaluation_time_seconds") or "nan")
    except (TypeError, ValueError):
        return math.nan
    return seconds if math.isfinite(seconds) and seconds > 0 else math.nan


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def model_args(config: dict[str, Any]) -> dict[str, Any]:
    args = config.get("model_args") or {}
    if isinstance(args, dict):
        return args
    return dict(part.split("=", 1) for part in str(args).split(",") if "=" in part)


def device_used(config: dict[str, Any], env_info: Any) -> str:
    """The device the run used: the one asked for (``device=`` in model_args, else ``--device``), except that
    lm-eval's HF model runs on the CPU where CUDA is not available (its environment report says so);
    ``n/a`` when the file cannot tell (a CUDA device asked for and no environment report)."""
    asked = model_args(config).get("device") or config.get("device")
    cuda = re.search(r"Is CUDA available:\s*(True|False)", env_info) if isinstance(env_info, str) else None
    if asked in (None, ""):
        return NA if cuda is None else ("cuda" if cuda.group(1) == "True" else "cpu")
    asked = str(asked)
    if asked.startswith("cuda"):
        if cuda is None:
            return NA
        return asked if cuda.group(1) == "True" else "cpu"
    return asked


def _samples(path: Path, task: str) -> list[dict[str, Any]] | None:
    """The ``--log_samples`` records of ``task`` written by the same run as ``path`` (same timestamp)."""
    from fk_bench.files import loads_strict, read_text

    samples = path.parent / f"samples_{task}_{path.stem.removeprefix('results_')}.jsonl"
    if not samples.is_file() or samples.stat().st_size > MAX_SAMPLE_FILE_BYTES:
        return None
    text = read_text(samples, "lm-eval samples file")
    return [loads_strict(line, f"{samples}:{i + 1}", allow_nan=True) for i, line in enumerate(text.splitlines()) if line.strip()]


def _recount(path: Path, tasks: list[str], threshold: float) -> float:
    """lm-eval writes no filter count: recount it from the samples of every task, when the same run
    logged them all (``--log_samples``); otherwise n/a."""
    total = 0
    names = [lm_eval_name(name) for name in ("accuracy", "prob_diff")]
    for task in tasks:
        samples = _samples(path, task)
        if samples is None or not all(isinstance(s, dict) and all(n in s for n in names) for s in samples):
            return math.nan
        columns = {name: [s[lm_eval_name(name)] for s in samples] for name in ("accuracy", "prob_diff")}
        total += int(passes_filter(columns, threshold).sum())
    return float(total)


def _model_name(pretrained: str) -> str:
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


def units(data: dict[str, Any]) -> list[tuple[str, list[str]]]:
    """Each fk_yesno task or group the run scored at the top level, with the tasks it is made of. From
    lm-eval's ``group_subtasks`` where the file has it; else the ``fk_yesno`` group is every scored task
    but the standalone ones, and each other task stands alone."""
    results = _dict(data.get("results"))
    scored = [name for name in _dict(data.get("n-samples")) if name.startswith(TASK_PREFIX)]
    groups = {k: list(v) for k, v in _dict(data.get("group_subtasks")).items() if isinstance(v, list)}
    if groups:

        def leaves(name: str, seen: frozenset[str] = frozenset()) -> list[str]:
            members = groups.get(name) or []
            if not members or name in seen:
                return [name]
            return [leaf for member in members for leaf in leaves(member, seen | {name})]

        members = {member for subtasks in groups.values() for member in subtasks}
        alone = [name for name in scored if name not in members and name not in groups]  # tasks run on their own
        tops = [name for name in [*groups, *alone] if name.startswith(TASK_PREFIX) and name not in members and name in results]
        return [(name, leaves(name)) for name in sorted(tops)]
    found = []
    if TASK_PREFIX in results:
        found.append((TASK_PREFIX, sorted(t for t in scored if t not in STANDALONE and t != TASK_PREFIX)))
    found += [(name, [name]) for name in sorted(scored) if name in results and (name in STANDALONE or TASK_PREFIX not in results)]
    return found


def _task_config(data: dict[str, Any], task: str) -> dict[str, Any]:
    return _dict(_dict(data.get("configs")).get(task))


def _questions(data: dict[str, Any], unit: str, leaves: list[str]) -> dict[str, Any]:
    """Which questions a unit scored: the dataset and version (task metadata), config, relation, slice."""
    first = _task_config(data, leaves[0]) if leaves else {}
    metadata = _dict(first.get("metadata"))
    config = _dict(first.get("dataset_kwargs")).get("config")
    is_group = unit != leaves[0] if leaves else True
    if is_group:
        relation = "all" if unit == TASK_PREFIX else f"{unit[len(TASK_PREFIX) + 1 :]} relations"
        config = DEFAULT_CONFIG
    else:
        config = str(config or (DEFAULT_CONFIG if unit == f"{TASK_PREFIX}_fewshot" else unit[len(TASK_PREFIX) + 1 :]))
        relation = config if config not in (DEFAULT_CONFIG, "paraphrase") else "all"
    return {
        "dataset": text(metadata.get("dataset"), PACKAGED_DATASET),
        "version": text(metadata.get("dataset_version")),
        "config": config,
        "split": text(first.get("test_split"), DEFAULT_SPLIT),
        "relation": relation,
        "limit": slice_label(_dict(data.get("config")).get("limit"), is_group),
    }


def rows_from_lm_eval(path: Path, data: dict[str, Any], threshold: float) -> list[dict[str, Any]]:
    """One row per fk_yesno task or group of the run (:func:`units`); ValueError when the file holds none
    or a figure is out of its range."""
    results = _dict(data.get("results"))
    found = units(data)
    if not found:
        raise ValueError(f"no {TASK_PREFIX} task in results")
    config = _dict(data.get("config"))
    args = model_args(config)
    name = data.get("model_name") or args.get("pretrained") or config.get("model") or "unknown"
    n_samples = _dict(data.get("n-samples"))
    chat = bool(data.get("chat_template") or data.get("chat_template_sha"))
    rows = []
    for unit, leaves in found:
        n = int(sum(lm_eval_number(_dict(n_samples.get(task)).get("effective"), f"n-samples.{task}.effective", 0) for task in leaves))
        if n < 1:
            raise ValueError(f"n-samples: no question of {unit} was scored")
        fewshot = (
            _dict(data.get("n-shot")).get(unit) or _dict(data.get("n-shot")).get(leaves[0]) or _task_config(data, leaves[0]).get("num_fewshot") or 0
        )
        prompt_format = from_lm_eval(chat, int(fewshot)).name
        row = {
            "model": _model_name(str(name)),
            "harness": "lm-eval",
            "prompt_format": prompt_format,
            "fewshot_k": str(fewshot) if PROMPT_FORMATS[prompt_format].uses_examples else "",
            "dtype": text(args.get("dtype") or str(config.get("model_dtype") or "").removeprefix("torch.") or None),
            "device": device_used(config, data.get("pretty_env_info")),
            **_questions(data, unit, leaves),
            "answer_map": "default",
            "n": n,
            **{metric: _metric(_dict(results.get(unit)), metric, unit) for metric in METRICS},
            "batch_calibrated_accuracy": lm_eval_number(
                _dict(results.get(unit)).get("batch_calibrated_accuracy,none"), f"results.{unit}.batch_calibrated_accuracy", 0, 1
            ),
            "n_pairs": math.nan,
            "n_pass_filter": _recount(path, leaves, threshold),
            "filter_threshold": threshold,
            "questions_per_second": n / _seconds(data) if len(found) == 1 else math.nan,
            "batch_size": text(config.get("batch_size")),
            "report": None,
            "run_spec": None,
            "source": str(path),
        }
        if unit != leaves[0]:
            per_task = {
                str(_dict(_task_config(data, task).get("dataset_kwargs")).get("config") or task[len(TASK_PREFIX) + 1 :]): {
                    m: _metric(_dict(results.get(task)), m, task) for m in RELATION_METRICS
                }
                for task in leaves
            }
            row.update(breakdown_columns(per_task, {}, {}))
        rows.append(row)
    return rows
