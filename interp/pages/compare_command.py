"""``fk-bench compare-reports``'s steps: every output path checked first, the reports read once (a bad one skipped
with a warning), then the cross-model page, its screenshot and the merged findings table."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from fk_bench.errors import FkBenchError
from fk_bench.path_checks import check_output_file


def _check_outputs(out: Path | None, findings: Path | None, screenshot: Path | None) -> None:
    if out is None and findings is None:
        raise FkBenchError("compare-reports: give --out PAGE.html, --findings FILE.md, or both")
    if screenshot is not None and out is None:
        raise FkBenchError("compare-reports: --screenshot needs --out")
    if out is not None:
        check_output_file(out, "--out", (".html", ".htm"))
    if findings is not None:
        check_output_file(findings, "--findings", (".md", ".markdown"))
    if screenshot is not None:
        check_output_file(screenshot, "--screenshot", (".png",))


def compare_reports(
    sources: list[Path],
    out: Path | None,
    findings: Path | None,
    screenshot: Path | None = None,
    strict: bool = False,
    say: Callable[[str], None] = print,
    warn: Callable[[str], None] = print,
) -> None:
    """The page at ``out`` and/or the findings merged into ``findings``, from the reports under ``sources``."""
    from interp.pages.compare import write_compare_page
    from interp.pages.findings_table import update_findings
    from interp.pages.report_sources import load_reports

    _check_outputs(out, findings, screenshot)
    reports = load_reports(list(sources), strict=strict, warn=warn)
    skipped = f"; {len(reports.skipped)} skipped" if reports.skipped else ""
    if out is not None:
        path, n_reports, n_figures = write_compare_page(reports, out)
        say(f"compared {n_reports} report{'' if n_reports == 1 else 's'}{skipped} ({n_figures} figure{'' if n_figures == 1 else 's'})\nwrote {path}")
        if screenshot is not None:
            from fk_bench.pages.browser import screenshot as take

            say(f"wrote {take(path, screenshot)}")
    if findings is not None:
        merged = update_findings(findings, reports.reports)
        kept = f"; kept the rows of {', '.join(merged.kept)}" if merged.kept else ""
        say(f"findings: replaced the rows of {', '.join(merged.replaced)}{kept}{skipped}\nwrote {merged.path}")
