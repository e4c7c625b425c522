"""report.json's one definition and one reader: the schema file is current, a good report reads, and every hostile
file gives one line naming the file and why (never a traceback, RecursionError, MemoryError or a hang)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from support.interp import HOSTILE_REPORTS as HOSTILE
from support.interp import report_json

from fk_bench.errors import FkBenchError
from fk_bench.spec import RunSpec
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
    assert report.studies(RunSpec(model="model-a", prompt_format="chat")) and not report.studies(RunSpec(model="model-a"))


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
    _write(path, b"\xef\xbb\xbf" + json.dumps(report_json("model-a")).encode())
    assert read_report(path).model.name == "model-a"


def test_a_huge_file_is_refused_before_it_is_read(tmp_path):
    path = tmp_path / "report.json"
    with open(path, "wb") as handle:  # sparse: 100 MB on paper, nothing on disk
        handle.truncate(100 * 1024 * 1024)
    with pytest.raises(FkBenchError, match=r"104,857,600 bytes, more than the 67,108,864 fk-bench reads"):
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
