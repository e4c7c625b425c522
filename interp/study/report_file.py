"""report.json and did_not_pass.json: the one definition of what ``fk-bench report`` writes and every reader reads.

:class:`ReportFile` (report.json) and :class:`DidNotPassFile` (did_not_pass.json) are pydantic models
with a ``schema_version``. The writer (:mod:`interp.study.report_build`) checks its data against them
before anything is written; :func:`read_report` is the one reader (compare-reports, the findings table,
the leaderboard's report links): strict JSON within size and nesting limits
(:func:`interp.core.versioned_json.read_json_file`), then this schema, one line naming the file otherwise.

``run.spec`` is the :class:`fk_bench.spec.RunSpec` of the run the report studied, exactly as results.json
stores it: a report belongs to a run when the two specs are equal. The numbers of each section
(DLA, patching, tracing, knockout, per pair) are typed as JSON; what the pages and tables read (the
model, the run, the settings, the gates, the summary rows) is typed in full.
``fk_bench/resources/report.schema.json`` is the JSON schema of both files (``python -m
interp.study.report_file`` rewrites it; a test checks it is current).

Schema versions: 1 is this one. Reports written before (no ``schema_version``; the run's spec split into
``model.spec``, ``dataset`` and ``run.settings``) are upgraded on reading; newer versions are refused by name.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, StrictBool, StrictInt, TypeAdapter

from fk_bench.results import JSON_SCHEMA as RESULTS_SCHEMA
from fk_bench.results import Summary
from fk_bench.spec import DatasetSpec, RunSpec
from interp.core.versioned_json import parse_versioned, read_json_file
from interp.defaults import DID_NOT_PASS_JSON, REPORT_JSON
from interp.study.report_settings import ReportSettings

SCHEMA_VERSION: Final = 1
JSON_SCHEMA = RESULTS_SCHEMA.with_name("report.schema.json")
REDO = "fk-bench report (it writes a current report.json)"

Finite = Annotated[float, Field(allow_inf_nan=False, strict=True)]
Count = Annotated[int, Field(ge=0, strict=True)]
"""Numbers are numbers: a count or a value written as text (``"18"``) is refused, never converted."""
JsonObject = dict[str, JsonValue]
"""Numbers the pages draw but no reader interprets (grids, per-pair tables): any JSON object."""


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Interval(_Record):
    """A headline number with its bootstrap 95% interval over pairs (:class:`interp.core.bootstrap.Interval`)."""

    estimate: Finite | None
    low: Finite | None
    high: Finite | None
    n_pairs: Count
    kind: Literal["layer", "magnitude"]
    wide: StrictBool


class GateRecord(_Record):
    """The metric that decided whether a model (or a relation) was studied, its value and threshold."""

    metric: str
    threshold: Finite
    value: Finite | None
    passed: StrictBool


class ReportGate(GateRecord):
    per_relation: dict[str, GateRecord] = {}


class Jump(_Record):
    """Where the answer direction jumps: the component, its layer and share of depth, with intervals."""

    label: str
    name: str
    value: Finite
    layer: Count | None
    fraction_of_depth: Finite | None
    layer_interval: Interval
    value_interval: Interval


class KnockoutPeak(_Record):
    role: str
    layer: Count
    fraction_of_depth: Finite
    drop: Interval
    layer_interval: Interval


class SummaryRow(_Record):
    """One section's row of the summary table (and of the cross-model page and the findings table)."""

    relation: str
    passed: StrictBool
    gate: GateRecord
    reason: str | None = None
    n_pairs: Count | None = None
    n_skipped: Count | None = None
    jump: Jump | None = None
    mlp_share: Interval | None = None
    fact_sits: str | None = None
    knockout_peak: KnockoutPeak | None = None


class SectionRecord(_Record):
    """One section (a relation, or every question): its gate, and the numbers of its pairs when studied."""

    relation: str | None
    title: str
    studied: StrictBool
    gate: GateRecord
    reason: str | None = None
    selection: JsonObject | None = None
    dla: JsonObject | None = None
    patching: JsonObject | None = None
    findings: JsonObject | None = None
    tracing: JsonObject | None = None
    knockout: JsonObject | None = None
    pairs: list[JsonObject] = []
    seconds: dict[str, Finite] = {}


class ModelInfo(_Record):
    """The model as the run recorded it (``spec``: as asked for), where it ran."""

    spec: str
    name: str
    path: str
    source: JsonObject = {}
    device: str
    dtype: str


class BridgedModel(ModelInfo):
    """The model as the report's bridge saw it."""

    architecture: str
    n_layers: Annotated[int, Field(ge=1, strict=True)]
    n_heads: Annotated[int, Field(ge=1, strict=True)]
    softcap: Finite | None


class DatasetRecord(DatasetSpec):
    n_questions: Count


class RunRecord(_Record):
    """The evaluated run the report read: where from, and its spec exactly as its results.json stores it."""

    source: str
    spec: RunSpec


class CorruptionRecord(_Record):
    kind: Literal["twin", "noise"]
    seed: StrictInt
    span: str | None = None
    noise_scale: Finite | None = None
    scale: JsonObject | None = None
    noise_scale_rule: str | None = None


class _Common(_Record):
    schema_version: Literal[1] = SCHEMA_VERSION
    dataset: DatasetRecord
    run: RunRecord
    settings: ReportSettings  # a dataclass: read from its JSON object, checked by its __post_init__


class ReportFile(_Common):
    """report.json: a model's report, every number and setting."""

    model: BridgedModel
    corruption: CorruptionRecord
    gate: ReportGate
    evaluation: Summary
    answer_tokens: JsonObject
    n_skipped_pairs: Count
    summary_table: list[SummaryRow]
    sections: list[SectionRecord]
    seconds: dict[str, Finite]
    n_figures: Count

    def studies(self, spec: RunSpec) -> bool:
        """Whether this report was made from a run of ``spec`` (what a leaderboard row links a report by)."""
        return self.run.spec == spec


class DidNotPassFile(_Common):
    """did_not_pass.json: why a model (or every relation) got no report."""

    model: ModelInfo
    reason: str
    gate: ReportGate | GateRecord
    summary: Summary
    sections: list[SectionRecord]


def _upgrade_unversioned(data: dict[str, JsonValue]) -> dict[str, JsonValue]:
    """A report of before schema versions: the run's spec was split into ``model.spec``, ``dataset`` and ``run.settings``."""
    model, dataset, run = data.get("model"), data.get("dataset"), data.get("run")
    if not (isinstance(model, dict) and isinstance(dataset, dict) and isinstance(run, dict) and isinstance(run.get("settings"), dict)):
        return data  # validation names what is missing
    settings = run["settings"]
    assert isinstance(settings, dict)
    spec = {"model": model.get("spec"), "dataset": {k: v for k, v in dataset.items() if k != "n_questions"}, **settings}
    return {"schema_version": SCHEMA_VERSION, **data, "run": {"source": run.get("source"), "spec": spec}}


def _parse(data: JsonValue, model: type[ReportFile] | type[DidNotPassFile], where: str, what: str) -> ReportFile | DidNotPassFile:
    return parse_versioned(data, model, SCHEMA_VERSION, where, what, REDO, {None: _upgrade_unversioned})


def parse_report(data: JsonValue, where: str) -> ReportFile:
    """A :class:`ReportFile` from parsed JSON (``where`` names it in errors)."""
    report = _parse(data, ReportFile, where, "report.json")
    assert isinstance(report, ReportFile)
    return report


def read_report(path: str | Path) -> ReportFile:
    """Read ``path`` (a report.json, or the run folder holding one): the one reader of interp reports."""
    path = Path(path)
    if path.is_dir():
        path = path / REPORT_JSON
    return parse_report(read_json_file(path, "report"), str(path))


def read_did_not_pass(path: str | Path) -> DidNotPassFile:
    """Read a did_not_pass.json (or the run folder holding one)."""
    path = Path(path)
    if path.is_dir():
        path = path / DID_NOT_PASS_JSON
    found = _parse(read_json_file(path, "did_not_pass file"), DidNotPassFile, str(path), "did_not_pass.json")
    assert isinstance(found, DidNotPassFile)
    return found


def json_schema() -> str:
    """The JSON schema of report.json and did_not_pass.json (what ``resources/report.schema.json`` holds)."""
    schema = TypeAdapter(ReportFile | DidNotPassFile).json_schema()
    return json.dumps(schema, indent=1, sort_keys=True) + "\n"


if __name__ == "__main__":
    JSON_SCHEMA.write_text(json_schema(), encoding="utf-8")
    print(f"wrote {JSON_SCHEMA}")
