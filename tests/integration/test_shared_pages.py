"""The interp report's page built from hostile input (a model folder and questions that are markup): every
name reaches the page and its figures as text, no link but safe ones, no script. Proves that the interp
report's template and figures use the shared page helpers (fk_bench.pages) for every value they show."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest
from support.interp import build_family_model
from support.pages import assert_inert, elements, figure_strings, plotly_tags

from fk_bench.answers import DEFAULT_GROUPS
from fk_bench.data import load_questions
from fk_bench.pages.browser import dump_dom, find_chromium
from fk_bench.spec import RunSpec
from interp.study.report_build import build_report, evaluate_for_report
from interp.study.report_settings import ReportSettings

MODEL_FOLDER = "m<script>alert(1)<\\script><a href='https:evil.example' onclick=alert(2)>click<b>"
"""A model folder name (no slash: it is one folder) that is HTML and plotly markup at once."""
SUBJECTS = [
    '<a href="https://evil.example/x">Paris</a>',
    "Berlin<script>alert(3)</script>",
    "<span style='font-size:40px'>Madrid</span>",
    "Kyoto %{customdata[0]}",
]
OBJECTS = [("France", "Italy"), ("Germany", "Spain"), ("Spain", "Japan"), ("Japan", "Peru")]


def _write(path: Path, first_is_true: list[bool]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "question", "answer", "corrupted_question", "pair_id", "relation", "subject", "object"])
        for number, (subject, (a, b), label) in enumerate(zip(SUBJECTS, OBJECTS, first_is_true)):
            first, second = f"Is {subject} the capital of {a}?", f"Is {subject} the capital of {b}?"
            writer.writerow([f"<b>p{number}</b>-a", first, label, second, f"<i>p{number}</i>", "capital_of", subject, a])
            writer.writerow([f"<b>p{number}</b>-b", second, not label, first, f"<i>p{number}</i>", "capital_of", subject, b])
    return path


def _run(loaded, path: Path):
    questions = load_questions(str(path))
    spec = RunSpec(model=loaded.spec, prompt_format="plain", dtype="float32", device="cpu", dataset=questions.dataset)
    return evaluate_for_report(loaded, questions, DEFAULT_GROUPS, spec, progress=False)


@pytest.fixture(scope="module")
def hostile_report(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    loaded = build_family_model("llama", root / MODEL_FOLDER, chat=True)
    probe = _run(loaded, _write(root / "probe.csv", [True] * len(SUBJECTS))).questions["true_log_odds"].to_numpy()
    # labelled as the model ranks each pair, so the report passes its gate and draws every figure
    agree = [bool(probe[2 * i] > probe[2 * i + 1]) for i in range(len(SUBJECTS))]
    run = _run(loaded, _write(root / "agree.csv", agree))
    settings = ReportSettings(gate_threshold=0.6, pair_margin=0.0, exact_pairs=2, top_k=2, progress=False, n_resamples=50)
    result = build_report(loaded, run, DEFAULT_GROUPS, root / "out", settings)
    assert result.passed, "the report is drawn"
    return result.path


def test_hostile_names_and_questions_are_text_on_the_interp_page(hostile_report):
    page = hostile_report.read_text(encoding="utf-8")
    assert_inert(page)
    assert not [e for e in elements(page) if e[0] == "img" or any(n == "style" and "40px" in (v or "") for n, v in e[1])], "no element of the data"
    assert "m&lt;script&gt;alert(1)" in page, "the model's name is shown, escaped"
    strings = figure_strings(page)
    assert strings, "the page has figures"
    for text in strings:
        for name, attributes in plotly_tags(text):
            assert name != "a" and not re.search(r"evil|alert|font-size", attributes), f"markup from the data in a figure: {text!r}"
    shown = " ".join(strings)
    assert "Paris" in shown or "Madrid" in shown or "Kyoto" in shown, "the questions are in the figures, as text"
    assert [t for t in strings if "Kyoto %{customdata[0]}" in t] == [], "no hover field read from a question"


@pytest.mark.skipif(find_chromium() is None, reason="chromium is not installed (Debian package chromium; .ci/run installs it)")
def test_hostile_interp_page_in_headless_chromium(hostile_report):
    dom, _log = dump_dom(hostile_report)
    attrs = dict(re.findall(r'([\w-]+)="([^"]*)"', re.search(r"<body([^>]*)>", dom).group(1)))
    assert attrs["data-js-errors"] == "0" and attrs["data-rendered"] == attrs["data-expected"] != "0"
    assert [e for e in elements(dom) if e[0] == "a" and not any(n == "href" for n, _ in e[1])] == [], "plotly drew no link (svg a) from the data"
    assert_inert(dom)
