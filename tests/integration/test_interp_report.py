"""``fk-bench report`` end to end on tiny random models: the gate, the pairs, report.json, the page, the CLI, Chromium."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import numpy as np
import pytest
from support.interp import build_family_model

from fk_bench.answers import DEFAULT_GROUPS
from fk_bench.cli import main
from fk_bench.data import load_questions
from fk_bench.evaluation import evaluate
from fk_bench.pages.browser import dump_dom, find_chromium
from interp.report import ReportSettings, build_report

PAIRS = [
    ("Is Paris the capital of France?", "Is Paris the capital of Italy?"),
    ("Is Berlin the capital of Germany?", "Is Berlin the capital of Spain?"),
    ("Is Madrid the capital of Spain?", "Is Madrid the capital of Japan?"),
    ("Is Rome in Italy?", "Is Rome in the Eiffel Tower?"),  # different token lengths
    ("Is the Louvre Museum in Rome?", "Is the Louvre Museum in Paris?"),
]
N_LAYERS, N_HEADS = 2, 4


def _write(path: Path, first_is_true: list[bool]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "question", "answer", "corrupted_question", "pair_id"])
        for number, ((a, b), label) in enumerate(zip(PAIRS, first_is_true)):
            writer.writerow([f"p{number}-a", a, label, b, f"p{number}"])
            writer.writerow([f"p{number}-b", b, not label, a, f"p{number}"])
    return path


def _datasets(loaded, root: Path, prompt_format: str) -> tuple[Path, Path]:
    """Labelled as the model ranks each pair (paired accuracy 1) and the opposite (0): the report's
    mechanics, not the random model's knowledge, are under test."""
    probe = load_questions(str(_write(root / f"probe-{prompt_format}.csv", [True] * len(PAIRS))))
    p_true = evaluate(loaded, probe, DEFAULT_GROUPS, prompt_format=prompt_format, progress=False).questions["p_true"].to_numpy()
    agree = [bool(p_true[2 * i] > p_true[2 * i + 1]) for i in range(len(PAIRS))]
    return _write(root / f"agree-{prompt_format}.csv", agree), _write(root / f"disagree-{prompt_format}.csv", [not a for a in agree])


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("report")
    out = {"root": root}
    for family, prompt_format in (("llama", "plain"), ("gemma3", "chat")):
        loaded = build_family_model(family, root / family, chat=True)
        out[family] = {"dir": root / family, "format": prompt_format, "data": _datasets(loaded, root, prompt_format)}
    return out


def _report(setup, family: str, **overrides):
    entry = setup[family]
    loaded = build_family_model(family, setup["root"] / f"{family}-fresh", chat=True)  # each report takes its model over
    settings = ReportSettings(
        prompt_format=entry["format"], gate_threshold=0.6, pair_margin=0.0, exact_pairs=2, top_k=2, progress=False, dataset_id="agree.csv"
    )
    for key, value in overrides.items():
        setattr(settings, key, value)
    return build_report(loaded, load_questions(str(entry["data"][0])), DEFAULT_GROUPS, setup["root"] / f"out-{family}", settings)


@pytest.fixture(scope="module")
def plain_report(setup):
    return _report(setup, "llama")


@pytest.fixture(scope="module")
def chat_report(setup):
    return _report(setup, "gemma3")


def test_gate_writes_did_not_pass_with_its_metric_value_and_threshold(setup):
    entry = setup["llama"]
    loaded = build_family_model("llama", setup["root"] / "llama-gated")
    result = build_report(loaded, load_questions(str(entry["data"][1])), DEFAULT_GROUPS, setup["root"] / "gated", ReportSettings(progress=False))
    assert not result.passed and result.path.name == "did_not_pass.json"
    data = json.loads(result.path.read_text())
    assert data["gate"] == {"metric": "paired_accuracy", "threshold": 0.6, "value": 0.0, "passed": False}
    assert "paired_accuracy 0.000 is below the threshold 0.6" in data["reason"]
    assert data["settings"]["gate_metric"] == "paired_accuracy" and data["settings"]["pair_margin"] == 1.0
    assert not (result.model_dir / "report.html").exists()


def test_report_json_holds_every_array_and_setting(plain_report):
    assert plain_report.passed
    data = json.loads((plain_report.model_dir / "report.json").read_text())
    assert data["gate"] == {"metric": "paired_accuracy", "threshold": 0.6, "value": 1.0, "passed": True}
    assert data["settings"]["pair_margin"] == 0.0 and data["settings"]["prompt_format"] == "plain"
    assert data["model"]["architecture"] == "LlamaForCausalLM" and data["model"]["n_layers"] == N_LAYERS
    selection = data["selection"]
    assert (selection["n_pairs_in_data"], selection["n_right_by_margin"], selection["n_studied"]) == (5, 5, 4)
    assert [s["pair_id"] for s in selection["skipped_length_mismatch"]] == ["p3"]
    assert data["answer_tokens"]["skipped_multi_token"]  # the tiny tokenizer splits some words
    pairs = data["pairs"]
    assert len(pairs) == 4
    for pair in pairs:  # the closures hold in what was written, and the grids start at the first difference
        dla = pair["dla"]
        assert sum(dla["per_layer"]) == pytest.approx(dla["final_projection"], abs=1e-4)
        assert dla["logit_lens"][-1] == pytest.approx(dla["logit_diff"], abs=1e-4)
        width = pair["n_tokens"] - pair["shared_prefix"]
        assert np.array(pair["attribution_log_odds"]["resid_pre"]).shape == (N_LAYERS, width)
        assert np.array(pair["attribution_log_odds"]["head_out"]).shape == (N_LAYERS, N_HEADS)
        assert pair["clean_str_tokens"][: pair["shared_prefix"]] == pair["corrupted_str_tokens"][: pair["shared_prefix"]]
    exact = [p for p in pairs if p["exact"] is not None]
    assert len(exact) == 2 and {p["pair_id"] for p in exact} == set(data["patching"]["exact_pairs"])
    assert min(p["eval_margin"] for p in exact) >= max(p["eval_margin"] for p in pairs if p["exact"] is None)
    for pair in exact:
        assert set(pair["exact"]) == {"log_odds", "logit_diff"}
        assert pair["exact"]["log_odds"]["resid_pre"][0][0] == pytest.approx(1.0, abs=1e-4)  # the one differing token at layer 0
    patching = data["patching"]
    assert patching["exact_methods"] == ["layer sweeps"] and patching["exact_fallback_reason"] is None
    assert set(patching["correlation"]) == {"resid_pre", "attn_out", "mlp_out", "head_out"}
    assert len(patching["columns"]) == max(p["n_tokens"] - p["shared_prefix"] for p in pairs)
    assert data["findings"]["positions_from"] == "exact patching"
    # lens, layers, heads, patterns of 1 pair, exact mean, attribution mean, one pair in full, attribution vs exact
    assert data["n_figures"] == 8


def test_chat_prompts_share_the_system_prompt_and_skip_it(chat_report, setup):
    data = chat_report.data
    assert chat_report.model_dir.name.endswith("--chat")  # the folder fk-bench eval writes for this run
    assert data["settings"]["prompt_format"] == "chat"
    for pair in data["pairs"]:
        tokens = "".join(pair["clean_str_tokens"][: pair["shared_prefix"]])
        assert "system" in tokens and "answer" in tokens  # the whole system prompt is in the shared prefix
        assert np.array(pair["attribution_log_odds"]["mlp_out"]).shape[1] == pair["n_tokens"] - pair["shared_prefix"]
    page = (chat_report.model_dir / "report.html").read_text()
    assert "shared prefix" in page and "EXACT" in page and "ESTIMATE" in page


def test_page_is_self_contained_and_says_what_was_skipped(plain_report):
    page = (plain_report.model_dir / "report.html").read_text()
    assert "<script src=" not in page and "Plotly" in page  # plotly.js is inline
    assert "p3 (" in page and "different token lengths" in page
    assert page.count('class="figure"') == plain_report.data["n_figures"]


def test_the_notebooks_paris_questions_are_paired_with_their_corrupted_questions(setup):
    """No twin is a row there: each corrupted question is scored for the report, with the evaluator's scorer."""
    loaded = build_family_model("llama", setup["root"] / "llama-paris")
    settings = ReportSettings(gate_metric="accuracy", gate_threshold=0.0, pair_margin=0.0, progress=False)
    result = build_report(loaded, load_questions(config="paris"), DEFAULT_GROUPS, setup["root"] / "paris", settings)
    selection = result.selection.to_json()
    assert selection["n_pairs_in_data"] == selection["n_twins_scored_for_the_report"] == 9
    studied, mismatched = selection["n_studied"], len(selection["skipped_length_mismatch"])
    assert studied + mismatched + len(selection["skipped_identical_tokens"]) == selection["n_right_by_margin"] <= 9
    assert result.passed == (studied > 0)
    if result.passed:
        assert all(pair["corrupted_id"].endswith(":corrupted") or pair["clean_id"].endswith(":corrupted") for pair in result.data["pairs"])


def test_cli_report_and_errors(setup, capsys):
    entry, out = setup["llama"], setup["root"] / "cli"
    model_dir = str(build_family_model("llama", setup["root"] / "llama-cli").path)
    args = [
        "report",
        "--model",
        model_dir,
        "--dataset",
        str(entry["data"][0]),
        "--out",
        str(out),
        "--pair-margin",
        "0",
        "--max-pairs",
        "2",
        "--exact-pairs",
        "1",
    ]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "paired_accuracy 1.000 >= 0.6; report of 2 pair(s) (1 with exact patching)" in printed
    written = json.loads(next(out.glob("*/report.json")).read_text())
    assert written["selection"]["n_studied"] == 2 and written["settings"]["exact_pairs"] == 1
    bad_options = [
        (["--max-pairs", "0"], "--max-pairs: 0 must be at least 1"),
        (["--pair-margin", "-1"], "-1.0 must be 0 or more"),
        (["--gate-threshold", "2"], "2.0 must be between 0 and 1"),
        (["--gate-metric", "brier"], "invalid choice: 'brier'"),
    ]
    for bad, message in bad_options:  # refused at parse time, before any model loads
        with pytest.raises(SystemExit) as exit_info:
            main([*args, *bad])
        assert exit_info.value.code == 2 and message in capsys.readouterr().err
    # The same folder, now gated out by accuracy: the earlier report goes, did_not_pass.json replaces it.
    assert main(["report", "--model", model_dir, "--dataset", str(entry["data"][1]), "--out", str(out), "--gate-metric", "accuracy"]) == 0
    assert re.search(r"no report \(accuracy 0\.[0-5]\d\d is below the threshold 0\.6\)", capsys.readouterr().out)
    folder = next(out.iterdir())
    assert (folder / "did_not_pass.json").exists() and not (folder / "report.html").exists() and not (folder / "report.json").exists()


def test_default_exact_pairs_by_model_size():
    from interp.report import DEFAULT_EXACT_PAIRS, DEFAULT_EXACT_PAIRS_LARGE, default_exact_pairs

    assert default_exact_pairs(268_000_000) == DEFAULT_EXACT_PAIRS == 5
    assert default_exact_pairs(1_540_000_000) == DEFAULT_EXACT_PAIRS_LARGE == 2


@pytest.mark.skipif(find_chromium() is None, reason="chromium is not installed (Debian package chromium)")
def test_page_renders_in_headless_chromium_without_js_errors(chat_report):
    dom, log = dump_dom(chat_report.model_dir / "report.html")
    body = re.search(r"<body([^>]*)>", dom)
    assert body, "no <body> in the rendered DOM"
    attrs = dict(re.findall(r'([\w-]+)="([^"]*)"', body.group(1)))
    assert [line for line in log.splitlines() if "CONSOLE" in line and re.search(r"Uncaught|Error", line)] == []
    assert attrs.get("data-js-errors") == "0"
    assert attrs.get("data-expected") == str(chat_report.data["n_figures"])
    assert attrs.get("data-rendered") == attrs.get("data-expected"), "some figures did not render"
