"""``fk-bench report``: the gate, report.json, the self-contained page, the CLI, and the page in headless Chromium."""

from __future__ import annotations

import csv
import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from support import build_tiny_model
from fk_bench.answers import DEFAULT_GROUPS
from fk_bench.cli import main
from fk_bench.data import load_questions
from fk_bench.evaluation import evaluate
from interp.report import ReportSettings, build_report, weighted_aligned_mean

QUESTIONS = [
    ("q-capital", "Is Paris the capital of France?", "Is Paris the capital of Italy?"),
    ("q-berlin", "Is Berlin the capital of Germany?", "Is Berlin the capital of Spain?"),
    ("q-louvre", "Is the Louvre Museum in Rome?", "Is the Louvre Museum in Paris?"),
    ("q-mismatch", "Is Rome in Italy?", "Is the Eiffel Tower located in Paris?"),
    ("q-alone", "Is Tokyo a city in Japan?", ""),
]


def _write_dataset(path: Path, labels: list[bool]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "question", "answer", "corrupted_question"])
        for (qid, question, corrupted), label in zip(QUESTIONS, labels):
            writer.writerow([qid, question, label, corrupted])
    return path


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """A tiny model and two datasets: labelled as the model answers (accuracy 1) and the opposite (accuracy 0).

    The report's mechanics, not the random model's knowledge, are under test.
    """
    root = tmp_path_factory.mktemp("report")
    loaded = build_tiny_model(root / "model")
    probe = load_questions(str(_write_dataset(root / "probe.csv", [True] * len(QUESTIONS))))
    p_true = evaluate(loaded, probe, DEFAULT_GROUPS, progress=False).questions["p_true"].to_numpy()
    agree = [bool(p > 0.5) for p in p_true]
    return {
        "loaded": loaded,
        "model_dir": root / "model",
        "agree": _write_dataset(root / "agree.csv", agree),
        "disagree": _write_dataset(root / "disagree.csv", [not a for a in agree]),
        "root": root,
    }


@pytest.fixture(scope="module")
def report(setup):
    questions = load_questions(str(setup["agree"]))
    settings = ReportSettings(min_accuracy=0.6, filter_threshold=-1.0, top_k=2, pattern_questions=1, progress=False, dataset_id="agree.csv")
    return build_report(setup["loaded"], questions, DEFAULT_GROUPS, setup["root"] / "out", settings)


def test_gate_writes_did_not_pass_with_its_numbers(setup):
    questions = load_questions(str(setup["disagree"]))
    result = build_report(setup["loaded"], questions, DEFAULT_GROUPS, setup["root"] / "gated", ReportSettings(progress=False))
    assert not result.passed
    assert result.path.name == "did_not_pass.json"
    data = json.loads(result.path.read_text())
    assert data["accuracy"] == 0.0 and data["min_accuracy"] == 0.6
    assert "below the minimum 0.6" in data["reason"]
    assert data["n_questions"] == len(QUESTIONS)
    assert not (result.model_dir / "report.html").exists()


def test_report_json_holds_every_array_and_setting(report, setup):
    assert report.passed
    data = json.loads((report.model_dir / "report.json").read_text())
    n_layers, n_heads = 2, 4
    assert data["settings"]["min_accuracy"] == 0.6 and data["settings"]["top_k"] == 2
    assert data["gate"]["accuracy"] == 1.0 and data["gate"]["n_pass_filter"] == len(QUESTIONS)
    assert data["answer_tokens"]["skipped_multi_token"]  # the tiny tokenizer splits some words
    dla = data["dla"]
    assert len(dla["questions"]) == len(QUESTIONS)
    assert len(dla["logit_lens"]["mean"]) == 2 * n_layers + 1 == len(dla["lens_labels"])
    assert np.array(dla["per_head_mean"]).shape == (n_layers, n_heads)
    assert len(dla["top_heads"]["positive"]) == 2
    for q in dla["questions"]:  # the closures hold in what was written
        assert sum(q["per_layer"]) == pytest.approx(q["logit_diff"], abs=1e-3)
    patching = data["patching"]
    assert patching["skipped_length_mismatch"] == [{"id": "q-mismatch", "clean_tokens": patching["skipped_length_mismatch"][0]["clean_tokens"], "corrupted_tokens": patching["skipped_length_mismatch"][0]["corrupted_tokens"]}]
    assert patching["skipped_length_mismatch"][0]["clean_tokens"] != patching["skipped_length_mismatch"][0]["corrupted_tokens"]
    assert patching["n_without_corruption"] == 1
    assert patching["n_pairs"] == 3
    pair = patching["pairs"][0]
    assert np.array(pair["exact"]["log_odds"]["resid_pre"]).shape == (n_layers, len(pair["clean_tokens"]))
    assert np.array(pair["exact"]["logit_diff"]["head_out"]).shape == (n_layers, n_heads)
    assert set(patching["correlation"]) == {"resid_pre", "attn_out", "mlp_out", "head_out"}
    # lens, layers, heads, 1 pattern question, one pair in full, attribution scatter, and a mean grid per metric with pairs
    assert data["n_figures"] == 6 + len(patching["mean"])
    for metric, n in patching["n_in_mean"].items():
        assert n == sum(drop > 0 for drop in patching["drops"][metric])
        assert (metric in patching["mean"]) == (n > 0)


def test_page_is_self_contained_and_says_what_was_skipped(report):
    page = (report.model_dir / "report.html").read_text()
    assert "<script src=" not in page  # no CDN: plotly.js is inline
    assert "Plotly" in page and len(page) > 1_000_000
    assert "q-mismatch" in page and "different token lengths" in page
    assert page.count('class="figure"') == report.data["n_figures"]


def test_weighted_aligned_mean_aligns_on_the_last_position():
    short, long = np.array([[1.0, 2.0]]), np.array([[10.0, 20.0, 30.0]])
    np.testing.assert_allclose(weighted_aligned_mean([short, long], [1.0, 1.0]), [[10.0, 10.5, 16.0]])
    np.testing.assert_allclose(weighted_aligned_mean([short, long], [3.0, 1.0]), [[10.0, 5.75, 9.0]])


def test_cli_report_and_errors(setup, capsys):
    out = setup["root"] / "cli"
    args = ["report", "--model", str(setup["model_dir"]), "--dataset", str(setup["agree"]), "--out", str(out), "--min-accuracy", "0.5", "--filter-threshold", "-1", "--max-questions", "2", "--no-attribution", "--pattern-questions", "1"]
    assert main(args) == 0
    data = json.loads((out / "model" / "report.json").read_text())
    assert len(data["dla"]["questions"]) == 2 and data["settings"]["attribution"] is False
    assert data["patching"]["correlation"] == {}
    assert "wrote" in capsys.readouterr().out
    assert main([*args, "--max-questions", "0"]) == 2
    assert "--max-questions 0: must be at least 1" in capsys.readouterr().err
    # The same folder, now gated out: the earlier report goes, did_not_pass.json replaces it.
    assert main(["report", "--model", str(setup["model_dir"]), "--dataset", str(setup["disagree"]), "--out", str(out)]) == 0
    assert (out / "model" / "did_not_pass.json").exists()
    assert not (out / "model" / "report.html").exists() and not (out / "model" / "report.json").exists()
    assert "no report (accuracy 0.000 is below the minimum 0.6)" in capsys.readouterr().out


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (Debian packages chromium and chromium-driver; .ci/run installs them)")
def test_page_renders_in_headless_chromium_without_js_errors(report, tmp_path):
    flags = [
        "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}",
        "--enable-logging=stderr", "--v=0", "--virtual-time-budget=20000",
    ]
    url = (report.model_dir / "report.html").resolve().as_uri()
    run = subprocess.run([CHROMIUM, *flags, "--dump-dom", url], capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stderr[-2000:]
    body = re.search(r"<body([^>]*)>", run.stdout)
    assert body, "no <body> in the rendered DOM"
    attrs = dict(re.findall(r'([\w-]+)="([^"]*)"', body.group(1)))
    console_errors = [line for line in run.stderr.splitlines() if "CONSOLE" in line and re.search(r"Uncaught|Error", line)]
    assert console_errors == []
    assert attrs.get("data-js-errors") == "0"
    assert attrs.get("data-expected") == str(report.data["n_figures"])
    assert attrs.get("data-rendered") == attrs.get("data-expected"), "some figures did not render"
