"""Run the model zoo (``fk-bench zoo run``): every zoo model, each prompt format that applies, two fixed
question sets of the packaged dataset, written as ordinary results that ``fk-bench leaderboard`` renders.

The question sets (:data:`ZOO_QUESTION_SETS`): ``full``, the whole default test split (every fact in its
first wording: the narrowest intervals the data allows), and ``paraphrase`` (:func:`zoo_slice`), the
first ``per_relation`` questions of every relation of the ``paraphrase`` config in its own order (each
fact's wordings together: whole facts asked in every wording, so consistency is defined); the leaderboard
shows the paraphrase run's consistency beside the full run's scores. The same questions for every model.
Prompt formats: every format for every model whose tokenizer supports it (chat needs a chat
template). Each model is loaded once, scored under its formats, and freed before the next one loads
(the 1.5B Qwen model takes 7 GB in float32).
"""

from __future__ import annotations

import gc
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from fk_bench.errors import FkBenchError
from fk_bench.files import check_writable_dir
from fk_bench.models.zoo_catalog import ZooModel, require_zoo_model, zoo_model

if TYPE_CHECKING:
    from fk_bench.data import Questions

from fk_bench.spec import DEFAULT_BATCH_SIZE, DEFAULT_FEWSHOT_K, DEFAULT_SPLIT, PROMPT_FORMATS, BatchSize, RunSpec

ZOO_MODELS = ("embedded", "random-gemma-3-270m", "smollm2-135m-instruct", "qwen2.5-coder-1.5b-instruct")
"""The leaderboard's models, cheapest first (a failure shows early)."""
ZOO_CONFIG = "paraphrase"
ZOO_QUESTION_SETS = ("full", "paraphrase")
"""``full``: the default config's whole test split; ``paraphrase``: :func:`zoo_slice` (consistency)."""
DEFAULT_PER_RELATION = 60
"""Questions per relation: 10 facts in 3 wordings, a true question and its twin each."""


@dataclass
class ZooRun:
    """One (model, prompt format) of the zoo run, and what it cost."""

    model: str
    prompt_format: str
    question_set: str = ""
    result: Path | None = None
    load_seconds: float = 0.0
    eval_seconds: float = 0.0
    n_questions: int = 0
    reused: bool = False
    skipped: str | None = None


def zoo_slice(per_relation: int = DEFAULT_PER_RELATION) -> Questions:
    """The first ``per_relation`` questions of each relation of the packaged ``paraphrase`` config (file order),
    refused when that would split a true question from its twin."""
    from fk_bench.data import load_questions

    if per_relation < 2 or per_relation % 2:
        raise FkBenchError(f"--per-relation {per_relation}: must be an even number >= 2 (each relation's slice is whole pairs)")
    questions = load_questions(split=DEFAULT_SPLIT, config=ZOO_CONFIG)
    taken: Counter[str] = Counter()
    keep = []
    for index, relation in enumerate(questions["relation"]):
        if taken[relation] < per_relation:
            taken[relation] += 1
            keep.append(index)
    chosen = questions.select(keep, questions.dataset.model_copy(update={"limit": per_relation, "limit_per_relation": True}))
    if 2 * len(chosen.pairs) != len(chosen):
        raise FkBenchError(f"the first {per_relation} test questions per relation do not form whole pairs; choose another --per-relation")
    return chosen


def zoo_questions(question_sets: Iterable[str] = ZOO_QUESTION_SETS, per_relation: int = DEFAULT_PER_RELATION) -> dict[str, Questions]:
    """Set name -> its questions, for each set of :data:`ZOO_QUESTION_SETS` asked for (in that order, once), checked before any model loads."""
    from fk_bench.data import load_questions

    question_sets = list(dict.fromkeys(question_sets))
    unknown = [name for name in question_sets if name not in ZOO_QUESTION_SETS]
    if unknown or not question_sets:
        raise FkBenchError(f"question set(s) {unknown}: choose from {', '.join(ZOO_QUESTION_SETS)}")
    return {name: load_questions(split=DEFAULT_SPLIT) if name == "full" else zoo_slice(per_relation) for name in question_sets}


def _check_installed(entries: Iterable[ZooModel]) -> None:
    """All requested models installed, or one error listing the pip commands, before hours of work start."""
    from fk_bench.models.zoo_catalog import is_installed, zoo_model

    commands = []
    for entry in entries:
        source = zoo_model(entry.random_weights_of) if entry.random_weights_of else entry
        if not is_installed(entry) and source is not None and source.gguf is not None:
            commands.append(f"{entry.name}: {source.gguf.pip_command}")
    if commands:
        raise FkBenchError("not installed: " + "; ".join(commands))


def _formats(entry: ZooModel, formats: Iterable[str]) -> list[str]:
    return [f for f in formats if PROMPT_FORMATS[f].applies_to(entry.chat_template)]


def _reusable(results_dir: Path, wanted: dict[RunSpec, str]) -> dict[RunSpec, tuple[Path, float]]:
    """Earlier results in ``results_dir`` that ``--resume`` keeps: each in the folder its spec names
    (``wanted``: spec -> run folder name), sound (:func:`fk_bench.results.read_results` checks every figure)
    and made with exactly that spec, every field equal. spec -> (results.json, scoring seconds). Staging
    folders of unfinished writes are never looked at: their files vanish with them."""
    from fk_bench.results import read_results

    found = {}
    for spec, name in wanted.items():
        path = results_dir / name / "results.json"
        if not path.is_file():
            continue
        try:
            result = read_results(path)
        except FkBenchError as err:
            print(f"fk-bench: --resume: not kept, {err}", file=sys.stderr)
            continue
        if result.spec == spec:
            found[spec] = (path, result.scoring.seconds)
    return found


def _checked_request(models: Iterable[str], formats: Iterable[str]) -> tuple[list[str], dict[str, ZooModel | None]]:
    """The prompt formats and models asked for, without repeats, checked before any work: known formats, zoo
    names or model folders, zoo models installed. Each model maps to its zoo entry (None: a local folder)."""
    formats = list(dict.fromkeys(formats))
    unknown = [f for f in formats if f not in PROMPT_FORMATS]
    if unknown:
        raise FkBenchError(f"prompt format(s) {unknown}: choose from {', '.join(PROMPT_FORMATS)}")
    entries = {name: zoo_model(name) for name in dict.fromkeys(models)}
    for name, entry in entries.items():
        if entry is None and not Path(name).is_dir():
            require_zoo_model(name)  # raises: neither a zoo name nor a model folder
    _check_installed(e for e in entries.values() if e is not None)
    return formats, entries


def run_zoo(
    out_dir: str | Path,
    models: Iterable[str] = ZOO_MODELS,
    formats: Iterable[str] = tuple(PROMPT_FORMATS),
    per_relation: int = DEFAULT_PER_RELATION,
    question_sets: Iterable[str] = ZOO_QUESTION_SETS,
    fewshot_k: int = DEFAULT_FEWSHOT_K,
    dtype: str | None = None,
    device: str | None = None,
    batch_size: BatchSize = DEFAULT_BATCH_SIZE,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> list[ZooRun]:
    """Score every (model, prompt format) on each of ``question_sets`` (:func:`zoo_questions`) and write ``<out_dir>/<run>/results.json``.

    ``models`` are zoo names or local model folders (tests use tiny ones). With ``resume``, a result
    already in its run's folder with the same run spec is kept, not recomputed (a long run that was
    stopped goes on where it stopped). A run folder holding a run of another spec is refused before any
    model loads, unless ``overwrite``.
    """
    from fk_bench.answer_groups import DEFAULT_GROUPS
    from fk_bench.evaluation import evaluate, write_results
    from fk_bench.models import load_run_model
    from fk_bench.models.loading import model_display_name
    from fk_bench.run_folder import check_run_folder
    from fk_bench.torch_settings import spec_names

    results_dir = check_writable_dir(Path(out_dir), "zoo results folder")
    formats, entries = _checked_request(models, formats)
    names = list(entries)
    device, dtype = spec_names(device, dtype)
    sets = zoo_questions(question_sets, per_relation)

    def spec_of(name: str, fmt: str, questions: Questions) -> RunSpec:  # fewshot_k is kept by the formats that use examples only
        return RunSpec(
            model=name, prompt_format=fmt, fewshot_k=fewshot_k, dtype=dtype, device=device, batch_size=batch_size, dataset=questions.dataset
        )

    planned = {name: _formats(entry, formats) if entry is not None else formats for name, entry in entries.items()}
    jobs = {name: [(fmt, set_name, spec_of(name, fmt, sets[set_name])) for fmt in planned[name] for set_name in sets] for name in names}
    folders = {spec: spec.run_name(model_display_name(name)) for name in names for _, _, spec in jobs[name]}
    reusable = _reusable(results_dir, folders) if resume else {}
    for spec, folder in folders.items():  # before any model loads: a refused folder costs nothing
        if spec not in reusable:
            check_run_folder(results_dir / folder, spec, overwrite=overwrite)
    runs: list[ZooRun] = []
    for name in names:
        for fmt in formats:
            if fmt not in planned[name]:
                runs.append(ZooRun(name, fmt, skipped="no chat template"))
                log(f"{name} {fmt}: not run, the model has no chat template")
        todo = []
        for fmt, set_name, spec in jobs[name]:
            if spec in reusable:
                path, seconds = reusable[spec]
                runs.append(ZooRun(name, fmt, set_name, path, eval_seconds=seconds, reused=True, n_questions=len(sets[set_name])))
                log(f"{name} {fmt} {set_name}: kept {path}")
            else:
                todo.append((fmt, set_name, spec))
        if not todo:
            continue
        start = time.perf_counter()
        loaded = load_run_model(todo[0][2])
        load_seconds = time.perf_counter() - start
        log(f"{name}: loaded in {load_seconds:.1f} s ({dtype} on {device})")
        for fmt, set_name, spec in todo:
            questions = sets[set_name]
            run = ZooRun(name, fmt, set_name, load_seconds=load_seconds, n_questions=len(questions))
            runs.append(run)
            if not PROMPT_FORMATS[fmt].applies_to(bool(getattr(loaded.tokenizer, "chat_template", None))):
                run.skipped = "no chat template"
                log(f"{name} {fmt}: skipped, its tokenizer has no chat template")
                continue
            result = evaluate(loaded, questions, DEFAULT_GROUPS, spec, progress=progress)
            run.result = write_results(result, results_dir)
            run.eval_seconds = result.scoring.seconds
            log(f"{name} {fmt} {set_name}: {result.headline()} [{result.scoring.seconds:.1f} s]")
        del loaded
        gc.collect()
    return runs


def timing_table(runs: list[ZooRun], wall_seconds: float) -> str:
    """The run's cost per (model, format), as Markdown (for BENCHMARKS.md)."""
    lines = ["| model | prompt | question set | questions | model load | scoring | questions/s |", "|---|---|---|---:|---:|---:|---:|"]
    loads_shown = set()
    for run in runs:
        if run.skipped:
            lines.append(f"| {run.model} | {run.prompt_format} | {run.question_set} | | | not run: {run.skipped} | |")
            continue
        load = "earlier run" if run.reused else "" if run.model in loads_shown else f"{run.load_seconds:.1f} s"
        loads_shown.add(run.model)
        rate = f"{run.n_questions / run.eval_seconds:.1f}" if run.eval_seconds else ""
        scoring = f"{run.eval_seconds:.1f} s" + (" (earlier run)" if run.reused else "")
        lines.append(f"| {run.model} | {run.prompt_format} | {run.question_set} | {run.n_questions} | {load} | {scoring} | {rate} |")
    lines.append(f"| **all** | | | | | **{wall_seconds / 60:.1f} min wall** (this run) | |")
    return "\n".join(lines)


__all__ = ["ZOO_MODELS", "ZOO_QUESTION_SETS", "ZooRun", "run_zoo", "timing_table", "zoo_questions", "zoo_slice"]
