"""``fk-bench report``: gate a model on the evaluator, then study the pairs it gets right.

Steps: the evaluated run (:mod:`interp.evaluated`: evaluated now, or read from ``fk-bench eval``'s
results.json with ``--from-results``, never both) -> the sections (one, or one per relation under
``--relation all``), each gated on the run's metric for its questions -> the pairs of each section
(:mod:`interp.pairs`, from the run's per-question table) -> boot the bridge once
(:class:`interp.model.InterpModel`) -> per section: DLA on every pair, attribution patching on every
pair with a same-length twin and exact patching on the ``exact_pairs`` with the largest evaluator
margin (:mod:`interp.study`), causal tracing (:mod:`interp.tracing`) and attention knockout
(:mod:`interp.knockout`) -> aggregates with bootstrap intervals (:mod:`interp.aggregate`,
:mod:`interp.bootstrap`) -> figures and page (:mod:`interp.figures`, ``interp/templates/report.html.j2``).

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
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fk_bench.errors import FkBenchError
from interp.defaults import (
    ALL_RELATIONS,
    CORRUPTIONS,
    DEFAULT_EXACT_PAIRS,
    DEFAULT_EXACT_PAIRS_LARGE,
    DEFAULT_GATE_METRIC,
    DEFAULT_GATE_THRESHOLD,
    DEFAULT_KNOCKOUT_PAIRS_LARGE,
    DEFAULT_MAX_PAIRS,
    DEFAULT_MAX_PAIRS_PER_RELATION,
    DEFAULT_NOISE_FACTOR,
    DEFAULT_PAIR_MARGIN,
    DEFAULT_SEED,
    DEFAULT_TOP_K,
    DEFAULT_TRACE_PAIRS_LARGE,
    DID_NOT_PASS_JSON,
    GATE_METRICS,
    LARGE_MODEL_PARAMETERS,
    N_RESAMPLES,
    NOISE_SPANS,
    REPORT_HTML,
    REPORT_JSON,
    TRACE_SITES,
)

if TYPE_CHECKING:  # this module is imported by ``fk-bench --help``: pandas and torch load only when a report runs
    from interp.evaluated import EvaluatedRun
    from interp.pairs import PairSelection


@dataclass
class ReportSettings:
    """Everything that shapes a report's numbers beyond the evaluated run's own spec (written into report.json)."""

    gate_metric: str = DEFAULT_GATE_METRIC
    gate_threshold: float = DEFAULT_GATE_THRESHOLD
    pair_margin: float = DEFAULT_PAIR_MARGIN
    max_pairs: int | None = None
    """Pairs per section; None: :data:`DEFAULT_MAX_PAIRS`, or :data:`DEFAULT_MAX_PAIRS_PER_RELATION` under ``--relation all``."""
    exact_pairs: int | None = None
    """Per section; None: by the model's size (:meth:`sized_for`; report.json records the number used)."""
    top_k: int = DEFAULT_TOP_K
    pattern_pairs: int = 1
    relation: str | None = None
    """A relation of the run (its questions only), :data:`ALL_RELATIONS` (one section per relation), or None (every question together)."""
    corruption: str = "twin"
    noise_span: str = "object"
    noise_scale: float | None = None
    """Standard deviation of the noise; None: :data:`DEFAULT_NOISE_FACTOR` x the embeddings' (the value used is recorded)."""
    seed: int = DEFAULT_SEED
    """Seeds the noise and the bootstrap resampling."""
    trace_pairs: int | None = None
    """Pairs traced (causal tracing) per section; None: as ``exact_pairs``, or :data:`DEFAULT_TRACE_PAIRS_LARGE` for models of 1B+."""
    trace_sites: tuple[str, ...] | None = None
    """States restored by causal tracing; None: :data:`TRACE_SITES` (and the MLP-severed grid), resid_pre alone for models of 1B+."""
    trace_positions: str | None = None
    """Noise tracing: ``all`` positions from the noise on, or ``role-ends`` (the first and last token of each role and the
    last position); None: ``all``, ``role-ends`` for models of 1B+ (a prompt's cost grows with the positions traced)."""
    knockout_pairs: int | None = None
    """Pairs with attention knockout per section (largest margin first); None: every studied pair, :data:`DEFAULT_KNOCKOUT_PAIRS_LARGE` for 1B+."""
    knockout_window: int | None = None
    """Layers blocked at once by attention knockout; None: the knockout module's default for the model's depth."""
    n_resamples: int = N_RESAMPLES
    progress: bool = True

    def __post_init__(self) -> None:
        if self.gate_metric not in GATE_METRICS:
            raise FkBenchError(f"gate metric {self.gate_metric!r}: choose one of {', '.join(GATE_METRICS)}")
        if self.corruption not in CORRUPTIONS:
            raise FkBenchError(f"corruption {self.corruption!r}: choose one of {', '.join(CORRUPTIONS)}")
        if self.noise_span not in NOISE_SPANS:
            raise FkBenchError(f"noise span {self.noise_span!r}: choose one of {', '.join(NOISE_SPANS)}")
        for name in ("max_pairs", "exact_pairs", "trace_pairs", "knockout_pairs", "knockout_window"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise FkBenchError(f"{name.replace('_', '-')} {value}: must be at least 1")
        if self.top_k < 1 or self.pattern_pairs < 0 or self.n_resamples < 10:
            raise FkBenchError("top-k must be at least 1, pattern-pairs 0 or more, and resamples at least 10")
        if self.trace_positions not in (None, "all", "role-ends"):
            raise FkBenchError(f"trace positions {self.trace_positions!r}: 'all' or 'role-ends'")
        if self.trace_sites is not None and (not self.trace_sites or set(self.trace_sites) - set(TRACE_SITES)):
            raise FkBenchError(f"trace sites {list(self.trace_sites)}: choose from {', '.join(TRACE_SITES)}")
        if self.noise_scale is not None and not (self.noise_scale > 0 and self.noise_scale < float("inf")):
            raise FkBenchError(f"noise scale {self.noise_scale}: must be a positive number")

    def sized_for(self, n_parameters: int) -> ReportSettings:
        """These settings with every default left open (None) resolved for a model of ``n_parameters``: models of
        :data:`LARGE_MODEL_PARAMETERS` or more get fewer exact, traced and knocked-out pairs, tracing of the
        residual stream at the roles' last tokens only, so that a default report stays minutes long on a CPU."""
        large = n_parameters >= LARGE_MODEL_PARAMETERS
        exact_pairs = self.exact_pairs or (DEFAULT_EXACT_PAIRS_LARGE if large else DEFAULT_EXACT_PAIRS)
        return replace(
            self,
            exact_pairs=exact_pairs,
            trace_pairs=self.trace_pairs or (DEFAULT_TRACE_PAIRS_LARGE if large else exact_pairs),
            trace_sites=self.trace_sites or (("resid_pre",) if large else TRACE_SITES),
            trace_positions=self.trace_positions or ("role-ends" if large else "all"),
            knockout_pairs=self.knockout_pairs or (DEFAULT_KNOCKOUT_PAIRS_LARGE if large else None),
        )

    @property
    def pairs_per_section(self) -> int:
        if self.max_pairs is not None:
            return self.max_pairs
        return DEFAULT_MAX_PAIRS_PER_RELATION if self.relation == ALL_RELATIONS else DEFAULT_MAX_PAIRS

    def to_json(self) -> dict:
        return {**{k: v for k, v in asdict(self).items() if k != "progress"}, "max_pairs": self.pairs_per_section}


@dataclass
class Gate:
    """Which metric decided whether the model gets a report, its value and the threshold."""

    metric: str
    threshold: float
    value: float | None

    @property
    def passed(self) -> bool:
        return self.value is not None and self.value >= self.threshold

    def reason(self) -> str:
        if self.value is None:
            return (
                f"{self.metric} is undefined on this data (no complete true/false pair)"
                if self.metric == "paired_accuracy"
                else f"{self.metric} is undefined on this data"
            )
        return f"{self.metric} {self.value:.3f} is below the threshold {self.threshold}"

    def to_json(self) -> dict:
        return {"metric": self.metric, "threshold": self.threshold, "value": self.value, "passed": self.passed}


@dataclass
class ReportResult:
    """Where a report went and what it holds: ``data`` is report.json (or did_not_pass.json)."""

    model_dir: Path
    passed: bool
    gate: Gate
    data: dict
    seconds: dict = field(default_factory=dict)

    @property
    def path(self) -> Path:
        return self.model_dir / (REPORT_HTML if self.passed else DID_NOT_PASS_JSON)

    @property
    def sections(self) -> list[dict]:
        """The studied sections (one per relation under ``--relation all``)."""
        return [s for s in self.data.get("sections", []) if s.get("studied")]


@dataclass
class _Section:
    """One relation's (or the whole run's) part of a report while it is built."""

    relation: str | None
    gate: Gate
    selection: PairSelection | None = None
    reason: str | None = None  # why it was not studied

    @property
    def title(self) -> str:
        return self.relation or "all questions"


def evaluate_for_report(loaded: Any, questions: Any, groups: Any, spec: Any, progress: bool = True) -> EvaluatedRun:
    """Run the evaluator on ``questions`` as ``spec`` says: the run a report reads when no ``--from-results`` is given."""
    from fk_bench.evaluation import evaluate
    from interp.evaluated import from_result

    return from_result(evaluate(loaded, questions, groups, spec, progress=progress))


def _did_not_pass(model_dir: Path, reason: str, gate: Gate, run: EvaluatedRun, settings: ReportSettings, sections: list[_Section]) -> ReportResult:
    from fk_bench.files import folder_lock, write_json_atomic

    data = {
        "model": run.model,
        "reason": reason,
        "gate": gate.to_json(),
        "summary": run.summary,
        "dataset": run.dataset,
        "run": {"source": run.source, "settings": run.settings},
        "settings": settings.to_json(),
        "sections": [_unstudied_json(section) for section in sections],
    }
    model_dir.parent.mkdir(parents=True, exist_ok=True)
    with folder_lock(model_dir.parent):  # OUT/'s writer lock: an eval writing this run's folder waits, and so do we
        write_json_atomic(model_dir / DID_NOT_PASS_JSON, data)
        for stale in (REPORT_HTML, REPORT_JSON):  # an earlier run's report no longer holds
            (model_dir / stale).unlink(missing_ok=True)
    return ReportResult(model_dir, False, gate, data)


def _unstudied_json(section: _Section) -> dict:
    return {
        "relation": section.relation,
        "title": section.title,
        "studied": False,
        "gate": section.gate.to_json(),
        "reason": section.reason or (None if section.gate.passed else section.gate.reason()),
        "selection": None if section.selection is None else {k: v for k, v in section.selection.to_json().items() if k != "pairs"},
    }


def _no_pairs_reason(selection: PairSelection) -> str:
    if selection.n_pairs == 0:
        return "the data holds no pair (a true question and its false twin, or a question with a corrupted_question)"
    if selection.n_right == 0:
        return f"the model gets none of the {selection.n_pairs} pairs right by {selection.margin} nats (--pair-margin)"
    return f"every pair the model gets right was skipped ({selection.n_skipped}: different token lengths or identical tokens)"


def _overall_gate(settings: ReportSettings, run: EvaluatedRun, sections: list[_Section]) -> Gate:
    """The gate of the report: the section's for one section; the whole run's value, passed when any relation passed, for ``all``."""
    if len(sections) == 1 and settings.relation != ALL_RELATIONS:
        return sections[0].gate
    return _PassedAny(settings.gate_metric, settings.gate_threshold, run.summary.get(settings.gate_metric), any(s.gate.passed for s in sections))


@dataclass
class _PassedAny(Gate):
    """``--relation all``: the run's overall value for the record, passed when any relation passed its gate."""

    any_passed: bool = False

    @property
    def passed(self) -> bool:
        return self.any_passed

    def reason(self) -> str:
        return f"no relation passes the gate ({self.metric} >= {self.threshold})"


def build_report(loaded: Any, run: EvaluatedRun, groups: Any, out_dir: str | Path, settings: ReportSettings | None = None) -> ReportResult:
    """Gate ``loaded`` on the evaluated ``run`` (per relation under ``--relation all``), then write its report under ``out_dir/<run>/``.

    ``run`` comes from :func:`evaluate_for_report` or :func:`interp.evaluated.read_run`; the model must be
    the run's (checked by name). Nothing is evaluated again: the pairs come from the run's per-question table.
    """
    from fk_bench.data import fewshot_pool
    from fk_bench.files import atomic_dir, folder_lock, strict_json
    from interp.answers import single_token_answers
    from interp.model import InterpModel
    from interp.pairs import select_pairs

    settings = settings or ReportSettings()
    start = time.perf_counter()
    if loaded.name != run.result.model.name:
        raise FkBenchError(f"{run.source}: evaluated model {run.result.model.name!r}, not the loaded {loaded.name!r}")
    model_dir = Path(out_dir) / run.run_name
    sections = _sections(settings, run)
    gate = _overall_gate(settings, run, sections)
    if not gate.passed:
        return _did_not_pass(model_dir, gate.reason(), gate, run, settings, sections)

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
            keep_length_mismatch=settings.corruption == "twin",  # aligned by role (interp.corruption), not skipped
        )
        if not section.selection.pairs:
            section.reason = _no_pairs_reason(section.selection)
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
    scale = _noise_scale(model, settings) if settings.corruption == "noise" else None
    corruption = _corruption_json(settings, scale)
    section_data = []
    for section in sections:
        if section not in studied:
            section_data.append(_unstudied_json(section))
            continue
        t = time.perf_counter()
        section_data.append(_study_section(model, section, answers, settings, scale))
        seconds[f"section {section.title}"] = time.perf_counter() - t
    seconds["total"] = time.perf_counter() - start
    data = {
        "model": {**run.model, "architecture": model.architecture, "n_layers": model.n_layers, "n_heads": model.n_heads, "softcap": _softcap(model)},
        "dataset": run.dataset,
        "run": {"source": run.source, "settings": run.settings},
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
    from interp.figures import render_html

    page, data["n_figures"] = render_html(data)
    model_dir.parent.mkdir(parents=True, exist_ok=True)
    with folder_lock(model_dir.parent):  # OUT/'s writer lock, held until the stale did_not_pass.json is gone
        with atomic_dir(model_dir, keep_existing=True) as staging:  # results.json and questions.csv are kept
            (staging / REPORT_JSON).write_text(strict_json(data), encoding="utf-8")
            (staging / REPORT_HTML).write_text(page, encoding="utf-8")
        (model_dir / DID_NOT_PASS_JSON).unlink(missing_ok=True)  # from an earlier run that did not pass
    return ReportResult(model_dir, True, gate, data, seconds)


def _sections(settings: ReportSettings, run: EvaluatedRun) -> list[_Section]:
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
        out.append(_Section(relation, Gate(settings.gate_metric, settings.gate_threshold, summary.get(settings.gate_metric))))
    return out


def _study_section(model: Any, section: _Section, answers: Any, settings: ReportSettings, scale: Any) -> dict:
    """DLA, patching, causal tracing and knockout of one section's pairs, aggregated with intervals (JSON-ready);
    ``scale``: the noise's :class:`interp.corruption.NoiseScale` under ``--corruption noise``, else None."""
    from interp.aggregate import knockout_summary, summarize_studies, tracing_summary
    from interp.figures import MAX_PATTERN_HEADS
    from interp.study import knockout_pairs, study_pairs, trace_pairs

    selection = section.selection
    assert selection is not None
    pairs = selection.pairs
    by_margin = sorted(pairs, key=lambda pair: -pair.margin)
    same_length = [pair for pair in by_margin if pair.same_length] if settings.corruption == "twin" else []
    exact_ids = {pair.pair_id for pair in same_length[: settings.exact_pairs]}  # position-by-position patching needs equal lengths
    pattern_ids = {pair.pair_id for pair in by_margin[: settings.pattern_pairs]}
    stages: dict[str, float] = {}
    studies = study_pairs(
        model, pairs, answers, exact_ids, pattern_ids, progress=settings.progress, seconds=stages, twin_patching=settings.corruption == "twin"
    )
    summary = summarize_studies(model, studies, settings.top_k, settings.seed, settings.n_resamples)
    t = time.perf_counter()
    traced = {pair.pair_id for pair in by_margin[: settings.trace_pairs]}
    sites = settings.trace_sites or TRACE_SITES
    sever = "mlp_out" in sites  # ROME's MLP-severed grid: a third more rows, with the full grids only
    traces = trace_pairs(
        model,
        studies,
        traced,
        answers,
        settings.corruption,
        settings.noise_span,
        scale,
        settings.seed,
        sever,
        settings.progress,
        sites,
        role_ends_only=settings.trace_positions == "role-ends",
    )
    tracing = tracing_summary(traces, {"kind": settings.corruption}, settings.seed, settings.n_resamples)
    stages["causal tracing"] = time.perf_counter() - t
    t = time.perf_counter()
    knocked = {pair.pair_id for pair in by_margin[: settings.knockout_pairs or len(by_margin)]}
    knockouts = knockout_pairs(model, [s for s in studies if s.pair.pair_id in knocked], answers, settings.knockout_window, settings.progress)
    knockout = knockout_summary(knockouts, model.n_layers, settings.seed, settings.n_resamples)
    stages["attention knockout"] = time.perf_counter() - t
    top = summary["dla"]["top_heads"]
    pattern_heads = [(layer, head) for layer, head, _ in top["positive"][:MAX_PATTERN_HEADS] + top["negative"][:MAX_PATTERN_HEADS]]
    trace_of, knockout_of = by_id(traces), by_id(knockouts)
    findings = summary["findings"]
    findings.update(fact_sits=None, knockout_peak=None)
    if tracing is not None and tracing.get("carrying_roles") is not None:
        findings["fact_sits"] = tracing["carrying_roles"]
        findings["positions_from"] = "causal tracing"
    if knockout is not None:
        findings["knockout_peak"] = knockout.get("peak")
    return {
        "relation": section.relation,
        "title": section.title,
        "studied": True,
        "gate": section.gate.to_json(),
        "selection": selection.to_json(),
        **summary,
        "tracing": tracing,
        "knockout": knockout,
        "pairs": [
            _pair_json(model, study, pattern_heads, trace_of.get(study.pair.pair_id), knockout_of.get(study.pair.pair_id)) for study in studies
        ],
        "seconds": stages,
    }


def _fact_sits_text(findings: dict) -> str:
    """Where the fact sits, in a few words: the positions (or roles) restoring >= 50%, with their layers."""
    entries = (
        [(r["role"], r) for r in findings["fact_sits"]]
        if findings.get("fact_sits")
        else [(p["position"], p) for p in findings.get("carrying_positions") or []]
    )
    shown = [f"{name} L{e['from_layer']}-{e['to_layer']}" + (" (wide)" if e.get("interval", {}).get("wide") else "") for name, e in entries]
    return "; ".join(shown) or "none >= 50%"


def summary_row(section: dict, n_layers: int) -> dict:
    """One relation's row of the summary table (and of the cross-model page): the headline numbers with their intervals."""
    row: dict[str, Any] = {"relation": section["title"], "passed": bool(section.get("studied")), "gate": section["gate"]}
    if not section.get("studied"):
        return {**row, "reason": section.get("reason")}
    findings = section["findings"]
    return {
        **row,
        "n_pairs": section["selection"]["n_studied"],
        "n_skipped": section["selection"]["n_skipped"],
        "jump": findings["jump"],
        "mlp_share": findings["mlp_share_interval"],
        "fact_sits": _fact_sits_text(findings),
        "knockout_peak": findings.get("knockout_peak"),
    }


def _scorer(loaded: Any, groups: Any, run: EvaluatedRun) -> Any:
    """log(p_True / p_False) of prompts, scored exactly as the evaluator scores questions (for twins that are no row)."""
    from fk_bench.metrics import true_vs_false
    from fk_bench.scoring import score_answer_words

    def score(prompts: Any) -> Any:
        return true_vs_false(score_answer_words(loaded, list(prompts), groups.words, run.spec.batch_size, False).scores, groups.is_true_word)

    return score


def _softcap(model: Any) -> float | None:
    cap = getattr(model.bridge.cfg, "output_logits_soft_cap", None)
    return float(cap) if cap is not None and cap > 0 else None


def by_id(items: list) -> dict:
    return {item.pair_id: item for item in items}


def _pair_json(model: Any, study: Any, pattern_heads: list[tuple[int, int]], trace: Any = None, knockout: Any = None) -> dict:
    """One studied pair; attention patterns (a pattern pair only) of the heads the page draws, ``pattern_heads``."""
    import numpy as np

    patterns = None
    if study.patterns is not None:
        patterns = {"heads": [list(h) for h in pattern_heads], "values": [np.round(study.patterns[h], 4).tolist() for h in pattern_heads]}
    return {
        **study.to_json(),
        "tracing": None if trace is None else trace.to_json(),
        "knockout": None if knockout is None else knockout.to_json(),
        "clean_str_tokens": model.str_tokens(study.pair.clean_tokens),
        "corrupted_str_tokens": model.str_tokens(study.pair.corrupted_tokens),
        "patterns": patterns,
    }


# ---- causal tracing and attention knockout (interp.tracing, interp.knockout) ------------------------


def _noise_scale(model: Any, settings: ReportSettings) -> Any:
    """The noise's :class:`interp.corruption.NoiseScale`: the one given, or ROME's 3 x the embeddings' std."""
    from interp.corruption import NoiseScale, noise_scale

    if settings.noise_scale is not None:
        return NoiseScale(settings.noise_scale, 1.0, "given", 0)
    return noise_scale(model, DEFAULT_NOISE_FACTOR)


def _corruption_json(settings: ReportSettings, scale: Any) -> dict:
    """The corruption as recorded: kind, span and the noise ``scale`` used (noise), the seed."""
    out: dict[str, Any] = {"kind": settings.corruption, "seed": settings.seed}
    if scale is not None:
        out.update(span=settings.noise_span, noise_scale=scale.scale, scale=scale.to_json())
        out["noise_scale_rule"] = "given (--noise-scale)" if settings.noise_scale is not None else f"{DEFAULT_NOISE_FACTOR:g} x the embeddings' std"
    return out
