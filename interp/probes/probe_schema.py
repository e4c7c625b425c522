"""probe.json: the one definition of what ``fk-bench probe`` writes and the one reader of it.

Follows :mod:`fk_bench.results`: a strict pydantic model (:class:`ProbeReport`, ``schema_version``),
every share checked to lie in [0, 1], every float finite, unknown keys refused; :func:`read_probe`
fails with one line naming the file. ``fk_bench/resources/probe.schema.json`` is the JSON schema of
the same definition (``python -m interp.probes.probe_schema`` rewrites it; a test checks it is current).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = 1
JSON_SCHEMA = Path(__file__).resolve().parents[2] / "fk_bench" / "resources" / "probe.schema.json"

Share = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]
Finite = Annotated[float, Field(allow_inf_nan=False)]
Difference = Annotated[float, Field(ge=-1.0, le=1.0, allow_inf_nan=False)]
Count = Annotated[int, Field(ge=0)]


class _Base(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class LayerEntry(_Base):
    """Out-of-fold probe scores at one layer (last position unless named ``object_``)."""

    layer: Count
    accuracy: Share
    paired_accuracy: Share
    ci_low: Share | None
    ci_high: Share | None
    control_accuracy: Share
    control_paired_accuracy: Share
    selectivity: Difference
    """accuracy minus control_accuracy (Hewitt & Liang)."""
    mass_mean_accuracy: Share
    mass_mean_paired_accuracy: Share
    mass_mean_ci_low: Share | None
    mass_mean_ci_high: Share | None
    object_accuracy: Share
    """The mass-mean probe at the object's last token."""
    object_paired_accuracy: Share


class Headline(_Base):
    """A probe's held-out score at the layer each fold chose without its own pairs."""

    probe: str
    accuracy: Share
    paired_accuracy: Share
    ci_low: Share | None
    ci_high: Share | None


class Baseline(_Base):
    """A surface baseline: the probe on what carries no computation (the token embeddings, the object alone)."""

    position: str
    layer: Count
    probe: str
    accuracy: Share
    paired_accuracy: Share
    ci_low: Share | None
    ci_high: Share | None


class Gap(_Base):
    """Probe minus output paired accuracy over pairs, with its paired bootstrap interval."""

    value: Difference | None
    ci_low: Difference | None
    ci_high: Difference | None
    probe_paired_accuracy: Share
    output_paired_accuracy: Share
    n_pairs: Annotated[int, Field(ge=1)]


class Transfer(_Base):
    probe: str
    domains: list[str]
    n_pairs: dict[str, Count]
    left_out: dict[str, Count]
    matrix: list[list[Share | None]]
    """matrix[train domain][test domain]: accuracy (the diagonal: grouped cross-validation within the domain)."""
    paired_matrix: list[list[Share | None]]
    leave_one_out: dict[str, dict[str, Share]]


class Steering(_Base):
    layer: Count
    position: str
    n_questions: Count
    scale: Annotated[float, Field(gt=0.0, allow_inf_nan=False)]
    """The multiple of the mass-mean direction added (1: the class-mean distance, what the issue asks)."""
    direction_norm: Finite
    n_eligible: Count
    flipped_share: Share | None
    random_flipped_share: Share | None
    mean_shift: Finite
    random_mean_shift: Finite


class ProbeModel(_Base):
    """Which model was probed: the run's record, and the bridge's shape."""

    name: str
    spec: str
    path: str
    architecture: str
    n_layers: Annotated[int, Field(ge=1)]
    """The model's blocks; probe layers run 0..n_layers (n_layers: the final residual)."""
    d_model: Annotated[int, Field(ge=1)]
    device: str


class ProbeReport(_Base):
    schema_version: int = SCHEMA_VERSION
    fk_bench_version: str
    model: ProbeModel
    prompt_format: str
    fewshot_k: int | None
    dtype: str
    dataset: dict[str, Any]
    run_spec: dict[str, Any]
    run_source: str
    relation: str
    n_questions: Annotated[int, Field(ge=4)]
    n_pairs: Annotated[int, Field(ge=2)]
    n_unpaired: Count
    n_object_missing: Count
    n_clipped: Count
    settings: dict[str, Any]
    layers: list[LayerEntry]
    best_layer: Count
    fold_layers: list[Count]
    best: Headline
    best_mass_mean: Headline
    baselines: dict[str, Baseline]
    output_paired_accuracy: Share
    gap: Gap
    gap_per_relation: dict[str, Gap]
    knows_but_does_not_say: list[str]
    transfer: Transfer
    steering: Steering | None
    answer_tokens: dict[str, Any]
    seconds: dict[str, Annotated[float, Field(ge=0.0, allow_inf_nan=False)]]

    def to_json(self) -> str:
        return self.model_dump_json(indent=1) + "\n"


def parse_probe(data: Any, where: str) -> ProbeReport:
    """A :class:`ProbeReport` from parsed JSON (``where`` names it in errors)."""
    from interp.core.versioned_json import parse_versioned

    return parse_versioned(data, ProbeReport, SCHEMA_VERSION, where, "probe report", "fk-bench probe")


def read_probe(path: str | Path) -> ProbeReport:
    """Read ``path`` (a probe.json, or the folder holding one): the one reader of probe reports (strict JSON within
    interp's limits, :mod:`interp.core.versioned_json`)."""
    from interp.core.versioned_json import read_json_file
    from interp.probes.probe_defaults import PROBE_JSON

    path = Path(path)
    if path.is_dir():
        path = path / PROBE_JSON
    return parse_probe(read_json_file(path, "probe report"), str(path))


def json_schema() -> str:
    """The JSON schema of probe.json (what ``fk_bench/resources/probe.schema.json`` holds)."""
    return json.dumps(ProbeReport.model_json_schema(), indent=1, sort_keys=True) + "\n"


if __name__ == "__main__":
    JSON_SCHEMA.write_text(json_schema(), encoding="utf-8")
    print(f"wrote {JSON_SCHEMA}")
