"""``fk-bench report`` end to end on tiny random models: the gate (per relation), the pairs, report.json, the page,
``--from-results``, ``--relation all``, noise corruption, the CLI, the cross-model page, Chromium."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import numpy as np
import pytest
from support.interp import build_family_model

from fk_bench.answer_groups import DEFAULT_GROUPS
from fk_bench.cli import main
from fk_bench.data import load_questions
from fk_bench.evaluation import evaluate, write_results
from fk_bench.pages.browser import dump_dom, find_chromium
from fk_bench.spec import RunSpec
from interp.core.evaluated import read_run
from interp.study.report_build import build_report, evaluate_for_report
from interp.study.report_settings import ReportSettings

PAIRS = [  # (relation, subject, true object, false object)
    ("capital_of", "Paris", "France", "Italy"),
    ("capital_of", "Berlin", "Germany", "Spain"),
    ("capital_of", "Madrid", "Spain", "Japan"),
    ("located_in", "Rome", "Italy", "the Eiffel Tower"),  # different token lengths
    ("located_in", "the Louvre Museum", "Rome", "Paris"),
    ("located_in", "Kyoto", "Japan", "Peru"),
]
QUESTION = {"capital_of": "Is {} the capital of {}?", "located_in": "Is {} in {}?"}
N_LAYERS, N_HEADS = 2, 4
HOSTILE = "tiny<img src=x onerror=alert(1)>"
"""A model folder name that is markup: it must reach every page as text."""


def _write(path: Path, first_is_true: list[bool]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "question", "answer", "corrupted_question", "pair_id", "relation", "subject", "object"])
        for number, ((relation, subject, a, b), label) in enumerate(zip(PAIRS, first_is_true)):
            first, second = QUESTION[relation].format(subject, a), QUESTION[relation].format(subject, b)
            writer.writerow([f"p{number}-a", first, label, second, f"p{number}", relation, subject, a])
            writer.writerow([f"p{number}-b", second, not label, first, f"p{number}", relation, subject, b])
    return path


def _spec(loaded, questions, prompt_format: str) -> RunSpec:
    return RunSpec(model=loaded.spec, prompt_format=prompt_format, dtype="float32", device="cpu", dataset=questions.dataset)


def _run(loaded, path: Path, prompt_format: str):
    questions = load_questions(str(path))
    return evaluate_for_report(loaded, questions, DEFAULT_GROUPS, _spec(loaded, questions, prompt_format), progress=False)


def _datasets(loaded, root: Path, prompt_format: str) -> tuple[Path, Path]:
    """Labelled as the model ranks each pair (paired accuracy 1) and the opposite (0): the report's
    mechanics, not the random model's knowledge, are under test."""
    probe = _run(loaded, _write(root / f"probe-{prompt_format}.csv", [True] * len(PAIRS)), prompt_format).questions
    t_vs_f = probe["true_log_odds"].to_numpy()
    agree = [bool(t_vs_f[2 * i] > t_vs_f[2 * i + 1]) for i in range(len(PAIRS))]
    return _write(root / f"agree-{prompt_format}.csv", agree), _write(root / f"disagree-{prompt_format}.csv", [not a for a in agree])


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("report")
    out = {"root": root}
    for family, prompt_format in (("llama", "plain"), ("gemma3", "chat")):
        loaded = build_family_model(family, root / family, chat=True)
        out[family] = {"format": prompt_format, "data": _datasets(loaded, root, prompt_format)}
    return out


def _report(setup, family: str, out: str, data: int = 0, **overrides):
    entry = setup[family]
    loaded = build_family_model(family, setup["root"] / f"{family}-{out}", chat=True)  # each report takes its model over
    settings = ReportSettings(gate_threshold=0.6, pair_margin=1e-6, exact_pairs=2, top_k=2, progress=False, n_resamples=200)
    for key, value in overrides.items():
        setattr(settings, key, value)
    run = _run(loaded, entry["data"][data], entry["format"])
    return build_report(loaded, run, DEFAULT_GROUPS, setup["root"] / f"out-{out}", settings)


@pytest.fixture(scope="module")
def plain_report(setup):
    return _report(setup, "llama", "plain")


@pytest.fixture(scope="module")
def chat_report(setup):
    return _report(setup, "gemma3", "chat", relation="all", top_k=14)


def test_gate_writes_did_not_pass_with_its_metric_value_and_threshold(setup):
    result = _report(setup, "llama", "gated", data=1, pair_margin=1.0)
    assert not result.passed and result.path.name == "did_not_pass.json"
    data = json.loads(result.path.read_text())
    assert data["gate"] == {"metric": "paired_accuracy", "threshold": 0.6, "value": 0.0, "passed": False}
    assert "paired_accuracy 0.000 is below the threshold 0.6" in data["reason"]
    assert data["settings"]["gate_metric"] == "paired_accuracy" and data["settings"]["pair_margin"] == 1.0
    assert not (result.model_dir / "report.html").exists()


def test_report_json_holds_every_array_and_setting(plain_report):
    assert plain_report.passed
    data = json.loads((plain_report.model_dir / "report.json").read_text())
    assert data["gate"]["value"] == 1.0 and data["gate"]["passed"]
    assert data["settings"]["pair_margin"] == 1e-6 and data["run"]["spec"]["prompt_format"] == "plain"
    assert data["run"]["source"] == "evaluated for this report"
    assert data["model"]["architecture"] == "LlamaForCausalLM" and data["model"]["n_layers"] == N_LAYERS
    assert data["corruption"] == {"kind": "twin", "seed": 0}
    (section,) = data["sections"]
    selection = section["selection"]
    assert (selection["n_pairs_in_data"], selection["n_right_by_margin"], selection["n_studied"]) == (6, 6, 6)
    different = [p["pair_id"] for p in section["pairs"] if p["n_tokens"] != p["n_corrupted_tokens"]]
    assert "p3" in different and selection["aligned_by_role"] == different  # twins of another length: aligned by role, not skipped
    assert selection["n_skipped"] == 0 == data["n_skipped_pairs"]
    assert data["answer_tokens"]["skipped_multi_token"]  # the tiny tokenizer splits some words
    pairs = section["pairs"]
    for pair in pairs:  # the closures hold in what was written, and the grids start at the first difference
        dla = pair["dla"]
        assert sum(dla["per_layer"]) == pytest.approx(dla["final_projection"], abs=1e-4)
        assert dla["logit_lens"][-1] == pytest.approx(dla["logit_diff"], abs=1e-4)
        if pair["n_tokens"] != pair["n_corrupted_tokens"]:
            assert pair["attribution_log_odds"] is None  # no position-by-position twin: traced by role instead
            continue
        width = pair["n_tokens"] - pair["shared_prefix"]
        assert np.array(pair["attribution_log_odds"]["resid_pre"]).shape == (N_LAYERS, width)
        assert np.array(pair["attribution_log_odds"]["head_out"]).shape == (N_LAYERS, N_HEADS)
        assert pair["clean_str_tokens"][: pair["shared_prefix"]] == pair["corrupted_str_tokens"][: pair["shared_prefix"]]
    exact = [p for p in pairs if p["exact"] is not None]
    assert len(exact) == 2 and {p["pair_id"] for p in exact} == set(section["patching"]["exact_pairs"])
    for pair in exact:
        assert set(pair["exact"]) == {"log_odds", "logit_diff"}
        assert pair["exact"]["log_odds"]["resid_pre"][0][0] == pytest.approx(1.0, abs=1e-4)  # the one differing token at layer 0
    patching = section["patching"]
    assert set(patching["correlation"]) == {"resid_pre", "attn_out", "mlp_out", "head_out"}
    # Intervals: the per-layer DLA and the patching grids carry theirs, element-wise, with the estimate inside.
    per_layer = section["dla"]["per_layer"]
    assert len(per_layer["ci"]["low"]) == len(per_layer["mean"])
    assert all(lo <= m + 1e-9 and m <= hi + 1e-9 for lo, m, hi in zip(per_layer["ci"]["low"], per_layer["mean"], per_layer["ci"]["high"]))
    assert np.array(section["dla"]["per_head_ci"]["low"]).shape == (N_LAYERS, N_HEADS)
    assert np.array(patching["exact_ci"]["resid_pre"]["low"], dtype=float).shape == np.array(patching["exact_mean"]["log_odds"]["resid_pre"]).shape
    findings = section["findings"]
    for key in ("layer_interval", "value_interval"):
        assert set(findings["jump"][key]) == {"estimate", "low", "high", "n_pairs", "kind", "wide"}
    assert findings["mlp_share_interval"]["n_pairs"] == 6 and len(findings["top_heads_intervals"]) == 2
    (row,) = data["summary_table"]
    assert row["relation"] == "all questions" and row["n_pairs"] == 6 and 0 < row["jump"]["fraction_of_depth"] <= 1
    (pattern_pair,) = [p for p in pairs if p["patterns"] is not None]  # one pattern pair, the heads the page draws only
    top, patterns = section["dla"]["top_heads"], pattern_pair["patterns"]
    assert patterns["heads"] == [[layer, head] for layer, head, _ in top["positive"] + top["negative"]]
    for values in patterns["values"]:  # queries from patterns_start, every key; each row a distribution
        assert np.array(values).shape == (pattern_pair["n_tokens"] - pattern_pair["patterns_start"], pattern_pair["n_tokens"])
        assert np.allclose(np.sum(values, axis=1), 1.0, atol=1e-3)


@pytest.mark.slow  # the fast lane leaves out the slowest tests (tests/conftest.py)
def test_chat_every_relation_with_many_top_heads(chat_report):
    """--relation all: one gated section per relation; --top-k beyond the model's heads draws (no late failure)."""
    data = chat_report.data
    assert "--chat" in chat_report.model_dir.name
    assert [s["relation"] for s in data["sections"]] == ["capital_of", "located_in"]
    assert set(data["gate"]["per_relation"]) == {"capital_of", "located_in"}
    assert [row["relation"] for row in data["summary_table"]] == ["capital_of", "located_in"]
    for section in data["sections"]:
        assert section["studied"] and section["gate"]["value"] == 1.0
        assert {p["relation"] for p in section["pairs"]} == {section["relation"]}
        for pair in section["pairs"]:
            tokens = "".join(pair["clean_str_tokens"][: pair["shared_prefix"]])
            assert "system" in tokens and "answer" in tokens  # the whole system prompt is in the shared prefix
        assert len(section["dla"]["top_heads"]["positive"]) == N_LAYERS * N_HEADS  # 14 asked, 8 exist
    page = (chat_report.model_dir / "report.html").read_text()
    assert "shared prefix" in page and "EXACT" in page and "ESTIMATE" in page and "capital_of" in page and "located_in" in page
    assert page.count('class="figure"') == data["n_figures"]


def test_noise_corruption_skips_nothing_and_records_its_scale(setup):
    result = _report(setup, "llama", "noise", corruption="noise", noise_span="subject", seed=3)
    data = result.data
    assert data["n_skipped_pairs"] == 0 and data["sections"][0]["selection"]["n_studied"] == 6
    corruption = data["corruption"]
    assert corruption["kind"] == "noise" and corruption["span"] == "subject" and corruption["seed"] == 3
    assert corruption["noise_scale"] > 0
    assert all(p["attribution_log_odds"] is None for p in data["sections"][0]["pairs"])  # no token twin is patched under noise


def test_the_notebooks_paris_questions_are_paired_with_their_corrupted_questions(setup):
    """No twin is a row there: each corrupted question is scored for the report, with the evaluator's scorer."""
    loaded = build_family_model("llama", setup["root"] / "llama-paris")
    questions = load_questions(config="paris")
    run = evaluate_for_report(loaded, questions, DEFAULT_GROUPS, _spec(loaded, questions, "plain"), progress=False)
    settings = ReportSettings(gate_metric="accuracy", gate_threshold=0.0, pair_margin=1e-6, progress=False, n_resamples=50)
    result = build_report(loaded, run, DEFAULT_GROUPS, setup["root"] / "paris", settings)
    section = result.data["sections"][0]
    selection = section["selection"]
    assert selection["n_pairs_in_data"] == selection["n_twins_scored_for_the_report"] == 9
    assert selection["n_studied"] + selection["n_skipped"] == selection["n_right_by_margin"] <= 9
    if result.passed:
        assert all(p["corrupted_id"].endswith(":corrupted") or p["clean_id"].endswith(":corrupted") for p in section["pairs"])


@pytest.fixture(scope="module")
def evaluated_run(setup):
    """``fk-bench eval``'s folder for the llama model on the agreeing data, written once, under a hostile model name."""
    loaded = build_family_model("llama", setup["root"] / HOSTILE, chat=True)
    questions = load_questions(str(setup["llama"]["data"][0]))
    result = evaluate(loaded, questions, DEFAULT_GROUPS, _spec(loaded, questions, "plain"), progress=False)
    return write_results(result, setup["root"] / "eval").parent


def test_cli_report_from_results_reads_the_run_and_refuses_another(setup, evaluated_run, capsys):
    out = setup["root"] / "cli"
    args = ["report", "--from-results", str(evaluated_run), "--out", str(out), "--pair-margin", "1e-6", "--max-pairs", "2", "--exact-pairs", "1"]
    assert main([*args, "--relation", "all", "--resamples", "50", "--top-k", "14", "--trace-sites", "resid_pre", "mlp_out"]) == 0
    printed = capsys.readouterr().out
    assert "capital_of: paired_accuracy 1.000 >= 0.6; 2 pair(s) studied (1 with exact patching), 0 skipped" in printed
    written = json.loads((out / evaluated_run.name / "report.json").read_text())
    assert written["run"]["source"] == str(evaluated_run / "results.json")  # read, not evaluated again
    assert [s["selection"]["n_studied"] for s in written["sections"]] == [2, 2] and written["settings"]["exact_pairs"] == 1
    run = read_run(evaluated_run)
    studied = {p["clean_id"]: p["eval_margin"] for s in written["sections"] for p in s["pairs"]}
    table = run.questions.set_index("id")
    for clean_id, margin in studied.items():  # the margins are the evaluator's own log-odds
        twin = clean_id[:-1] + ("b" if clean_id.endswith("a") else "a")
        assert margin == pytest.approx(table.loc[clean_id, "true_log_odds"] - table.loc[twin, "true_log_odds"])
    page = (out / evaluated_run.name / "report.html").read_text()
    assert HOSTILE not in page and "tiny&lt;img src=x onerror=alert(1)&gt;" in page
    mismatches = [
        (["--prompt-format", "chat"], "does not match this report's prompt format 'chat' (the run's is 'plain')"),
        (["--model", "embedded"], "does not match this report's model 'embedded'"),
        (["--relation", "shares_border"], "relation 'shares_border' (the run's relations: capital_of, located_in)"),
        (["--limit", "3"], "dataset limit 3 (the run's is None)"),
    ]
    for extra, message in mismatches:  # one clear line, before any model loads
        assert main([*args, *extra]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1 and "Traceback" not in err
    assert main(["report", "--from-results", str(setup["root"]), "--out", str(out)]) == 2
    assert "no results.json there" in capsys.readouterr().err
    bad_options = [
        (["--max-pairs", "0"], "--max-pairs: 0 must be at least 1"),
        (["--pair-margin", "-1"], "-1.0 must be 0 or more"),
        (["--pair-margin", "0"], "must be more than 0"),  # a tie has nothing to patch: refused before the study, not NaN after it
        (["--gate-threshold", "2"], "2.0 must be between 0 and 1"),
        (["--gate-metric", "brier"], "invalid choice: 'brier'"),
        (["--corruption", "blur"], "invalid choice: 'blur'"),
        (["--noise-scale", "0"], "must be more than 0"),
    ]
    for bad, message in bad_options:  # refused at parse time, before any model loads
        with pytest.raises(SystemExit) as exit_info:
            main([*args, *bad])
        assert exit_info.value.code == 2 and message in capsys.readouterr().err


def test_cli_report_without_results_evaluates_and_a_gated_run_keeps_the_earlier_report(setup, capsys):
    entry, out = setup["llama"], setup["root"] / "cli-eval"
    model_dir = str(build_family_model("llama", setup["root"] / "llama-cli").path)
    args = ["report", "--model", model_dir, "--dataset", str(entry["data"][0]), "--out", str(out), "--pair-margin", "1e-6", "--max-pairs", "2"]
    assert main([*args, "--exact-pairs", "1", "--resamples", "50"]) == 0
    assert "all questions: paired_accuracy 1.000 >= 0.6; 2 pair(s) studied (1 with exact patching)" in capsys.readouterr().out
    (folder,) = [p for p in out.iterdir() if p.is_dir()]
    assert (folder / "report.json").exists()
    earlier = (folder / "report.json").read_bytes()
    # The same folder, now gated out by accuracy: did_not_pass.json says so, and the earlier report stays (it records its own run spec).
    # Same data, so the same run folder, and a gate this tiny model does not pass (accuracy at least 1).
    assert main([*args, "--gate-metric", "accuracy", "--gate-threshold", "1"]) == 0
    assert re.search(r"no report \(accuracy 0\.\d\d\d is below the threshold 1(\.0)?\)", capsys.readouterr().out)
    assert (folder / "did_not_pass.json").exists() and (folder / "report.json").read_bytes() == earlier and (folder / "report.html").exists()


def test_report_defaults_by_model_size():
    from interp.defaults import DEFAULT_EXACT_PAIRS, DEFAULT_EXACT_PAIRS_LARGE, DEFAULT_KNOCKOUT_PAIRS_LARGE, DEFAULT_TRACE_PAIRS_LARGE
    from interp.study.report_settings import ReportSettings

    small, large = ReportSettings().sized_for(268_000_000), ReportSettings().sized_for(1_540_000_000)
    assert (small.exact_pairs, small.trace_pairs) == (DEFAULT_EXACT_PAIRS, DEFAULT_EXACT_PAIRS)
    assert (small.trace_positions, small.knockout_pairs) == ("all", None)
    assert (large.exact_pairs, large.trace_pairs) == (DEFAULT_EXACT_PAIRS_LARGE, DEFAULT_TRACE_PAIRS_LARGE)
    assert (large.trace_sites, large.trace_positions) == (("resid_pre",), "role-ends")
    assert large.knockout_pairs == DEFAULT_KNOCKOUT_PAIRS_LARGE and DEFAULT_EXACT_PAIRS_LARGE < DEFAULT_EXACT_PAIRS
    chosen = ReportSettings(exact_pairs=7, trace_pairs=1, knockout_pairs=4).sized_for(1_540_000_000)
    assert (chosen.exact_pairs, chosen.trace_pairs, chosen.knockout_pairs) == (7, 1, 4)


def test_compare_page_and_findings_table_come_from_the_report_files(setup, plain_report, chat_report, capsys):
    out = setup["root"] / "site" / "compare.html"
    doc = setup["root"] / "findings.md"
    doc.write_text("# Findings\n\nIntro kept.\n\n<!-- findings-table:begin (generated) -->\nold table\n<!-- findings-table:end -->\n\nOutro kept.\n")
    doc.write_text(doc.read_text().replace("<!-- findings-table:begin (generated) -->", _begin_marker()))
    sources = [str(plain_report.model_dir.parent), str(chat_report.model_dir.parent)]
    assert main(["compare-reports", *sources, "--out", str(out), "--findings", str(doc)]) == 0
    assert "compared 2 reports" in capsys.readouterr().out
    page = out.read_text()
    assert page.count("capital_of") >= 1 and "all questions" in page and "report</a>" in page
    assert "../out-plain/" in page  # links relative to the page
    text = doc.read_text()
    assert text.startswith("# Findings\n\nIntro kept.") and text.rstrip().endswith("Outro kept.") and "old table" not in text
    table = [line for line in text.splitlines() if line.startswith("| ")]
    assert table[1].startswith("| Gemma-2B-it") and len(table) == 2 + 3  # header, the notebook's row, 3 studied sections
    assert "of depth" in table[2] and "[" in table[2]  # the fraction of depth with its interval
    assert main(["compare-reports", str(setup["root"] / "nowhere"), "--out", str(out)]) == 2
    assert "no such file or folder" in capsys.readouterr().err


def _begin_marker() -> str:
    from interp.pages.findings_table import FINDINGS_BEGIN

    return FINDINGS_BEGIN


def _rendered(page: Path) -> dict:
    dom, log = dump_dom(page)
    body = re.search(r"<body([^>]*)>", dom)
    assert body, "no <body> in the rendered DOM"
    assert [line for line in log.splitlines() if "CONSOLE" in line and re.search(r"Uncaught|Error", line)] == []
    return dict(re.findall(r'([\w-]+)="([^"]*)"', body.group(1)))


@pytest.mark.skipif(find_chromium() is None, reason="chromium is not installed (Debian package chromium)")
def test_pages_render_in_headless_chromium_without_js_errors(chat_report, setup, plain_report):
    attrs = _rendered(chat_report.model_dir / "report.html")
    assert attrs.get("data-js-errors") == "0"
    assert attrs.get("data-expected") == str(chat_report.data["n_figures"])
    assert attrs.get("data-rendered") == attrs.get("data-expected"), "some figures did not render"
    from interp.pages.compare import write_compare_page

    page, n_reports, n_figures = write_compare_page([plain_report.model_dir.parent, chat_report.model_dir.parent], setup["root"] / "compare.html")
    attrs = _rendered(page)
    assert n_reports == 2 and n_figures >= 2
    assert attrs.get("data-js-errors") == "0" and attrs.get("data-rendered") == str(n_figures)
