"""``fk-bench report``: gate a model on the evaluator, then study the pairs it gets right.

Steps: the evaluated run (:mod:`interp.core.evaluated`: evaluated now, or read from ``fk-bench eval``'s
results.json with ``--from-results``, never both) -> the sections (one, or one per relation under
``--relation all``), each gated on the run's metric for its questions -> the pairs of each section
(:mod:`interp.core.studied_pairs`, from the run's per-question table) -> boot the bridge once
(:class:`interp.core.model.InterpModel`) -> per section: DLA on every pair, attribution patching on every
pair with a same-length twin and exact patching on the ``exact_pairs`` with the largest evaluator
margin (:mod:`interp.study.pair_studies`), causal tracing (:mod:`interp.patching.tracing`) and attention knockout
(:mod:`interp.patching.knockout`) -> aggregates with bootstrap intervals (:mod:`interp.study.aggregate`,
:mod:`interp.core.bootstrap`) -> figures and page (:mod:`interp.pages.figures`, ``interp/pages/templates/report.html.j2``).

Writes ``OUT/<run>/report.html`` (self-contained) and ``report.json`` (every number and setting), or
``OUT/<run>/did_not_pass.json`` with the gates' metric, values and threshold; ``<run>`` is the folder
``fk-bench eval`` writes for the same model and prompt format.

report.json: ``model``, ``dataset``, ``run`` (where the evaluation came from and its spec), ``settings``,
``corruption`` (kind, span, noise scale used, seed), ``gate`` (with ``per_relation``), ``evaluation``,
``answer_tokens``, ``n_skipped_pairs``, ``summary_table`` (one row per section: jump, MLP share, where the
fact sits, knockout peak, each with its interval), ``sections`` (per section: ``gate``, ``selection``,
``dla``, ``patching``, ``tracing``, ``knockout``, ``findings``, ``pairs``, ``seconds``), ``seconds``, ``n_figures``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fk_bench.errors import FkBenchError
from interp.defaults import (
    ALL_RELATIONS,
    DID_NOT_PASS_JSON,
    REPORT_HTML,
    REPORT_JSON,
)
from interp.study.report_file import REDO, SCHEMA_VERSION, DidNotPassFile, ReportFile
from interp.study.report_settings import Gate, PassedAny, ReportSettings
from interp.study.sections import (
    Section,
    corruption_json,
    noise_scale_of,
    softcap,
    study_section,
    summary_row,
    unstudied_json,
)

if TYPE_CHECKING:  # this module is imported by ``fk-bench --help``: pandas and torch load only when a report runs
    from interp.core.evaluated import EvaluatedRun
    from interp.core.studied_pairs import PairSelection


@dataclass
class ReportResult:
    """Where a report went and what it holds: ``data`` is report.json (or did_not_pass.json)."""

    model_dir: Path
    passed: bool
    gate: Gate
    data: dict[str, Any]
    seconds: dict[str, Any] = field(default_factory=dict)

    @property
    def path(self) -> Path:
        return self.model_dir / (REPORT_HTML if self.passed else DID_NOT_PASS_JSON)

    @property
    def sections(self) -> list[dict[str, Any]]:
        """The studied sections (one per relation under ``--relation all``)."""
        return [s for s in self.data.get("sections", []) if s.get("studied")]


def check_out_dir(out: Path) -> Path:
    """Refuse, before any work, an output folder the report could not be written into at its end: not a writable
    folder, or a path so long that ``OUT/<run>/report.html`` would pass what the file system takes."""
    from fk_bench.files import NAME_MAX_BYTES, PATH_MAX_BYTES, check_path_length, check_writable_dir

    check_path_length(out, "--out")
    room = PATH_MAX_BYTES - len(str(out.absolute()).encode()) - len(f"/{REPORT_HTML}")
    if room < NAME_MAX_BYTES // 2:
        raise FkBenchError(f"--out {str(out)[:60]}...: too long a path to hold OUT/<run>/{REPORT_HTML}; give a shorter one")
    return check_writable_dir(out)


def report_lines(report: ReportResult) -> list[str]:
    """What ``fk-bench report`` prints: each section's gate and pairs (or why it was not studied), and where it wrote."""
    name = report.data["model"]["name"]
    if not report.passed:
        return [f"{name}: no report ({report.data['reason']})", f"wrote {report.path}"]
    lines = []
    for section in report.data["sections"]:
        gate = section["gate"]
        if not section["studied"]:
            lines.append(f"{section['title']}: not studied ({section['reason']})")
            continue
        selection, exact = section["selection"], len(section["patching"]["exact_pairs"])
        lines.append(
            f"{section['title']}: {gate['metric']} {gate['value']:.3f} >= {gate['threshold']}; {selection['n_studied']} pair(s) studied "
            f"({exact} with exact patching), {selection['n_skipped']} skipped"
        )
    return [*lines, f"{name}: report in {report.seconds['total']:.1f} s", f"wrote {report.path}"]


def evaluate_for_report(loaded: Any, questions: Any, groups: Any, spec: Any, progress: bool = True) -> EvaluatedRun:
    """Run the evaluator on ``questions`` as ``spec`` says: the run a report reads when no ``--from-results`` is given."""
    from fk_bench.evaluation import evaluate
    from interp.core.evaluated import from_result

    return from_result(evaluate(loaded, questions, groups, spec, progress=progress))


def _did_not_pass(model_dir: Path, reason: str, gate: Gate, run: EvaluatedRun, settings: ReportSettings, sections: list[Section]) -> ReportResult:
    from fk_bench.files import folder_lock, write_text_atomic

    data = {
        "schema_version": SCHEMA_VERSION,
        "model": run.model,
        "reason": reason,
        "gate": gate.to_json(),
        "summary": run.summary,
        "dataset": run.dataset,
        "run": run.record,
        "settings": settings.to_json(),
        "sections": [unstudied_json(section) for section in sections],
    }
    text = _checked_json(data, DidNotPassFile, model_dir / DID_NOT_PASS_JSON)
    try:
        model_dir.parent.mkdir(parents=True, exist_ok=True)
        with folder_lock(model_dir.parent):  # OUT/'s writer lock: an eval writing this run's folder waits, and so do we
            # An earlier report.json stays: it records the run spec it studied, so no reader takes it for this run's.
            write_text_atomic(model_dir / DID_NOT_PASS_JSON, text)
    except OSError as err:
        raise FkBenchError(f"{model_dir}: cannot write {DID_NOT_PASS_JSON} ({err.strerror or err}); earlier files are as they were") from None
    return ReportResult(model_dir, False, gate, data)


def _no_pairs_reason(selection: PairSelection) -> str:
    if selection.n_pairs == 0:
        return "the data holds no pair (a true question and its false twin, or a question with a corrupted_question)"
    if selection.n_right == 0:
        return f"the model gets none of the {selection.n_pairs} pairs right by {selection.margin} nats (--pair-margin)"
    return f"every pair the model gets right was skipped ({selection.n_skipped}: different token lengths or identical tokens)"


def _overall_gate(settings: ReportSettings, run: EvaluatedRun, sections: list[Section]) -> Gate:
    """The gate of the report: the section's for one section; the whole run's value, passed when any relation passed, for ``all``."""
    if len(sections) == 1 and settings.relation != ALL_RELATIONS:
        return sections[0].gate
    return PassedAny(settings.gate_metric, settings.gate_threshold, run.summary.get(settings.gate_metric), any(s.gate.passed for s in sections))


def build_report(loaded: Any, run: EvaluatedRun, groups: Any, out_dir: str | Path, settings: ReportSettings | None = None) -> ReportResult:
    """Gate ``loaded`` on the evaluated ``run`` (per relation under ``--relation all``), then write its report under ``out_dir/<run>/``.

    ``run`` comes from :func:`evaluate_for_report` or :func:`interp.core.evaluated.read_run`; the model must be
    the run's (checked by name). Nothing is evaluated again: the pairs come from the run's per-question table.
    """
    from interp.core.answer_tokens import single_token_answers
    from interp.core.model import InterpModel

    settings = settings or ReportSettings()
    start = time.perf_counter()
    if loaded.name != run.result.model.name:
        raise FkBenchError(f"{run.source}: evaluated model {run.result.model.name!r}, not the loaded {loaded.name!r}")
    model_dir = Path(out_dir) / run.run_name
    sections = _sections(settings, run)
    gate = _overall_gate(settings, run, sections)
    if not gate.passed:
        return _did_not_pass(model_dir, gate.reason(), gate, run, settings, sections)

    _select_pairs(loaded, groups, run, settings, sections)
    studied = [s for s in sections if s.selection is not None and s.selection.pairs]
    if not studied:
        reasons = "; ".join(f"{s.title}: {s.reason}" for s in sections if s.reason)
        return _did_not_pass(model_dir, reasons or gate.reason(), gate, run, settings, sections)
    prompts = [p for s in studied for pair in s.selection.pairs for p in (pair.clean_prompt, pair.corrupted_prompt)]  # type: ignore[union-attr]
    answers = single_token_answers(loaded.tokenizer, prompts, groups)

    seconds: dict[str, Any] = {"reading the run": time.perf_counter() - start}
    t = time.perf_counter()
    model = InterpModel.boot(loaded)
    seconds["bridge"] = time.perf_counter() - t
    settings = settings.sized_for(sum(p.numel() for p in loaded.model.parameters()))
    scale = noise_scale_of(model, settings) if settings.corruption == "noise" else None
    corruption = corruption_json(settings, scale)
    section_data = []
    for section in sections:
        if section not in studied:
            section_data.append(unstudied_json(section))
            continue
        t = time.perf_counter()
        section_data.append(study_section(model, section, answers, settings, scale))
        seconds[f"section {section.title}"] = time.perf_counter() - t
    seconds["total"] = time.perf_counter() - start
    data = {
        "schema_version": SCHEMA_VERSION,
        "model": {**run.model, "architecture": model.architecture, "n_layers": model.n_layers, "n_heads": model.n_heads, "softcap": softcap(model)},
        "dataset": run.dataset,
        "run": run.record,
        "settings": settings.to_json(),
        "corruption": corruption,
        "gate": {**gate.to_json(), "per_relation": {s.title: s.gate.to_json() for s in sections}},
        "evaluation": run.summary,
        "answer_tokens": answers.to_json(),
        "n_skipped_pairs": sum(s["selection"]["n_skipped"] for s in section_data if s.get("selection")),
        "summary_table": [summary_row(s, model.n_layers) for s in section_data],
        "sections": section_data,
        "seconds": seconds,
    }
    from interp.pages.report_page import render_html

    page, data["n_figures"] = render_html(data, model_dir)
    _write_report(model_dir, data, page)
    return ReportResult(model_dir, True, gate, data, seconds)


def _select_pairs(loaded: Any, groups: Any, run: EvaluatedRun, settings: ReportSettings, sections: list[Section]) -> None:
    """The pairs of every section that passed its gate (from the run's per-question table), or why there are none."""
    from fk_bench.data import fewshot_pool
    from interp.core.studied_pairs import select_pairs

    examples = fewshot_pool(run.fewshot_k) if run.fewshot_k is not None else []
    score = _scorer(loaded, groups, run)
    for section in sections:
        if not section.gate.passed:
            continue
        table = run.questions if section.relation is None else run.questions[run.questions["relation"] == section.relation].reset_index(drop=True)
        section.selection = select_pairs(
            table,
            loaded.tokenizer,
            run.prompt_format,
            examples,
            settings.pair_margin,
            settings.pairs_per_section,
            score,
            corruption=settings.corruption,
            keep_length_mismatch=settings.corruption == "twin",  # aligned by role (interp.core.corruption), not skipped
        )
        if not section.selection.pairs:
            section.reason = _no_pairs_reason(section.selection)


def _write_report(model_dir: Path, data: dict[str, Any], page: str) -> None:
    """report.json and report.html into ``model_dir`` at once (the run's results.json and questions.csv are kept)."""
    from fk_bench.files import atomic_dir, folder_lock

    text = _checked_json(data, ReportFile, model_dir / REPORT_JSON)
    try:
        model_dir.parent.mkdir(parents=True, exist_ok=True)
        with folder_lock(model_dir.parent):  # OUT/'s writer lock, held until the stale did_not_pass.json is gone
            with atomic_dir(model_dir, keep_existing=True) as staging:  # results.json and questions.csv are kept
                (staging / REPORT_JSON).write_text(text, encoding="utf-8")
                (staging / REPORT_HTML).write_text(page, encoding="utf-8")
            (model_dir / DID_NOT_PASS_JSON).unlink(missing_ok=True)  # from an earlier run that did not pass
    except OSError as err:  # a full disk, a folder made read-only meanwhile: the old folder is whole (atomic_dir)
        raise FkBenchError(f"{model_dir}: cannot write the report ({err.strerror or err}); earlier files are as they were") from None


def _checked_json(data: dict[str, Any], schema: type[ReportFile] | type[DidNotPassFile], path: Path) -> str:
    """``data`` as strict JSON, checked against the schema every reader uses before anything is written."""
    import json

    from fk_bench.files import strict_json
    from interp.core.versioned_json import parse_versioned

    text = strict_json(data)
    parse_versioned(json.loads(text), schema, SCHEMA_VERSION, f"{path} (as written)", path.name, REDO)
    return text


def _sections(settings: ReportSettings, run: EvaluatedRun) -> list[Section]:
    """One section per relation under ``--relation all``, else one; each with its gate on the run's metrics."""
    if settings.relation == ALL_RELATIONS:
        relations: list[str | None] = list(run.relations())
        if not relations:
            raise FkBenchError(f"{run.source}: --relation all needs questions with a relation column")
    else:
        relations = [settings.relation or run.spec.dataset.relation]
    out = []
    for relation in relations:
        summary = run.relation_summary(relation)
        out.append(Section(relation, Gate(settings.gate_metric, settings.gate_threshold, summary.get(settings.gate_metric))))
    return out


def _scorer(loaded: Any, groups: Any, run: EvaluatedRun) -> Any:
    """log(p_True / p_False) of prompts, scored exactly as the evaluator scores questions (for twins that are no row)."""
    from fk_bench.metrics import true_vs_false
    from fk_bench.scoring import score_answer_words

    def score(prompts: Any) -> Any:
        return true_vs_false(score_answer_words(loaded, list(prompts), groups.words, run.spec.batch_size, False).scores, groups.is_true_word)

    return score


# ---- causal tracing and attention knockout (interp.patching.tracing, interp.patching.knockout) ------------------------
