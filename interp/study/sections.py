"""One section of a report (a relation, or every question): DLA, patching, causal tracing and attention knockout of
its pairs, aggregated with intervals, as report.json holds it; and its row of the summary table."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from interp.defaults import DEFAULT_NOISE_FACTOR, TRACE_SITES
from interp.study.report_settings import Gate, ReportSettings

if TYPE_CHECKING:
    from interp.core.studied_pairs import PairSelection


@dataclass
class Section:
    """One relation's (or the whole run's) part of a report while it is built."""

    relation: str | None
    gate: Gate
    selection: PairSelection | None = None
    reason: str | None = None  # why it was not studied

    @property
    def title(self) -> str:
        return self.relation or "all questions"


def unstudied_json(section: Section) -> dict:
    return {
        "relation": section.relation,
        "title": section.title,
        "studied": False,
        "gate": section.gate.to_json(),
        "reason": section.reason or (None if section.gate.passed else section.gate.reason()),
        "selection": None if section.selection is None else {k: v for k, v in section.selection.to_json().items() if k != "pairs"},
    }


def study_section(model: Any, section: Section, answers: Any, settings: ReportSettings, scale: Any) -> dict:
    """DLA, patching, causal tracing and knockout of one section's pairs, aggregated with intervals (JSON-ready);
    ``scale``: the noise's :class:`interp.core.corruption.NoiseScale` under ``--corruption noise``, else None."""
    from interp.pages.figures import MAX_PATTERN_HEADS
    from interp.study.aggregate import summarize_studies
    from interp.study.pair_studies import study_pairs

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
    traces, tracing = _trace(model, studies, by_margin, answers, settings, scale)
    stages["causal tracing"] = time.perf_counter() - t
    t = time.perf_counter()
    knockouts, knockout = _knock_out(model, studies, by_margin, answers, settings)
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


def _trace(model: Any, studies: list[Any], by_margin: list[Any], answers: Any, settings: ReportSettings, scale: Any) -> tuple[list[Any], dict | None]:
    """Causal tracing of the ``settings.trace_pairs`` pairs of largest margin: per pair, and summarized over pairs."""
    from interp.study.causal_summaries import tracing_summary
    from interp.study.pair_studies import trace_pairs

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
    return traces, tracing_summary(traces, {"kind": settings.corruption}, settings.seed, settings.n_resamples)


def _knock_out(model: Any, studies: list[Any], by_margin: list[Any], answers: Any, settings: ReportSettings) -> tuple[list[Any], dict | None]:
    """Attention knockout of the ``settings.knockout_pairs`` pairs of largest margin (every pair by default)."""
    from interp.study.causal_summaries import knockout_summary
    from interp.study.pair_studies import knockout_pairs

    knocked = {pair.pair_id for pair in by_margin[: settings.knockout_pairs or len(by_margin)]}
    knockouts = knockout_pairs(model, [s for s in studies if s.pair.pair_id in knocked], answers, settings.knockout_window, settings.progress)
    return knockouts, knockout_summary(knockouts, model.n_layers, settings.seed, settings.n_resamples)


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


def softcap(model: Any) -> float | None:
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


def noise_scale_of(model: Any, settings: ReportSettings) -> Any:
    """The noise's :class:`interp.core.corruption.NoiseScale`: the one given, or ROME's 3 x the embeddings' std."""
    from interp.core.corruption import NoiseScale, noise_scale

    if settings.noise_scale is not None:
        return NoiseScale(settings.noise_scale, 1.0, "given", 0)
    return noise_scale(model, DEFAULT_NOISE_FACTOR)


def corruption_json(settings: ReportSettings, scale: Any) -> dict:
    """The corruption as recorded: kind, span and the noise ``scale`` used (noise), the seed."""
    out: dict[str, Any] = {"kind": settings.corruption, "seed": settings.seed}
    if scale is not None:
        out.update(span=settings.noise_span, noise_scale=scale.scale, scale=scale.to_json())
        out["noise_scale_rule"] = "given (--noise-scale)" if settings.noise_scale is not None else f"{DEFAULT_NOISE_FACTOR:g} x the embeddings' std"
    return out
