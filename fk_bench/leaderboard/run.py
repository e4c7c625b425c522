"""Run the model zoo for the repository's leaderboard: every zoo model, each prompt format that applies,
one fixed slice of the packaged test split.

The slice (:func:`zoo_slice`) is the first ``per_relation`` questions of every relation in the test
split's own order (config ``all``), 100 by default: 50 true questions and their 50 corrupted twins per
relation, 900 questions in all, the same for every model, so paired accuracy is defined on every row.
Prompt formats: ``plain`` and ``fewshot`` (k solved examples) for every model, ``chat`` for models whose
tokenizer has a chat template. Each model is loaded once, scored under its formats, and freed before
the next one loads (the 1.5B Qwen model takes 7 GB in float32).
"""

from __future__ import annotations

import gc
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fk_bench.data import DEFAULT_CONFIG
from fk_bench.errors import FkBenchError
from fk_bench.files import check_writable_dir
from fk_bench.models.zoo import ZooModel, require_zoo_model

ZOO_MODELS = ("embedded", "random-gemma-3-270m", "smollm2-135m-instruct", "qwen2.5-coder-1.5b-instruct")
"""The leaderboard's models, cheapest first (a failure shows early)."""
FORMATS = ("plain", "fewshot", "chat")
DEFAULT_PER_RELATION = 100
DEFAULT_FEWSHOT_K = 4
SPLIT = "test"


@dataclass
class ZooRun:
    """One (model, prompt format) of the zoo run, and what it cost."""

    model: str
    prompt_format: str
    result: Path | None = None
    load_seconds: float = 0.0
    eval_seconds: float = 0.0
    n_questions: int = 0
    reused: bool = False
    skipped: str | None = None


def zoo_slice(per_relation: int = DEFAULT_PER_RELATION) -> Any:
    """The first ``per_relation`` questions of each relation of the packaged test split (file order),
    refused when that would split a true question from its twin (the split keeps pairs adjacent)."""
    from fk_bench.data import load_questions

    if per_relation < 2 or per_relation % 2:
        raise FkBenchError(f"--per-relation {per_relation}: must be an even number >= 2 (each relation's slice is whole pairs)")
    questions = load_questions(split=SPLIT, config=DEFAULT_CONFIG)
    taken: Counter = Counter()
    keep = []
    for index, relation in enumerate(questions["relation"]):
        if taken[relation] < per_relation:
            taken[relation] += 1
            keep.append(index)
    chosen = questions.select(keep)
    if "pair_id" in chosen.column_names:
        counts = Counter(p for p in chosen["pair_id"] if p is not None)
        broken = sorted(p for p, n in counts.items() if n != 2)
        if broken or len(counts) * 2 != len(chosen):
            raise FkBenchError(
                f"the first {per_relation} test questions per relation do not form whole pairs (e.g. {broken[:3]}); choose another --per-relation"
            )
    return chosen


def slice_record(per_relation: int) -> dict:
    """How the slice is recorded in every results.json (``dataset`` beside ``id``), read back by the leaderboard."""
    return {"config": DEFAULT_CONFIG, "split": SPLIT, "relation": None, "limit": per_relation, "limit_per_relation": True}


def _check_installed(entries: Iterable[ZooModel]) -> None:
    """All requested models installed, or one error listing the pip commands, before hours of work start."""
    from fk_bench.models.zoo import is_installed, zoo_model

    commands = []
    for entry in entries:
        source = zoo_model(entry.random_weights_of) if entry.random_weights_of else entry
        if not is_installed(entry) and source is not None and source.gguf is not None:
            commands.append(f"{entry.name}: {source.gguf.pip_command}")
    if commands:
        raise FkBenchError("not installed: " + "; ".join(commands))


def _formats(entry: ZooModel, formats: Iterable[str]) -> list[str]:
    return [f for f in formats if f != "chat" or entry.chat_template]


def _reusable(results_dir: Path, record: dict, fewshot_k: int, dtype: str | None, device: str | None) -> dict[tuple[str, str], tuple[Path, float]]:
    """Earlier results in ``results_dir`` made on this slice with this k, dtype and device:
    (model spec, prompt format) -> (results.json, its scoring seconds)."""
    import json

    from fk_bench.models import resolve_device, resolve_dtype

    device = resolve_device(device)
    wanted = {"dtype": str(resolve_dtype(dtype, device)).removeprefix("torch."), "device": device}

    found = {}
    for path in sorted(results_dir.glob("*/results.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            settings, dataset = data["settings"], data["dataset"]
            if any(dataset.get(k) != v for k, v in record.items()) or any(settings.get(k) != v for k, v in wanted.items()):
                continue
            if settings["prompt_format"] == "fewshot" and settings.get("fewshot_k") != fewshot_k:
                continue
            found[(data["model"]["spec"], settings["prompt_format"])] = (path, float(data.get("seconds") or 0.0))
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return found


def run_zoo(
    out_dir: str | Path,
    models: Iterable[str] = ZOO_MODELS,
    formats: Iterable[str] = FORMATS,
    per_relation: int = DEFAULT_PER_RELATION,
    fewshot_k: int = DEFAULT_FEWSHOT_K,
    dtype: str | None = None,
    device: str | None = None,
    batch_size: int = 128,
    resume: bool = False,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> list[ZooRun]:
    """Score every (model, prompt format) on :func:`zoo_slice` and write ``<out_dir>/results/<run>/results.json``.

    ``models`` are zoo names or local model folders (tests use tiny ones). With ``resume``, a result
    already in ``out_dir/results`` for the same model, format, k and slice is kept, not recomputed
    (a long run that was stopped goes on where it stopped).
    """
    from fk_bench.answers import DEFAULT_GROUPS
    from fk_bench.evaluation import evaluate, write_results
    from fk_bench.models import load_model
    from fk_bench.models.zoo import zoo_model

    results_dir = check_writable_dir(Path(out_dir) / "results", "leaderboard results folder")
    formats = list(dict.fromkeys(formats))
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise FkBenchError(f"prompt format(s) {unknown}: choose from {', '.join(FORMATS)}")
    names = list(dict.fromkeys(models))
    entries = {name: zoo_model(name) for name in names}
    for name, entry in entries.items():
        if entry is None and not Path(name).is_dir():
            require_zoo_model(name)  # raises: neither a zoo name nor a model folder
    _check_installed(e for e in entries.values() if e is not None)
    questions = zoo_slice(per_relation)
    record = slice_record(per_relation)
    reusable = _reusable(results_dir, record, fewshot_k, dtype, device) if resume else {}
    runs: list[ZooRun] = []
    for name in names:
        entry = entries[name]
        planned = _formats(entry, formats) if entry is not None else formats
        for fmt in formats:
            if fmt not in planned:
                runs.append(ZooRun(name, fmt, skipped="no chat template"))
                log(f"{name} {fmt}: not run, the model has no chat template")
        todo = []
        for fmt in planned:
            if (name, fmt) in reusable:
                path, seconds = reusable[(name, fmt)]
                runs.append(ZooRun(name, fmt, path, eval_seconds=seconds, reused=True, n_questions=len(questions)))
                log(f"{name} {fmt}: kept {path}")
            else:
                todo.append(fmt)
        if not todo:
            continue
        start = time.perf_counter()
        loaded = load_model(name, device=device, dtype=dtype)
        load_seconds = time.perf_counter() - start
        log(f"{name}: loaded in {load_seconds:.1f} s ({str(loaded.dtype).removeprefix('torch.')} on {loaded.device})")
        for fmt in todo:
            run = ZooRun(name, fmt, load_seconds=load_seconds, n_questions=len(questions))
            runs.append(run)
            if fmt == "chat" and not getattr(loaded.tokenizer, "chat_template", None):
                run.skipped = "no chat template"
                log(f"{name} chat: skipped, its tokenizer has no chat template")
                continue
            result = evaluate(
                loaded,
                questions,
                DEFAULT_GROUPS,
                prompt_format=fmt,
                batch_size=batch_size,
                fewshot_k=fewshot_k,
                dataset_id="default",
                dataset_settings=record,
                progress=progress,
            )
            run.result = write_results(result, results_dir)
            run.eval_seconds = result.seconds
            log(f"{name} {fmt}: {result.headline()} [{result.seconds:.1f} s]")
        del loaded
        gc.collect()
    return runs


def timing_table(runs: list[ZooRun], wall_seconds: float) -> str:
    """The run's cost per (model, format), as Markdown (for BENCHMARKS.md)."""
    lines = ["| model | prompt | questions | model load | scoring | questions/s |", "|---|---|---:|---:|---:|---:|"]
    loads_shown = set()
    for run in runs:
        if run.skipped:
            lines.append(f"| {run.model} | {run.prompt_format} | | | not run: {run.skipped} | |")
            continue
        load = "earlier run" if run.reused else "" if run.model in loads_shown else f"{run.load_seconds:.1f} s"
        loads_shown.add(run.model)
        rate = f"{run.n_questions / run.eval_seconds:.1f}" if run.eval_seconds else ""
        scoring = f"{run.eval_seconds:.1f} s" + (" (earlier run)" if run.reused else "")
        lines.append(f"| {run.model} | {run.prompt_format} | {run.n_questions} | {load} | {scoring} | {rate} |")
    lines.append(f"| **all** | | | | **{wall_seconds / 60:.1f} min wall** (this run) | |")
    return "\n".join(lines)


__all__ = ["FORMATS", "ZOO_MODELS", "ZooRun", "run_zoo", "slice_record", "timing_table", "zoo_slice"]
