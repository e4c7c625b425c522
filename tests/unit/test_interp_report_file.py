"""report.json's one definition and one reader: the schema file is current, a good report reads, and every hostile
file gives one line naming the file and why (never a traceback, RecursionError, MemoryError or a hang)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from support.interp import report_json

from fk_bench.errors import FkBenchError
from interp.core.versioned_json import MAX_BYTES, read_json_file
from interp.study import report_file
from interp.study.report_file import read_did_not_pass, read_report


def test_the_schema_file_is_current():
    """fk_bench/resources/report.schema.json is the schema of ReportFile and DidNotPassFile (python -m interp.study.report_file)."""
    assert report_file.JSON_SCHEMA.read_text(encoding="utf-8") == report_file.json_schema()


def test_a_report_reads_typed_with_its_run_spec(tmp_path):
    path = tmp_path / "report.json"
    path.write_text(json.dumps(report_json("model-a")))
    report = read_report(tmp_path)  # the folder holding it reads too
    assert report.schema_version == 1 and report.model.n_layers == 18
    assert report.run.spec.model == "model-a" and report.run.spec.prompt_format == "chat"
    assert report.summary_table[0].jump is not None and report.summary_table[0].jump.layer == 13


def test_an_unversioned_report_is_upgraded_with_its_spec_rebuilt(tmp_path):
    """Reports of before schema versions split the run spec into model.spec, dataset and run.settings."""
    data = report_json("model-a")
    spec = data["run"]["spec"]
    data.pop("schema_version")
    data["run"] = {"source": "old", "settings": {k: v for k, v in spec.items() if k not in ("model", "dataset")}}
    path = tmp_path / "report.json"
    path.write_text(json.dumps(data))
    assert read_report(path).run.spec.model_dump(mode="json") == spec


def _write(path: Path, content: bytes | str) -> None:
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)


def _with(**changes: object) -> str:
    return json.dumps({**report_json("model-a"), **changes})


GOOD = json.dumps(report_json("model-a"))
HOSTILE = {
    "not JSON": ("{not json", "not valid JSON"),
    "truncated": (GOOD[: len(GOOD) // 2], "not valid JSON"),
    "empty": ("", "not valid JSON"),
    "a JSON list": ("[1, 2]", "holds a JSON list, not a report.json"),
    "a JSON string": ('"report"', "holds a JSON str, not a report.json"),
    "duplicate keys": ('{"schema_version": 1, "schema_version": 1}', "holds the key 'schema_version' twice"),
    "NaN": (GOOD.replace('"n_figures": 0', '"n_figures": NaN'), "holds NaN, not a number strict JSON allows"),
    "Infinity": (GOOD.replace('"total": 1.0', '"total": Infinity'), "holds Infinity"),
    "latin-1": (GOOD.replace("model-a", "mod\u00e8le").encode("latin-1"), "is not UTF-8 text"),
    "UTF-16": (GOOD.encode("utf-16"), "is not UTF-8 text"),
    "nested 10,000 deep": ("[" * 10_000 + "]" * 10_000, "nested deeper than 64 levels"),
    "nested 100 deep": ('{"a": ' * 100 + "1" + "}" * 100, "nested deeper than 64 levels"),
    "schema version 99": (_with(schema_version=99), "schema version 99; this fk-bench reads version 1: upgrade fk-bench"),
    "schema version 0": (_with(schema_version=0), "schema version 0; this fk-bench reads version 1: rerun fk-bench report"),
    "schema version as text": (_with(schema_version="1"), "schema version '1'; .* rerun fk-bench report"),
    "no schema version, no run": (json.dumps({"model": {}}), "not a valid report.json"),
    "summary_table not a list": (_with(summary_table={"a": 1}), "summary_table: Input should be a valid list"),
    "n_layers as text": (_with(model={**report_json()["model"], "n_layers": "18"}), "model.n_layers"),
    "unknown top-level key": (_with(injected=1), "injected: Extra inputs are not permitted"),
    "pair margin 0 in settings": (_with(settings={**report_json()["settings"], "pair_margin": 0.0}), "pair margin 0.0: must be more than 0"),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_a_hostile_report_gives_one_line_naming_the_file(tmp_path, case):
    content, expected = HOSTILE[case]
    path = tmp_path / "report.json"
    _write(path, content)
    with pytest.raises(FkBenchError) as caught:
        read_report(path)
    message = str(caught.value)
    assert str(path) in message and "\n" not in message
    assert __import__("re").search(expected, message), message


def test_a_bom_is_accepted(tmp_path):
    path = tmp_path / "report.json"
    _write(path, b"\xef\xbb\xbf" + GOOD.encode())
    assert read_report(path).model.name == "model-a"


def test_a_huge_file_is_refused_before_it_is_read(tmp_path):
    path = tmp_path / "report.json"
    with open(path, "wb") as handle:  # sparse: 100 MB on paper, nothing on disk
        handle.truncate(100 * 1024 * 1024)
    with pytest.raises(FkBenchError, match=r"100 MiB, more than the 64 MiB"):
        read_report(path)
    assert MAX_BYTES == 64 * 1024 * 1024


@pytest.mark.parametrize(
    ("kind", "expected"), [("fifo", "not a regular file"), ("folder", "is a folder"), ("missing", "not found"), ("device", "not a regular file")]
)
def test_special_files_are_refused_without_a_hang(tmp_path, kind, expected):
    path = tmp_path / "report.json"
    if kind == "fifo":
        os.mkfifo(path)  # opening it for reading would block until a writer comes
    elif kind == "folder":
        path.mkdir()
        path = path / "report.json"
        path.mkdir()
    elif kind == "device":
        path = Path("/dev/zero")  # endless: reading it whole would never finish
    with pytest.raises(FkBenchError, match=expected):
        read_json_file(path, "report")


def test_did_not_pass_reads_with_the_same_reader(tmp_path):
    data = report_json("model-a")
    did_not_pass = {k: data[k] for k in ("schema_version", "dataset", "run", "settings", "sections")}
    model = {k: v for k, v in data["model"].items() if k not in ("architecture", "n_layers", "n_heads", "softcap")}
    did_not_pass.update(model=model, reason="below the gate", gate=data["gate"], summary=data["evaluation"])
    (tmp_path / "did_not_pass.json").write_text(json.dumps(did_not_pass))
    assert read_did_not_pass(tmp_path).reason == "below the gate"
    (tmp_path / "did_not_pass.json").write_text(json.dumps({**did_not_pass, "schema_version": 7}))
    with pytest.raises(FkBenchError, match="a did_not_pass.json of schema version 7"):
        read_did_not_pass(tmp_path)
