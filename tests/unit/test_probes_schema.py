"""probe.json's one definition: the committed JSON schema is current, and the reader refuses bad files with one line."""

from __future__ import annotations

import json

import pytest

from fk_bench.errors import FkBenchError
from interp.probes.probe_schema import JSON_SCHEMA, SCHEMA_VERSION, ProbeReport, json_schema, read_probe


def test_the_committed_schema_is_current():
    assert JSON_SCHEMA.read_text(encoding="utf-8") == json_schema(), "run: python -m interp.probes.probe_schema"


def test_the_schema_has_the_keys_the_issue_names():
    fields = ProbeReport.model_fields
    for key in (
        "layers",
        "best_layer",
        "output_paired_accuracy",
        "gap",
        "transfer",
        "steering",
        "model",
        "prompt_format",
        "dtype",
        "dataset",
        "run_spec",
    ):
        assert key in fields
    layer = json.loads(json_schema())["$defs"]["LayerEntry"]["properties"]
    for key in ("layer", "accuracy", "paired_accuracy", "ci_low", "ci_high", "control_accuracy"):
        assert key in layer
    assert set(json.loads(json_schema())["$defs"]["Steering"]["properties"]) >= {"layer", "flipped_share", "random_flipped_share"}
    assert set(json.loads(json_schema())["$defs"]["Transfer"]["properties"]) >= {"domains", "matrix"}
    assert set(json.loads(json_schema())["$defs"]["Gap"]["properties"]) >= {"value", "ci_low", "ci_high"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "holds a JSON list"),
        ('{"schema_version": 99}', "a probe report of schema version 99; this fk-bench reads version 1: upgrade fk-bench"),
        ('{"schema_version": 1, "best_layer": NaN}', "NaN"),
        ('{"schema_version": 1, "schema_version": 1}', "duplicate key 'schema_version'"),
        (json.dumps({"schema_version": SCHEMA_VERSION}), "not a valid probe report"),
    ],
)
def test_reader_refuses_bad_files_with_one_line(tmp_path, text, message):
    path = tmp_path / "probe.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(FkBenchError, match=message) as caught:
        read_probe(tmp_path)
    assert "\n" not in str(caught.value) and str(path) in str(caught.value)


def test_reader_refuses_non_utf8_and_a_missing_file(tmp_path):
    (tmp_path / "probe.json").write_bytes(b"\xff\xfe{")
    with pytest.raises(FkBenchError):
        read_probe(tmp_path)
    with pytest.raises(FkBenchError):
        read_probe(tmp_path / "nowhere")
