"""The "probe − output" column of compare-reports and docs/interp-findings.md, from probe.json files.

:func:`probe_gap_column` maps (model name, prompt text, relation) to the cell's text, the gap and its
paired bootstrap interval (``+0.12 [+0.05, +0.20]``, ``(knows, does not say)`` where the interval lies
above 0), so the comparison can add a column beside each report row whose model, prompt and relation
match. Rows of the whole run use the relation ``all``. The prompt text follows
:func:`interp.pages.compare.read_report` (``plain``, ``fewshot (k=5)``, ``chat``) without the corruption.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from fk_bench.errors import FkBenchError
from fk_bench.prompt_formats import prompt_label
from interp.probes.probe_defaults import KNOWS_MARGIN, PROBE_JSON
from interp.probes.probe_schema import Gap, ProbeReport, read_probe

COLUMN = "probe − output"


def find_probe_reports(sources: Sequence[str | Path]) -> list[Path]:
    """probe.json files: each source is one, a run folder holding one, or a folder searched below (sorted, no duplicates).
    None found is no error: the column is then left out."""
    found: list[Path] = []
    for source in sources:
        path = Path(source)
        if path.is_file() and path.name == PROBE_JSON:
            found.append(path)
        elif path.is_dir():
            found.extend(sorted(p for p in path.rglob(PROBE_JSON) if p.is_file()))
        elif not path.exists():
            raise FkBenchError(f"{path}: no such file or folder")
    return list(dict.fromkeys(p.resolve() for p in found))


def prompt_text(report: ProbeReport) -> str:
    return prompt_label(report.prompt_format, report.fewshot_k)


def gap_text(gap: Gap) -> str:
    """``+0.12 [+0.05, +0.20]``; ``(knows, does not say)`` when the interval lies above the margin; ``n/a`` without a value."""
    if gap.value is None:
        return "n/a"
    text = f"{gap.value:+.2f}"
    if gap.ci_low is None or gap.ci_high is None:
        return text + " [no interval]"
    text += f" [{gap.ci_low:+.2f}, {gap.ci_high:+.2f}]"
    return text + (" (knows, does not say)" if gap.ci_low > KNOWS_MARGIN else "")


def probe_gap_column(reports: Sequence[ProbeReport]) -> dict[tuple[str, str, str], str]:
    """(model name, prompt text, relation) -> the "probe − output" cell; relation ``all`` for the whole run.
    A later report of the same key replaces an earlier one (pass them oldest first)."""
    column: dict[tuple[str, str, str], str] = {}
    for report in reports:
        model, prompt = report.model.name, prompt_text(report)
        column.update({(model, prompt, relation): cell for relation, cell in gap_cells(report).items()})
    return column


def gap_cells(report: ProbeReport) -> dict[str, str]:
    """relation -> the "probe − output" cell of one probe report (``all``: the whole run)."""
    cells = {report.relation: gap_text(report.gap)}
    if report.relation == "all":
        cells.update({relation: gap_text(gap) for relation, gap in report.gap_per_relation.items()})
    return cells


def load_probe_column(sources: Sequence[str | Path]) -> dict[tuple[str, str, str], str]:
    """:func:`probe_gap_column` of every probe.json under ``sources`` (read with :func:`read_probe`)."""
    return probe_gap_column([read_probe(path) for path in find_probe_reports(sources)])
