"""The cross-model comparison read from report.json files: finding them, the table's text, the findings doc."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fk_bench.errors import FkBenchError
from interp.pages import compare


def _interval(estimate, low, high, wide=False):
    return {"estimate": estimate, "low": low, "high": high, "n_pairs": 10, "kind": "magnitude", "wide": wide}


def _report(folder: Path, name: str, n_layers: int = 18) -> Path:
    row = {
        "relation": "capital_of",
        "passed": True,
        "gate": {"metric": "paired_accuracy", "threshold": 0.6, "value": 0.8, "passed": True},
        "n_pairs": 10,
        "n_skipped": 0,
        "jump": {
            "name": "MLP 13",
            "layer": 13,
            "fraction_of_depth": 14 / n_layers,
            "layer_interval": {**_interval(13.0, 12.0, 15.0), "kind": "layer"},
        },
        "mlp_share": _interval(0.92, 0.8, 1.05),
        "fact_sits": "subject last L2-9; last L12-17",
        "knockout_peak": {"role": "subject", "layer": 9, "fraction_of_depth": 10 / n_layers, "drop": _interval(0.4, 0.2, 0.6)},
    }
    gated = {"relation": "atomic_number", "passed": False, "gate": {"metric": "paired_accuracy", "threshold": 0.6, "value": 0.5, "passed": False}}
    data = {
        "model": {"name": name, "architecture": "Gemma3ForCausalLM", "n_layers": n_layers},
        "run": {"settings": {"prompt_format": "chat"}},
        "corruption": {"kind": "noise", "span": "object"},
        "summary_table": [row, gated],
    }
    path = folder / name / "report.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(data))
    return path


def test_rows_say_depth_fractions_intervals_and_wide(tmp_path):
    _report(tmp_path, "model-a")
    (report,) = compare.load_reports([tmp_path])
    (row,) = compare.table_rows([report])
    assert row["prompt"] == "chat, noise on the object"
    assert row["jump"] == "MLP 13: 0.78 of depth [0.72, 0.89]"
    assert row["mlp_share"] == "92% [80%, 105%]"
    assert row["knockout"] == "subject at L9 (0.56 of depth): drop 40% [20%, 60%]"
    assert compare.gated_out([report])[0]["relation"] == "atomic_number"


def test_findings_table_escapes_names_and_replaces_only_its_block(tmp_path):
    hostile = "x | y <script>alert(1)</script>"
    _report(tmp_path / "a", hostile.replace("/", "-"))
    reports = compare.load_reports([tmp_path])
    doc = tmp_path / "findings.md"
    doc.write_text(f"intro\n\n{compare.FINDINGS_BEGIN}\nold\n{compare.FINDINGS_END}\n\noutro\n")
    compare.update_findings(doc, reports)
    text = doc.read_text()
    assert text.startswith("intro\n\n") and text.endswith("\n\noutro\n") and "\nold\n" not in text
    rows = [line for line in text.splitlines() if line.startswith("| x")]
    assert len(rows) == 1 and "<script>" not in rows[0] and rows[0].count(" | ") == 6  # the name's | cannot add a cell
    compare.update_findings(doc, reports)
    assert doc.read_text() == text  # regenerating gives the same file
    half = tmp_path / "half.md"
    half.write_text(f"{compare.FINDINGS_BEGIN}\n")
    with pytest.raises(FkBenchError, match="one findings marker"):
        compare.update_findings(half, reports)


def test_finding_reports_and_bad_files(tmp_path):
    with pytest.raises(FkBenchError, match="no report.json under"):
        compare.find_reports([tmp_path])
    bad = tmp_path / "run" / "report.json"
    bad.parent.mkdir()
    bad.write_text('{"model": {}}')
    with pytest.raises(FkBenchError, match="no summary_table"):
        compare.load_reports([tmp_path])
    other = tmp_path / "notes.txt"
    other.write_text("")
    with pytest.raises(FkBenchError, match="not a report.json"):
        compare.find_reports([other])
