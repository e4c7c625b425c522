"""The cross-model comparison read from report.json files: finding them, the table's text, the page, the findings doc
(merged, never wiping the rows of models without reports here), and bad files skipped with one warning each."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from support.interp import HOSTILE_REPORTS, report_json, summary_row_json, write_report

from fk_bench.cli import main
from fk_bench.errors import FkBenchError
from interp.pages import compare, findings_table
from interp.pages.report_sources import find_reports, load_reports


def test_rows_say_depth_fractions_intervals_and_wide(tmp_path):
    write_report(tmp_path, "model-a")
    (report,) = load_reports([tmp_path]).reports
    (row,) = compare.table_rows([report])
    assert row["prompt"] == "chat, noise on the object"
    assert row["jump"] == "MLP 13: 0.78 of depth [0.72, 0.89]"
    assert row["mlp_share"] == "92% [80%, 105%]"
    assert row["knockout"] == "subject at L9 (0.56 of depth): drop 40% [20%, 60%]"
    assert compare.gated_out([report])[0]["relation"] == "atomic_number"


def test_findings_table_escapes_names_and_replaces_only_its_block(tmp_path):
    hostile = "x | y <script>alert(1)</script>"
    write_report(tmp_path / "a", hostile.replace("/", "-"))
    reports = load_reports([tmp_path]).reports
    doc = tmp_path / "findings.md"
    doc.write_text(f"intro\n\n{findings_table.FINDINGS_BEGIN}\nold\n{findings_table.FINDINGS_END}\n\noutro\n")
    findings_table.update_findings(doc, reports)
    text = doc.read_text()
    assert text.startswith("intro\n\n") and text.endswith("\n\noutro\n") and "\nold\n" not in text
    rows = [line for line in text.splitlines() if line.startswith("| x")]
    assert len(rows) == 1 and "<script>" not in rows[0] and rows[0].count(" | ") == 7  # the name's | cannot add a cell
    findings_table.update_findings(doc, reports)
    assert doc.read_text() == text  # regenerating gives the same file
    half = tmp_path / "half.md"
    half.write_text(f"{findings_table.FINDINGS_BEGIN}\n")
    with pytest.raises(FkBenchError, match="one findings marker"):
        findings_table.update_findings(half, reports)


def test_findings_merge_keeps_the_rows_of_models_without_reports_here(tmp_path):
    """Regenerating from Gemma's reports alone keeps the committed Qwen rows (today they were wiped)."""
    write_report(tmp_path / "first", "gemma-x")
    write_report(tmp_path / "first", "qwen-y")
    doc = tmp_path / "findings.md"
    findings_table.update_findings(doc, load_reports([tmp_path / "first"]).reports)
    before = doc.read_text()
    qwen_rows = [line for line in before.splitlines() if line.startswith("| qwen-y (")]
    assert len(qwen_rows) == 1
    gemma = report_json("gemma-x", rows=[summary_row_json("capital_of", mlp_share=0.5), summary_row_json("city_in_country")])
    write_report(tmp_path / "second", "gemma-x", data=gemma)
    merged = findings_table.update_findings(doc, load_reports([tmp_path / "second"]).reports)
    after = doc.read_text()
    assert merged.replaced == ["gemma-x"] and merged.kept == ["qwen-y"]
    assert [line for line in after.splitlines() if line.startswith("| qwen-y (")] == qwen_rows
    gemma_rows = [line for line in after.splitlines() if line.startswith("| gemma-x (")]
    assert [row.split(" | ")[1] for row in gemma_rows] == ["capital_of", "city_in_country"] and "50% " in gemma_rows[0]
    assert "Generated from 2 reports:" in after and after.count("- qwen-y (") == 1 and after.count("- gemma-x (") == 1


def _without_last_column(text: str) -> str:
    """The findings doc with the last column of its generated table dropped (the doc before the probe column)."""
    inside, out = False, []
    for line in text.splitlines():
        inside = (inside or "findings-table:begin" in line) and "findings-table:end" not in line
        if inside and line.startswith("|-"):
            line = line[: -len("---|")]
        elif inside and line.startswith("| "):
            line = line[: line.rstrip(" |").rfind("|") + 1]
        out.append(line)
    return "\n".join(out) + "\n"


def test_findings_merge_on_the_committed_doc_keeps_every_qwen_row(tmp_path):
    committed = Path(__file__).parents[2] / "docs" / "interp-findings.md"
    doc = tmp_path / "interp-findings.md"
    doc.write_text(_without_last_column(committed.read_text(encoding="utf-8")), encoding="utf-8")  # as written before the probe column
    qwen = [line for line in doc.read_text().splitlines() if line.startswith("| qwen2.5-coder-1.5b-instruct (")]
    write_report(tmp_path / "reports", "gemma-3-270m-q4_k_m")
    merged = findings_table.update_findings(doc, load_reports([tmp_path / "reports"]).reports)
    lines = doc.read_text().splitlines()
    padded = [line[: -len(" |")] + " | — |" for line in qwen]  # kept rows get the probe column (no probe.json for them)
    assert qwen and [line for line in lines if line.startswith("| qwen2.5-coder-1.5b-instruct (")] == padded
    assert merged.kept == ["qwen2.5-coder-1.5b-instruct"] and merged.replaced == ["gemma-3-270m-q4_k_m"]
    assert len([line for line in lines if line.startswith("| gemma-3-270m-q4_k_m (")]) == 1


def test_finding_reports_and_bad_files(tmp_path):
    with pytest.raises(FkBenchError, match="no report.json under"):
        find_reports([tmp_path])
    bad = tmp_path / "run" / "report.json"
    bad.parent.mkdir()
    bad.write_text('{"model": {}}')
    with pytest.raises(FkBenchError, match="no usable report.json .* 1 skipped"):
        load_reports([tmp_path])
    with pytest.raises(FkBenchError, match="not a valid report.json"):
        load_reports([tmp_path], strict=True)
    other = tmp_path / "notes.txt"
    other.write_text("")
    with pytest.raises(FkBenchError, match="not a report.json"):
        find_reports([other])


def test_staging_folders_are_never_read(tmp_path):
    write_report(tmp_path, "done")
    write_report(tmp_path / ".fk-bench-staging-run-x1", "ghost")
    write_report(tmp_path / "done", ".fk-bench-staging-partial")
    assert [p.parent.name for p in find_reports([tmp_path])] == ["done"]
    assert [r.model for r in load_reports([tmp_path]).reports] == ["done"]


def test_the_page_counts_reports_draws_every_point_on_its_axis_and_shows_no_absolute_path(tmp_path):
    wide = report_json("model-b", rows=[summary_row_json("capital_of", mlp_share=1.59, wide=True), summary_row_json("city_in_country")])
    write_report(tmp_path / "reports", "model-a")
    write_report(tmp_path / "reports", "model-b", data=wide)
    reports = load_reports([tmp_path / "reports"]).reports
    page, n_figures = compare.render_compare_page(reports, tmp_path / "page.html")
    assert n_figures == 3 and "2 interp reports side by side" in page and "report(s)" not in page
    assert str(tmp_path) not in page  # paths relative to the page, never absolute
    one, _ = compare.render_compare_page(reports[:1], tmp_path / "page.html")
    assert "1 interp report<" in one or "1 interp report " in one
    (share,) = [fig for caption, fig in compare.figures(reports) if "MLP" in fig.layout.title.text]
    low, high = share.layout.yaxis.range
    points = [(y, e) for trace in share.data for y, e in zip(trace.y, trace.error_y.array)]
    assert all(low <= y - 0.2 and y + e <= high for y, e in points)  # 159% and its interval inside the axis
    colors = {trace.name: trace.marker.color for trace in share.data}
    assert colors["model-b (chat, noise on the object) (wide interval)"] == colors["model-b (chat, noise on the object)"]
    assert colors["model-a (chat, noise on the object)"] != colors["model-b (chat, noise on the object)"]
    symbols = {trace.name: trace.marker.symbol for trace in share.data}
    assert (
        symbols["model-b (chat, noise on the object) (wide interval)"] == "circle-open" and symbols["model-a (chat, noise on the object)"] == "circle"
    )


def test_cli_skips_bad_reports_with_one_warning_and_merges(tmp_path, capsys):
    write_report(tmp_path / "reports", "good")
    (tmp_path / "reports" / "bad").mkdir()
    (tmp_path / "reports" / "bad" / "report.json").write_text("{not json")
    page, doc = tmp_path / "page.html", tmp_path / "findings.md"
    assert main(["compare-reports", str(tmp_path / "reports"), "--out", str(page), "--findings", str(doc)]) == 0
    out, err = capsys.readouterr()
    (warning,) = err.strip().splitlines()
    assert re.match(r"warning: skipped .*bad/report.json: not valid JSON", warning)
    assert "compared 1 report; 1 skipped" in out and "findings: replaced the rows of good" in out
    assert main(["compare-reports", str(tmp_path / "reports"), "--out", str(page), "--strict"]) == 2
    assert "bad/report.json" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["--out", "page.txt"], "give a .html or .htm path"),
        (["--out", "page.html", "--screenshot", "shot.txt"], "--screenshot .*shot.txt: give a .png path"),
        (["--findings", "findings.txt"], "give a .md or .markdown path"),
        (["--out", "x" * 300 + ".html"], "is longer than 191 bytes; choose a shorter one"),
        (["--out", "missing-folder/sub/page.html", "--screenshot", "/dev/null.png"], "folder"),
        (["--findings", "f.md", "--screenshot", "s.png"], "--screenshot needs --out"),
    ],
)
def test_cli_refuses_bad_outputs_before_reading_anything(tmp_path, capsys, monkeypatch, flags, expected):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("interp.pages.report_sources.load_reports", lambda *a, **k: pytest.fail("read before the outputs were checked"))
    (tmp_path / "missing-folder").write_text("a file where a folder is expected")
    assert main(["compare-reports", str(tmp_path), *flags]) == 2
    assert re.search(expected, capsys.readouterr().err)


def test_cli_refuses_a_fifo_or_device_as_output(tmp_path, capsys):
    fifo = tmp_path / "page.html"
    os.mkfifo(fifo)
    assert main(["compare-reports", str(tmp_path), "--out", str(fifo)]) == 2
    assert "FIFO, socket or device" in capsys.readouterr().err


def test_a_report_json_round_trips_through_the_reader(tmp_path):
    path = write_report(tmp_path, "model-a")
    assert json.loads(path.read_text())["schema_version"] == 1
    assert load_reports([path]).reports[0].dataset.startswith("fk_yesno")


@pytest.mark.parametrize("case", list(HOSTILE_REPORTS))
def test_one_bad_report_is_skipped_with_one_warning_and_the_rest_go_on(tmp_path, case):
    """Each hostile report.json (tracebacks in compare-reports before) beside a good one: the good one is shown, the bad one
    named with why; the findings table is still written."""
    content, expected = HOSTILE_REPORTS[case]
    write_report(tmp_path, "good")
    bad = tmp_path / "bad" / "report.json"
    bad.parent.mkdir()
    bad.write_bytes(content.encode() if isinstance(content, str) else content)
    warnings: list[str] = []
    loaded = load_reports([tmp_path], warn=warnings.append)
    assert [r.model for r in loaded.reports] == ["good"] and [s.path.name for s in loaded.skipped] == ["report.json"]
    (warning,) = warnings
    assert warning.startswith(f"warning: skipped {bad.resolve()}") and re.search(expected, warning) and "\n" not in warning
    merged = findings_table.update_findings(tmp_path / "findings.md", loaded.reports)
    assert merged.replaced == ["good"]
