"""``fk-bench report`` fails early and loses nothing: settings and paths checked before any model loads, a model named
by any alias, a failed gate or a full disk never taking an earlier report with it."""

from __future__ import annotations

import errno
import json
import os
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from support.interp import report_json

from fk_bench.cli import main
from fk_bench.errors import FkBenchError
from fk_bench.spec import RunSpec
from interp.core.evaluated import EvaluatedRun, check_matches
from interp.study import report_build
from interp.study.report_file import read_did_not_pass
from interp.study.report_settings import Gate, ReportSettings


@pytest.fixture
def no_model(monkeypatch):
    """Fail the test if a model or run is loaded: every refusal here must come first."""
    monkeypatch.setattr("fk_bench.cli.report.load_inputs", lambda *a, **k: pytest.fail("loaded before the checks"))
    monkeypatch.setattr("interp.core.evaluated.open_run", lambda *a, **k: pytest.fail("opened the run before the checks"))


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["--out", "x" * 300], "is longer than 191 bytes; choose a shorter one"),
        (["--out", "/".join(["d" * 150] * 28)], "longer than 3840 bytes; choose a shorter path"),
        (["--out", "/dev/null"], "exists and is not a folder"),
        (["--dataset", "FIFO"], "--dataset .*FIFO: is a FIFO, socket or device"),
        (["--from-results", "FIFO"], "--from-results .*FIFO: is a FIFO, socket or device"),
        (["--answer-map", "/dev/zero"], "--answer-map /dev/zero: is a FIFO, socket or device"),
    ],
)
def test_report_refuses_bad_paths_before_any_work(tmp_path, capsys, monkeypatch, no_model, flags, expected):
    monkeypatch.chdir(tmp_path)
    os.mkfifo("FIFO")  # reading it would block until a writer comes
    assert main(["report", "--model", "embedded", "--out", "out", *flags]) == 2
    err = capsys.readouterr().err
    assert re.search(expected, err) and err.count("\n") == 1 and "Traceback" not in err, err


@pytest.mark.parametrize(("flags", "expected"), [(["--pair-margin", "0"], "must be more than 0"), (["--noise-scale", "inf"], "finite")])
def test_report_refuses_bad_settings_at_parse_time(tmp_path, capsys, no_model, flags, expected):
    """--pair-margin 0 crashed with NaN after the whole study: now refused before anything runs."""
    with pytest.raises(SystemExit) as caught:
        main(["report", "--out", str(tmp_path), *flags])
    assert caught.value.code == 2 and expected in capsys.readouterr().err
    with pytest.raises(FkBenchError, match="pair margin 0.0: must be more than 0"):
        ReportSettings(pair_margin=0.0)


def _run(model_spec: str = "embedded", name: str = "gemma-3-270m-q4_k_m") -> EvaluatedRun:
    result = SimpleNamespace(spec=RunSpec(model=model_spec), model=SimpleNamespace(name=name, path="/cache/gemma", source={}), questions=[])
    return EvaluatedRun(result, None, "run/results.json")  # type: ignore[arg-type]


@pytest.mark.parametrize(("asked", "matches"), [("embedded", True), ("gemma-3-270m", True), ("gemma-3-270m-q4_k_m", True), ("smollm2", False)])
def test_from_results_takes_every_alias_of_the_runs_model(asked, matches):
    """A run of ``embedded`` is studied when asked as ``gemma-3-270m`` (its zoo alias); another model is refused."""
    if matches:
        check_matches(_run(), {"model": asked})
    else:
        with pytest.raises(FkBenchError, match=r"does not match this report's model 'smollm2' \(the run's is 'embedded'\)"):
            check_matches(_run(), {"model": asked})


def _earlier(folder: Path) -> dict[str, bytes]:
    folder.mkdir(parents=True)
    (folder / "report.json").write_text(json.dumps(report_json("model-a")))
    (folder / "report.html").write_text("<html>earlier</html>")
    (folder / "results.json").write_text("{}")
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def test_a_full_disk_gives_one_line_and_leaves_every_earlier_file(tmp_path, monkeypatch):
    folder = tmp_path / "out" / "model-a"
    before = _earlier(folder)
    real = Path.write_text

    def full(self: Path, *args: object, **kwargs: object) -> int:
        if self.name == "report.html":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "write_text", full)
    with pytest.raises(FkBenchError) as caught:
        report_build._write_report(folder, report_json("model-a"), "<html>new</html>")
    assert "No space left on device" in str(caught.value) and "earlier files are as they were" in str(caught.value)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert not [p.name for p in folder.parent.iterdir() if p.name.startswith(".fk-bench-staging")]  # no half-written folder left


def test_a_failed_gate_keeps_an_earlier_report(tmp_path):
    folder = tmp_path / "out" / "model-a"
    before = _earlier(folder)
    data = report_json("model-a")
    model = {k: v for k, v in data["model"].items() if k not in ("architecture", "n_layers", "n_heads", "softcap")}
    run = SimpleNamespace(model=model, summary=data["evaluation"], dataset=data["dataset"], record=data["run"])
    gate = Gate("paired_accuracy", 0.6, 0.4)
    result = report_build._did_not_pass(folder, gate.reason(), gate, run, ReportSettings(), [])  # type: ignore[arg-type]
    assert not result.passed and read_did_not_pass(folder).reason == "paired_accuracy 0.400 is below the threshold 0.6"
    assert {p.name: p.read_bytes() for p in folder.iterdir() if p.name != "did_not_pass.json"} == before
