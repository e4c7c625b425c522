"""``fk-bench report``: gate a model on the evaluator, then study the pairs it gets right.

Steps: evaluate (the gate metric against its threshold) -> choose the pairs (:mod:`interp.pairs`)
-> boot the bridge once (:class:`interp.model.InterpModel`) -> study the pairs (:mod:`interp.study`:
DLA and attribution patching on every pair, exact patching on the ``exact_pairs`` pairs with the
largest evaluator margin) -> aggregate (:mod:`interp.aggregate`) -> figures and page
(:mod:`interp.figures`, ``interp/templates/report.html.j2``).

Writes ``OUT/<run>/report.html`` (self-contained) and ``report.json`` (every number and setting), or
``OUT/<run>/did_not_pass.json`` with the gate's metric, value and threshold; ``<run>`` is the folder
``fk-bench eval`` writes for the same model and prompt format.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fk_bench.errors import FkBenchError

if TYPE_CHECKING:  # this module is imported by ``fk-bench --help``: numpy, pandas and torch load only when a report runs
    from interp.pairs import PairSelection

GATE_METRICS = ("paired_accuracy", "accuracy", "auroc")
"""Metrics a gate may use: shares in [0, 1] where higher is better."""
DEFAULT_GATE_METRIC = "paired_accuracy"
DEFAULT_GATE_THRESHOLD = 0.6
DEFAULT_PAIR_MARGIN = 1.0
"""Nats of log-odds by which the true question must beat its twin for the pair to be studied."""
DEFAULT_MAX_PAIRS = 50
DEFAULT_EXACT_PAIRS = 5
DEFAULT_EXACT_PAIRS_LARGE = 2
LARGE_MODEL_PARAMETERS = 1_000_000_000
"""Exact patching costs about 10 TFLOP a pair on a 1.5B model with a chat prompt (minutes on a 2-core
CPU): models of this many parameters or more get :data:`DEFAULT_EXACT_PAIRS_LARGE` exact pairs by default."""


def default_exact_pairs(n_parameters: int) -> int:
    """Exact-patching pairs when none is asked for: by model size, so that a default report stays minutes long."""
    return DEFAULT_EXACT_PAIRS_LARGE if n_parameters >= LARGE_MODEL_PARAMETERS else DEFAULT_EXACT_PAIRS


@dataclass
class ReportSettings:
    """Everything that shapes a report's numbers (written into report.json)."""

    prompt_format: str = "plain"
    fewshot_k: int = 4
    gate_metric: str = DEFAULT_GATE_METRIC
    gate_threshold: float = DEFAULT_GATE_THRESHOLD
    pair_margin: float = DEFAULT_PAIR_MARGIN
    max_pairs: int | None = DEFAULT_MAX_PAIRS
    exact_pairs: int | None = None
    """None: :func:`default_exact_pairs` of the model's size (report.json records the number used)."""
    top_k: int = 3
    pattern_pairs: int = 1
    eval_batch_size: int = 128
    dataset_id: str = "default"
    dataset_settings: dict = field(default_factory=dict)
    progress: bool = True

    def __post_init__(self) -> None:
        if self.gate_metric not in GATE_METRICS:
            raise FkBenchError(f"gate metric {self.gate_metric!r}: choose one of {', '.join(GATE_METRICS)}")

    def to_json(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k != "progress"}


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
    selection: PairSelection | None = None
    seconds: dict = field(default_factory=dict)

    @property
    def path(self) -> Path:
        return self.model_dir / ("report.html" if self.passed else "did_not_pass.json")


def _did_not_pass(
    model_dir: Path, reason: str, gate: Gate, result: Any, settings: ReportSettings, selection: PairSelection | None = None
) -> ReportResult:
    from fk_bench.files import write_json_atomic

    data = {
        "model": result.model,
        "reason": reason,
        "gate": gate.to_json(),
        "summary": result.summary,
        "dataset": result.dataset,
        "settings": settings.to_json(),
        "pairs": None if selection is None else {k: v for k, v in selection.to_json().items() if k != "pairs"},
    }
    write_json_atomic(model_dir / "did_not_pass.json", data)
    for stale in ("report.html", "report.json"):  # an earlier run's report no longer holds
        (model_dir / stale).unlink(missing_ok=True)
    return ReportResult(model_dir, False, gate, data, selection)


def _no_pairs_reason(selection: PairSelection) -> str:
    if selection.n_pairs == 0:
        return "the data holds no pair (a true question and its false twin, or a question with a corrupted_question)"
    if selection.n_right == 0:
        return f"the model gets none of the {selection.n_pairs} pairs right by {selection.margin} nats (--pair-margin)"
    return f"every pair the model gets right has clean and corrupted prompts of different token lengths ({len(selection.length_mismatch)} pair(s))"


def build_report(loaded: Any, questions: Any, groups: Any, out_dir: str | Path, settings: ReportSettings | None = None) -> ReportResult:
    """Gate ``loaded`` on ``questions``, then write its report under ``out_dir/<run>/``."""
    from fk_bench.data import fewshot_pool
    from fk_bench.evaluation import evaluate
    from fk_bench.files import atomic_dir, strict_json
    from interp.aggregate import summarize_studies
    from interp.answers import single_token_answers
    from interp.model import InterpModel
    from interp.pairs import select_pairs
    from interp.study import study_pairs

    settings = settings or ReportSettings()
    start = time.perf_counter()
    result = evaluate(
        loaded,
        questions,
        groups,
        prompt_format=settings.prompt_format,
        batch_size=settings.eval_batch_size,
        fewshot_k=settings.fewshot_k,
        dataset_id=settings.dataset_id,
        dataset_settings=settings.dataset_settings,
        progress=settings.progress,
    )
    seconds = {"evaluation": time.perf_counter() - start}
    model_dir = Path(out_dir) / result.run_name
    gate = Gate(settings.gate_metric, settings.gate_threshold, result.summary.get(settings.gate_metric))
    if not gate.passed:
        return _did_not_pass(model_dir, gate.reason(), gate, result, settings)
    examples = fewshot_pool(settings.fewshot_k) if settings.prompt_format == "fewshot" else []
    selection = select_pairs(
        result.questions,
        loaded.tokenizer,
        settings.prompt_format,
        examples,
        settings.pair_margin,
        settings.max_pairs,
        _scorer(loaded, groups, settings),
    )
    if not selection.pairs:
        return _did_not_pass(model_dir, _no_pairs_reason(selection), gate, result, settings, selection)
    prompts = [p for pair in selection.pairs for p in (pair.clean_prompt, pair.corrupted_prompt)]
    answers = single_token_answers(loaded.tokenizer, prompts, groups)

    t = time.perf_counter()
    model = InterpModel.boot(loaded)
    seconds["bridge"] = time.perf_counter() - t
    if settings.exact_pairs is None:
        settings = replace(settings, exact_pairs=default_exact_pairs(sum(p.numel() for p in loaded.model.parameters())))
    by_margin = sorted(selection.pairs, key=lambda pair: -pair.margin)
    exact_ids = {pair.pair_id for pair in by_margin[: settings.exact_pairs]}
    pattern_ids = {pair.pair_id for pair in by_margin[: settings.pattern_pairs]}
    t = time.perf_counter()
    stages: dict[str, float] = {}
    studies = study_pairs(model, selection.pairs, answers, exact_ids, pattern_ids, progress=settings.progress, seconds=stages)
    seconds["study"] = time.perf_counter() - t
    seconds["study_stages"] = stages
    summary = summarize_studies(model, studies, settings.top_k)
    seconds["total"] = time.perf_counter() - start
    data = {
        "model": {
            **result.model,
            "architecture": model.architecture,
            "n_layers": model.n_layers,
            "n_heads": model.n_heads,
            "softcap": _softcap(model),
        },
        "dataset": result.dataset,
        "settings": settings.to_json(),
        "gate": gate.to_json(),
        "evaluation": result.summary,
        "selection": selection.to_json(),
        "answer_tokens": answers.to_json(),
        **summary,
        "pairs": [_pair_json(model, study) for study in studies],
        "seconds": seconds,
    }
    from interp.figures import render_html

    page, data["n_figures"] = render_html(data)
    with atomic_dir(model_dir, keep_existing=True) as staging:
        (staging / "report.json").write_text(strict_json(data), encoding="utf-8")
        (staging / "report.html").write_text(page, encoding="utf-8")
    (model_dir / "did_not_pass.json").unlink(missing_ok=True)  # from an earlier run that did not pass
    return ReportResult(model_dir, True, gate, data, selection, seconds)


def _scorer(loaded: Any, groups: Any, settings: ReportSettings) -> Any:
    """log(p_True / p_False) of prompts, scored exactly as the evaluator scores questions (for twins that are no row)."""
    from fk_bench.metrics import true_vs_false
    from fk_bench.scoring import score_answer_words

    def score(prompts: Any) -> Any:
        scores, _ = score_answer_words(loaded, list(prompts), groups.words, settings.eval_batch_size, False)
        return true_vs_false(scores, groups.is_true_word)

    return score


def _softcap(model: Any) -> float | None:
    cap = getattr(model.bridge.cfg, "output_logits_soft_cap", None)
    return float(cap) if cap is not None and cap > 0 else None


def _pair_json(model: Any, study: Any) -> dict:
    import numpy as np

    return {
        **study.to_json(),
        "clean_str_tokens": model.str_tokens(study.pair.clean_tokens),
        "corrupted_str_tokens": model.str_tokens(study.pair.corrupted_tokens),
        "patterns": None if study.patterns is None else np.round(study.patterns, 4).tolist(),
    }
