"""The reports a cross-model page or the findings table is made from: found under the folders given, each read
with the one reader (:func:`interp.study.report_file.read_report`), a bad one skipped with one line saying why.

A report.json inside a staging folder (an unfinished or killed write, :func:`fk_bench.files.is_staging`) is
never read. A file that cannot be read (malformed, not UTF-8, huge, pathologically nested, of an unknown
schema version, ...) is skipped with a warning naming it and why; the caller fails only when nothing usable
is left, or on the first bad file when asked to be strict.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fk_bench.errors import FkBenchError
from fk_bench.prompt_formats import prompt_label
from fk_bench.spec import dataset_label
from interp.defaults import REPORT_JSON
from interp.study.report_file import ReportFile, read_report


@dataclass
class ModelReport:
    """One report.json as the pages show it: which model, prompt and data, and its per-relation summary rows."""

    path: Path
    model: str
    prompt: str
    architecture: str
    n_layers: int
    dataset: str
    rows: list[dict[str, Any]]
    corruption: str
    probe_gaps: dict[str, str] = field(default_factory=dict)
    """relation -> "probe − output" cell, from the probe.json beside the report when it probed the same run."""


@dataclass
class Skipped:
    """A report file that was not used, and why (one line)."""

    path: Path
    why: str


@dataclass
class Reports:
    """The reports read, and the files skipped."""

    reports: list[ModelReport] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


def _is_staging(path: Path, root: Path) -> bool:
    from fk_bench.files import is_staging

    try:
        return is_staging(path.relative_to(root))
    except ValueError:
        return is_staging(path)


def find_reports(sources: list[str | Path]) -> list[Path]:
    """report.json files: each source is one, a run folder holding one, or a folder searched below (sorted, no
    duplicates, none inside a staging folder)."""
    found: list[Path] = []
    for source in sources:
        path = Path(source)
        if path.is_file():
            if path.name != REPORT_JSON:
                raise FkBenchError(f"{path}: not a {REPORT_JSON} (give report files or the folders that hold them)")
            if _is_staging(path, Path.cwd()):
                raise FkBenchError(f"{path}: inside a staging folder (an unfinished write); give a finished report")
            found.append(path)
        elif path.is_dir():
            found.extend(sorted(p for p in path.rglob(REPORT_JSON) if not _is_staging(p, path) and p.is_file()))
        else:
            raise FkBenchError(f"{path}: no such file or folder")
    unique = list(dict.fromkeys(p.resolve() for p in found))
    if not unique:
        raise FkBenchError(f"no {REPORT_JSON} under {', '.join(str(s) for s in sources)} (fk-bench report writes OUT/<run>/{REPORT_JSON})")
    return unique


def _prompt_text(report: ReportFile) -> str:
    """``chat``, ``fewshot (k=4)``, then the corruption: ``plain, twin``, ``chat, noise on the object``."""
    spec = report.run.spec
    prompt = prompt_label(spec.prompt_format, spec.fewshot_k)
    corruption = report.corruption
    return f"{prompt}, {corruption.kind}" + (f" on the {corruption.span}" if corruption.span else "")


def model_report(path: Path, report: ReportFile) -> ModelReport:
    """What the pages show of one report."""
    return ModelReport(
        path=path,
        model=report.model.name,
        prompt=_prompt_text(report),
        architecture=report.model.architecture,
        n_layers=report.model.n_layers,
        dataset=dataset_label(report.dataset.model_dump()),
        rows=[row.model_dump() for row in report.summary_table],
        corruption=report.corruption.kind,
        probe_gaps=_probe_gaps(path.parent, report),
    )


def _probe_gaps(folder: Path, report: ReportFile) -> dict[str, str]:
    """The probe − output cells of ``folder``'s probe.json, when it probed the run this report studied (else none)."""
    from interp.probes.gap_column import gap_cells
    from interp.probes.probe_defaults import PROBE_JSON
    from interp.probes.probe_schema import read_probe

    path = folder / PROBE_JSON
    if not path.is_file():
        return {}
    try:
        probe = read_probe(path)
    except FkBenchError:
        return {}  # a bad probe.json leaves the column empty; `fk-bench probe` names the problem when it is read there
    return gap_cells(probe) if probe.run_spec == report.run.spec.model_dump(mode="json") else {}


def load_reports(sources: list[str | Path], strict: bool = False, warn: Callable[[str], None] | None = None) -> Reports:
    """Every report under ``sources``; a bad one is skipped (``warn`` gets one line naming it and why), or with
    ``strict`` it stops everything. Fails when no report is left."""
    out = Reports()
    for path in find_reports(sources):
        try:
            out.reports.append(model_report(path, read_report(path)))
        except FkBenchError as err:
            if strict:
                raise
            why = str(err).split(f"{path}: ", 1)[-1]  # the reader's line names the file first
            out.skipped.append(Skipped(path, why))
            if warn is not None:
                warn(f"warning: skipped {path}: {why}")
    if not out.reports:
        raise FkBenchError(f"no usable {REPORT_JSON} under {', '.join(str(s) for s in sources)}: {len(out.skipped)} skipped (see the warnings)")
    return out
