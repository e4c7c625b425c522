"""What shapes a report beyond its run: the settings (checked before any work) and the gate a model must pass."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

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
    DEFAULT_PAIR_MARGIN,
    DEFAULT_SEED,
    DEFAULT_TOP_K,
    DEFAULT_TRACE_PAIRS_LARGE,
    GATE_METRICS,
    LARGE_MODEL_PARAMETERS,
    N_RESAMPLES,
    NOISE_SPANS,
    TRACE_SITES,
)


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
class PassedAny(Gate):
    """``--relation all``: the run's overall value for the record, passed when any relation passed its gate."""

    any_passed: bool = False

    @property
    def passed(self) -> bool:
        return self.any_passed

    def reason(self) -> str:
        return f"no relation passes the gate ({self.metric} >= {self.threshold})"
