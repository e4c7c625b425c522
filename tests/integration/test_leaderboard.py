"""``fk-bench leaderboard``: reading fk-bench and lm-eval results, groups of comparable rows, the three
outputs, the page in headless Chromium, and the zoo runner on a tiny slice."""

import html as html_module
import json
import math
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
from markupsafe import escape
from support.pages import assert_inert, elements, figure_strings, plotly_tags

from fk_bench.answer_groups import DEFAULT_GROUPS
from fk_bench.cli import main
from fk_bench.data import load_questions
from fk_bench.errors import FkBenchError
from fk_bench.evaluation import evaluate, write_results
from fk_bench.leaderboard import collect_rows, render
from fk_bench.leaderboard.collect import DISPLAY_METRICS, data_label
from fk_bench.metrics import METRICS
from fk_bench.models.zoo_run import DEFAULT_PER_RELATION
from fk_bench.pages import plain_text, plotly_js, safe_url
from fk_bench.pages.browser import dump_dom, find_chromium
from fk_bench.results import read_results

RELATIONS = ("capital_of", "currency_of")
V1_FILE = Path(__file__).parents[1] / "data" / "results_v1_paris.json"


def lm_eval_result(name: str, relations: dict[str, tuple[float, float]], limit: int = 10, chat: bool = False) -> dict:
    """The shape lm-eval 0.4.13 writes to results_<date>.json for the fk_yesno group (relation -> (acc, paired))."""
    results = {
        "fk_yesno": {
            "alias": "fk_yesno",
            "acc,none": sum(a for a, _ in relations.values()) / len(relations),
            "log_odds,none": 0.3,
            "logit_diff,none": 0.5,
            "prob_diff,none": 0.01,
            "brier,none": 0.2,
            "yes_rate,none": 0.5,
        }
    }
    for relation, (acc, paired) in relations.items():
        results[f"fk_yesno_{relation}"] = {"alias": relation, "acc,none": acc, "paired_accuracy,none": paired, "log_odds,none": 0.3, "ece,none": 0.1}
    return {
        "results": results,
        "group_subtasks": {"fk_yesno": [f"fk_yesno_{r}" for r in relations]},
        "n-shot": {"fk_yesno": 0, **{f"fk_yesno_{r}": 0 for r in relations}},
        "n-samples": {f"fk_yesno_{r}": {"original": 400, "effective": limit} for r in relations},
        "config": {
            "model": "hf",
            "model_args": {"pretrained": f"/models/{name}", "dtype": "float32"},
            "model_dtype": "torch.float32",
            "device": "cpu",
            "batch_size": 1,
            "limit": float(limit),
        },
        "model_name": f"/models/{name}",
        "chat_template": "{{ messages }}" if chat else None,
        "chat_template_sha": "abc" if chat else None,
        "total_evaluation_time_seconds": "12.5",
    }


def write_json(path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)


@pytest.fixture(scope="module")
def results_dir(tmp_path_factory, tiny_model):
    root = tmp_path_factory.mktemp("leaderboard")
    questions = load_questions(split="test", config="all")
    rows = [i for i, relation in enumerate(questions["relation"]) if relation in RELATIONS][:8]
    questions = questions.select(rows, questions.dataset.model_copy(update={"limit": 8}))
    for fmt in ("plain", "fewshot"):
        result = evaluate(tiny_model, questions, DEFAULT_GROUPS, progress=False, prompt_format=fmt, **({"fewshot_k": 2} if fmt == "fewshot" else {}))
        write_results(result, root / "native")
        if fmt == "plain":  # an interp report of this run beside it, and one of another spec (2 questions) under reports/
            write_report(root / "native" / result.run_name, result.spec)
            two = questions.dataset.model_copy(update={"limit": 2})
            write_report(root / "reports" / result.run_name, result.spec.model_copy(update={"dataset": two}))
    # A results.json as fk-bench 0.1 wrote it before it recorded its settings: refused by name, never ranked.
    write_json(root / "ancient" / "results.json", {"fk_bench_version": "0.1.0", "model": {"name": "x"}, "summary": {"accuracy": 0.5}})
    # A version-1 result (fk-bench 0.1 with settings): upgraded on reading, a group of its own (dataset 1.0.0, paris).
    shutil.copy(V1_FILE, (root / "old").mkdir(parents=True) or root / "old" / "results.json")
    # lm-eval: two models on the same 20 questions; "tied" has big-model's paired accuracy and a lower accuracy.
    write_json(
        root / "lm_eval" / "big-model" / "results_2026-11-27T00-00-00.json",
        lm_eval_result("big-model", {"capital_of": (0.9, 0.8), "currency_of": (0.7, 0.8)}),
    )
    write_json(
        root / "lm_eval" / "tied" / "results_2026-11-27T00-00-00.json", lm_eval_result("tied", {"capital_of": (0.6, 0.8), "currency_of": (0.6, 0.8)})
    )
    write_json(
        root / "lm_eval" / "small-model" / "results_2026-11-27T00-00-00.json",
        lm_eval_result("small-model", {"capital_of": (0.5, 0.6), "currency_of": (0.5, 0.4)}, chat=True),
    )
    write_json(root / "lm_eval" / "broken" / "results_x.json", "{not json")
    write_json(root / "lm_eval" / "foreign" / "results_y.json", {"hello": 1})
    write_json(root / "lm_eval" / "array" / "results_z.json", [1, 2])
    (root / "lm_eval" / "odd" / "results.json").mkdir(parents=True)  # a folder named like a result
    write_json(root / "reports" / "big-model" / "report.html", "<html></html>")
    return root


def write_report(folder, spec) -> None:
    """An interp report's two files as ``fk-bench report`` writes them: report.json records the run's spec."""
    write_json(folder / "report.html", "<html></html>")
    write_json(folder / "report.json", {"run": {"spec": spec.model_dump(mode="json")}})


PLAIN_RUN = "--first8"
"""The native plain run's folder is the model's name and this (its slice of 8 questions)."""


def collect(*paths, **kwargs) -> tuple[pd.DataFrame, str]:
    with pytest.warns(UserWarning) as caught:
        table = collect_rows(paths, **kwargs)
    return table, " | ".join(str(w.message) for w in caught)


def test_rows_are_grouped_by_the_questions_they_were_scored_on(results_dir, tiny_model):
    table, warned = collect(results_dir / "native", results_dir / "old", results_dir / "ancient", results_dir / "lm_eval")
    for name in ("broken", "foreign", "array", "odd/results.json: skipped, a folder", "ancient/results.json: skipped, written by fk-bench 0.1.0"):
        assert name in warned
    assert len(table) == 6
    # lm-eval's 10 per relation, fk-bench's first 8 of two relations and the version-1 file's Paris set
    # are three different sets of questions: three groups, never one ranking.
    groups = {g: set(rows["model"]) for g, rows in table.groupby("group")}
    assert groups == {1: {"big-model", "tied", "small-model"}, 2: {tiny_model.name}, 3: {"gemma-3-270m-q4_k_m"}}
    lm = table[table["group"] == 1]
    assert list(lm["model"]) == ["big-model", "tied", "small-model"], "paired accuracy first, then accuracy"
    assert list(lm["rank"]) == [1, 2, 3]
    big = lm.iloc[0]
    assert big["limit"] == "first 10 per relation" and big["n"] == 20 and big["dtype"] == "float32" and big["prompt_format"] == "plain"
    assert big["accuracy"] == pytest.approx(0.8) and big["accuracy[capital_of]"] == 0.9 and big["paired_accuracy[currency_of]"] == 0.8
    assert math.isnan(big["paired_accuracy"]), "the group's paired accuracy is not in the file: n/a, not a guess"
    assert lm.iloc[2]["prompt_format"] == "chat"
    native = table[table["group"] == 2].sort_values("prompt_format")
    assert list(native["prompt_format"]) == ["fewshot", "plain"] and list(native["fewshot_k"]) == ["2", ""]
    assert set(native["limit"]) == {"first 8"} and set(native["dataset"]) == {"fk_yesno"} and set(native["answer_map"]) == {"default"}
    ranked = table[table["group"] == 2]
    assert tuple(ranked.iloc[0][["paired_accuracy", "accuracy"]]) >= tuple(ranked.iloc[1][["paired_accuracy", "accuracy"]])
    old = table[table["group"] == 3].iloc[0]
    assert (old["config"], old["version"]) == ("paris", "1.0.0") and math.isnan(old["paired_accuracy"]) and old["accuracy"] >= 0
    assert native.iloc[1]["report"].endswith(f"native/{tiny_model.name}{PLAIN_RUN}/report.html"), "the report of this very run"
    assert pd.isna(native.iloc[0]["report"]), "the fewshot run has no report of its spec"
    assert pd.isna(big["report"]), "an lm-eval run records no run spec: no report is its"
    linked, warned = collect(results_dir / "native", results_dir / "lm_eval", reports=[results_dir / "reports"])
    assert "reports/big-model/report.html: not linked, no report.json" in warned
    plain = linked[(linked["harness"] == "fk-bench") & (linked["prompt_format"] == "plain")].iloc[0]
    assert plain["report"].endswith(f"native/{tiny_model.name}{PLAIN_RUN}/report.html"), "never the report of a 2-question run"
    assert linked[linked["harness"] == "lm-eval"]["report"].isna().all()


def test_n_pass_filter_is_recounted_at_the_leaderboards_threshold(results_dir, tiny_model):
    rows = {t: collect_rows([results_dir / "native" / f"{tiny_model.name}{PLAIN_RUN}"], threshold=t).iloc[0] for t in (-1.0, 1.0)}
    assert rows[-1.0]["n_pass_filter"] == rows[-1.0]["accuracy"] * 8
    assert rows[1.0]["n_pass_filter"] == 0


def test_the_same_run_twice_is_one_row(results_dir, tmp_path, tiny_model):
    shutil.copytree(results_dir / "native" / f"{tiny_model.name}{PLAIN_RUN}", tmp_path / "copy")
    table, warned = collect(results_dir / "native" / f"{tiny_model.name}{PLAIN_RUN}", tmp_path / "copy")
    assert len(table) == 1 and "same model and settings" in warned


@pytest.mark.parametrize("suffix", [".md", ".csv", ".html"])
def test_outputs_carry_the_same_rows_and_settings(results_dir, suffix, tiny_model, capsys):
    out = results_dir / f"board{suffix}"
    assert main(["leaderboard", str(results_dir / "native"), str(results_dir / "lm_eval"), "--out", str(out)]) == 0
    warned = [line for line in capsys.readouterr().err.splitlines() if line.startswith("fk-bench: warning: ")]
    assert any("broken/results_x.json: skipped, " in line for line in warned), "each skipped file: one line naming it and why"
    text = out.read_text()
    if suffix == ".csv":
        csv = pd.read_csv(out)
        assert len(csv) == 5 and {"prompt_format", "fewshot_k", "dtype", "dataset", "config", "split", "limit", "answer_map", "n", "group"} <= set(
            csv.columns
        )
        assert list(csv[csv["group"] == 1]["model"]) == ["big-model", "tied", "small-model"]
        assert set(csv["report"].dropna()) == {f"native/{tiny_model.name}{PLAIN_RUN}/report.html"}, "links are relative to the output"
        return
    for needle in ("big-model", "tied", "small-model", "fewshot (k=2)", "first 10 per relation", "first 8", "float32"):
        assert needle in text
    assert "fk-bench leaderboard " in text, "the command that regenerates it"
    if suffix == ".md":
        assert len(re.findall(r"^\| \d+ \|", text, flags=re.M)) == 5
        assert f"[report](native/{tiny_model.name}{PLAIN_RUN}/report.html)" in text
    else:
        assert text.count("<tr>") - text.count("<thead>") >= 5
        assert f'href="native/{tiny_model.name}{PLAIN_RUN}/report.html"' in text
        for metric in METRICS.values():
            assert str(escape(metric.description)) in text
        boards = "".join(re.findall(r'<table class="board" id="board-\d+">.*?</table>', text, flags=re.S))  # the ranked tables, not the side ones
        rows = {re.search(r"<td>([\w-]+)</td>", row).group(1): row for row in re.findall(r"<tr>\n<td class=\"num\".*?</tr>", boards, flags=re.S)}
        best = re.search(r'class="num best bar whisker"[^>]*data-value="0.8" title="95% interval \[([\d.]+), ([\d.]+)\]"', rows["big-model"])
        assert best, "best accuracy highlighted, with its Wilson interval as hover and whisker"
        assert float(best.group(1)) < 0.8 < float(best.group(2))
        assert "best" not in rows["small-model"]


def test_best_value_per_column_follows_the_registry(results_dir):
    from fk_bench.leaderboard.render import best_values

    table, _ = collect(results_dir / "lm_eval")
    best = best_values(table)
    assert best["accuracy"] == pytest.approx(0.8)
    assert "brier" not in best, "every row has the same Brier score: nothing is highlighted"
    assert "yes_rate" not in best, "yes_rate has no better direction"
    assert set(best) <= {m for m in DISPLAY_METRICS if METRICS[m].higher_is_better is not None}


def test_bad_outputs_and_inputs(tmp_path, capsys):
    # The suffix is checked before anything is read: a missing input is not even looked for.
    assert main(["leaderboard", str(tmp_path / "missing"), "--out", str(tmp_path / "b.txt")]) == 2
    assert "b.txt: leaderboard output must end in .md, .csv or .html" in capsys.readouterr().err
    with pytest.raises(FkBenchError, match=r"b.txt: leaderboard output must end in .md, .csv or .html"):
        render(pd.DataFrame(), tmp_path / "b.txt")
    (tmp_path / "results_z.json").write_text("[]")
    assert main(["leaderboard", str(tmp_path), "--out", str(tmp_path / "b.md")]) == 2
    err = capsys.readouterr().err
    assert "no readable results" in err and "fk-bench: warning: " in err and "results_z.json: skipped" in err
    (tmp_path / "dir.md").mkdir()
    assert main(["leaderboard", str(tmp_path), "--out", str(tmp_path / "dir.md")]) == 2
    assert "is a folder" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["leaderboard", "--out", str(tmp_path / "b.md")])
    assert "the following arguments are required: results" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["leaderboard", str(tmp_path), "--out", str(tmp_path / "b.md"), "--per-relation", "4"])
    assert "unrecognized arguments: --per-relation" in capsys.readouterr().err, "running the zoo is 'fk-bench zoo run'"


CLICK_AND_RECORD = """<script>
window.addEventListener('load', function () {
  var table = document.querySelector('table.board');
  function models() { return Array.prototype.map.call(table.tBodies[0].rows, function (r) { return r.cells[1].textContent; }).join(','); }
  var seen = [models()];
  ['accuracy', 'model'].forEach(function (key) {
    var header = table.querySelector('th[data-key="' + key + '"]');
    header.click(); seen.push(models());
    header.click(); seen.push(models() + ' ' + header.getAttribute('aria-sort'));
  });
  document.body.setAttribute('data-order', seen.join('|'));
});
</script></body>"""


@pytest.mark.skipif(find_chromium() is None, reason="chromium is not installed (Debian package chromium; .ci/run installs it)")
def test_page_in_headless_chromium(results_dir, tmp_path):
    with pytest.warns(UserWarning):
        table = collect_rows([results_dir / "lm_eval", results_dir / "native"])
    page = render(table, tmp_path / "board.html")
    # The page as written, plus a script that clicks headers as a user would and records the row order.
    clicked = tmp_path / "clicked.html"
    clicked.write_text(page.read_text().replace("</body>", CLICK_AND_RECORD))
    dom, log = dump_dom(clicked)
    attrs = dict(re.findall(r'([\w-]+)="([^"]*)"', re.search(r"<body([^>]*)>", dom).group(1)))
    assert [line for line in log.splitlines() if "CONSOLE" in line and re.search(r"Uncaught|Error", line)] == []
    assert attrs["data-js-errors"] == "0"
    # lm-eval's group: a heatmap (its rows record no paired accuracy overall, no per-question data: nothing else);
    # fk-bench's: the intervals, the significance matrix, the bias picture, the reliability diagrams and the heatmap.
    assert attrs["data-expected"] == "6" and attrs["data-rendered"] == "6"
    assert attrs["data-order"].split("|") == [
        "big-model,tied,small-model",
        "big-model,tied,small-model",
        "small-model,tied,big-model ascending",  # accuracy: best first, then reversed
        "big-model,small-model,tied",
        "tied,small-model,big-model descending",  # model: A-Z, then Z-A
    ]


def test_zoo_slice_is_whole_facts_in_every_wording_the_same_per_relation():
    from fk_bench.models.zoo_run import zoo_slice

    questions = zoo_slice(12)
    table = questions.to_pandas()
    assert table["relation"].value_counts().eq(12).all() and table["answer"].mean() == 0.5
    assert table["pair_id"].value_counts().eq(2).all() and len(questions.pairs) == len(table) // 2
    assert table.groupby("fact_id")["template"].nunique().ge(2).all(), "each fact in several wordings: consistency is defined"
    paraphrase = load_questions(split="test", config="paraphrase").to_pandas()
    first = paraphrase[paraphrase["relation"] == "capital_of"]["id"][:12].tolist()
    assert table[table["relation"] == "capital_of"]["id"].tolist() == first, "the first 12 of the relation, in file order"
    assert (questions.dataset.config, questions.dataset.limit, questions.dataset.limit_per_relation) == ("paraphrase", 12, True)
    with pytest.raises(FkBenchError, match="even"):
        zoo_slice(3)


def tiny_zoo(out: Path, tiny_model, *options: str) -> list[str]:
    """``fk-bench zoo run`` of the tiny model on the paraphrase slice alone (the full split is thousands of questions)."""
    return ["zoo", "run", "--out", str(out), "--models", str(tiny_model.path), "--question-sets", "paraphrase", *options]


@pytest.mark.slow  # the fast lane leaves out the slowest tests (tests/conftest.py)
def test_zoo_run_on_a_tiny_model_then_the_leaderboard_renders_it(tmp_path, tiny_model, capsys):
    out = tmp_path / "results"
    args = tiny_zoo(out, tiny_model, "--per-relation", "6", "--fewshot-k", "2")
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "no chat template" in printed and "min wall" in printed and "--per-relation 6 --fewshot-k 2" in printed
    assert "--question-sets paraphrase" in printed
    assert main(["leaderboard", str(out), "--out", str(tmp_path / "board"), "--all"]) == 0
    table = pd.read_csv(tmp_path / "board" / "leaderboard.csv")
    assert sorted(table["prompt_format"]) == ["fewshot", "plain"]
    assert set(table["limit"]) == {"first 6 per relation"} and set(table["config"]) == {"paraphrase"}
    assert table["paired_accuracy"].notna().all() and table["consistency"].notna().all() and table["paired_consistency"].notna().all()
    assert any(column.startswith("paired_accuracy[domain:") for column in table.columns)
    results = sorted(out.glob("*/results.json"))
    assert len(results) == 2
    stamps = [p.stat().st_mtime_ns for p in results]
    assert main([*args, "--resume"]) == 0
    assert "kept" in capsys.readouterr().out and [p.stat().st_mtime_ns for p in results] == stamps
    assert main([*args, "--resume", "--formats", "plain", "--dtype", "bfloat16"]) == 0
    assert "kept" not in capsys.readouterr().out, "a result in another dtype is not reused"
    assert main(["zoo", "run", "--models", "no-such-model", "--out", str(out)]) == 2
    assert "not in the zoo" in capsys.readouterr().err


@pytest.mark.skipif(find_chromium() is None, reason="chromium is not installed (Debian package chromium; .ci/run installs it)")
def test_screenshot_of_the_page(results_dir, tmp_path, capsys):
    args = ["leaderboard", str(results_dir / "lm_eval"), "--out", str(tmp_path / "board.html"), "--screenshot", str(tmp_path / "img" / "board.png")]
    assert main(args) == 0
    assert (tmp_path / "img" / "board.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main([*args[:2], "--out", str(tmp_path / "board.md"), "--screenshot", "x.png"]) == 2
    assert "--screenshot needs an .html --out" in capsys.readouterr().err


COMMITTED = Path(__file__).resolve().parents[2] / "leaderboard"


@pytest.mark.skipif(not (COMMITTED / "leaderboard.csv").exists(), reason="no committed leaderboard in this checkout")
def test_committed_leaderboard_is_what_its_results_give(tmp_path):
    """leaderboard/ holds the zoo run: its tables are rebuilt from its own result files, row for row."""
    committed = pd.read_csv(COMMITTED / "leaderboard.csv")
    rebuilt_path = render(collect_rows(sorted((COMMITTED / "results").glob("*/results.json"))), tmp_path / "leaderboard.csv")
    rebuilt = pd.read_csv(rebuilt_path).drop(columns=["report", "source"])
    pd.testing.assert_frame_equal(committed.drop(columns=["report", "source"]), rebuilt)
    # Group 1: the whole default test split; group 2: the paraphrase slice, whose consistency group 1 shows.
    full, paraphrase = committed[committed["group"] == 1], committed[committed["group"] == 2]
    assert set(committed["group"]) == {1, 2} and len(full) == len(paraphrase)
    assert set(full["limit"]) == {"all"} and set(full["config"]) == {"all"} and full["n"].eq(len(load_questions(split="test"))).all()
    assert set(paraphrase["limit"]) == {f"first {DEFAULT_PER_RELATION} per relation"} and set(paraphrase["config"]) == {"paraphrase"}
    assert full["consistency"].notna().all() and full["consistency_from"].str.contains("paraphrase").all()
    # The board is of the dataset version the README names for it (regenerated on a new version, both change).
    named = re.search(r"on the full test split of dataset \*\*([\d.]+)\*\*", (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8"))
    assert named and set(committed["version"]) == {named.group(1)}
    assert {"embedded", "random-gemma-3-270m", "smollm2-135m-instruct", "qwen2.5-coder-1.5b-instruct"} == {
        read_results(COMMITTED / source).spec.model for source in committed["source"]
    }
    markdown = (COMMITTED / "leaderboard.md").read_text()
    assert len(re.findall(r"^\| \d+ \| ", markdown, flags=re.M)) == len(committed)
    if find_chromium() is not None:
        dom, _log = dump_dom(COMMITTED / "leaderboard.html")
        attrs = dict(re.findall(r'([\w-]+)="([^"]*)"', re.search(r"<body([^>]*)>", dom).group(1)))
        # per group: intervals, significance, bias picture, reliability diagrams, per relation, popularity
        assert attrs["data-js-errors"] == "0" and attrs["data-expected"] == "12" and attrs["data-rendered"] == "12"
        assert dom.count('<table class="board"') == 2, "one ranked table per group (the side tables are class 'board side')"


# ---------------------------------------------------------------- shared pages: hostile names and folders

HOSTILE_NAME = (
    '=HYPERLINK("https://evil.example")\n## pwned <script>alert(1)</script> <a href="https://evil.example">click</a> '
    "[md](javascript:alert(2)) |x| %{customdata[1]}"
)
HOSTILE_RELATION = '<a href="https://evil.example">capital</a>'
PLOTLY_OWN_TAGS = {"br", "b", "i", "extra", "sup", "sub"}


@pytest.fixture
def hostile_board(tmp_path):
    """lm-eval results in a folder named ``javascript:alert(document.domain)`` (with a report), read as
    the leaderboard reads anyone's folders, then given a hostile model name, dtype and relation."""
    shared = tmp_path / "shared"
    folder = shared / "javascript:alert(document.domain)"
    write_json(folder / "results_2026-11-27T00-00-00.json", lm_eval_result("big-model", {"capital_of": (0.9, 0.8), "currency_of": (0.7, 0.6)}))
    (folder / "report.html").write_text("<html></html>")
    out = shared / "board.html"  # beside the folder: its link starts with the folder's name, as a scheme would
    assert main(["leaderboard", str(shared), "--out", str(out)]) == 0
    table = collect_rows([shared])
    table["model"] = HOSTILE_NAME
    table["dtype"] = "<b onmouseover=alert(3)>f32</b>"
    table = table.rename(columns=lambda c: c.replace("[capital_of]", f"[{HOSTILE_RELATION}]"))
    return out, table, tmp_path


def test_a_javascript_folder_is_never_a_live_link(hostile_board):
    out, _table, _ = hostile_board
    page = out.read_text().replace(plotly_js(), "")
    hrefs = [html_module.unescape(h) for h in re.findall(r'href="([^"]*)"', page)]
    assert "javascript%3Aalert%28document.domain%29/report.html" not in hrefs, "an lm-eval run records no spec: no report is linked"
    assert any(h.startswith("javascript%3Aalert%28document.domain%29/results_") for h in hrefs)
    assert all(safe_url(h) == h for h in hrefs)
    assert "javascript:" not in "".join(hrefs).lower()


def test_hostile_names_stay_text_in_every_output(hostile_board):
    _out, table, tmp_path = hostile_board
    # HTML: escaped by Jinja2, inert in plotly (no tag of the data reaches a figure)
    page = render(table, tmp_path / "hostile.html").read_text()
    assert_inert(page)
    assert str(escape(HOSTILE_NAME.replace("\n", " "))) in page.replace("\n", " ")
    strings = figure_strings(page)
    assert any(plain_text(HOSTILE_NAME) in s for s in strings), "the figures name the row, as text"
    tags = {name for s in strings for name, _ in plotly_tags(s)}
    assert tags <= PLOTLY_OWN_TAGS, f"only the figures' own markup: {tags - PLOTLY_OWN_TAGS}"
    assert "%{customdata[1]}" not in " ".join(s for s in strings if "pwned" in s), "no hover field read from a name"
    # CSV: the formula is quoted, the numbers are numbers
    csv = pd.read_csv(render(table, tmp_path / "hostile.csv"))
    assert csv["model"].str.startswith("'=HYPERLINK").all() and pd.api.types.is_float_dtype(csv["accuracy"])
    # Markdown: one heading per group, one table row per row, no HTML, no link but the report's
    markdown_it = pytest.importorskip("markdown_it")
    text = render(table, tmp_path / "hostile.md").read_text()
    rendered = markdown_it.MarkdownIt("commonmark", {"html": True}).enable("table").render(text)
    assert "<script" not in rendered and "onmouseover=" not in rendered.replace("&lt;b onmouseover=", "")
    assert rendered.count("<h2>") == table["group"].nunique() and rendered.count("<h1>") == 1, "a heading per group; the name adds none"
    assert len(re.findall(r"<tr>\s*<td", rendered)) == 3 * len(table), "the ranking, bias-and-calibration and per-relation tables, a row each"
    assert all(safe_url(html_module.unescape(h)) for h in re.findall(r'href="([^"]*)"', rendered))
    assert "pwned" in rendered and "<h2>pwned" not in rendered


@pytest.mark.skipif(find_chromium() is None, reason="chromium is not installed (Debian package chromium; .ci/run installs it)")
def test_hostile_page_in_headless_chromium(hostile_board):
    _out, table, tmp_path = hostile_board
    dom, _log = dump_dom(render(table, tmp_path / "hostile.html"))
    attrs = dict(re.findall(r'([\w-]+)="([^"]*)"', re.search(r"<body([^>]*)>", dom).group(1)))
    assert attrs["data-js-errors"] == "0" and attrs["data-rendered"] == attrs["data-expected"] != "0"
    assert_inert(dom)
    assert [e for e in elements(dom) if e[0] == "a" and not any(n == "href" for n, _ in e[1])] == [], "plotly drew no link (svg a) from a name"


def test_zoo_resume_keeps_only_a_sound_run_of_the_same_spec_in_its_own_folder(tmp_path, tiny_model, capsys, monkeypatch):
    from fk_bench.files import STAGING_PREFIX

    out = tmp_path / "results"
    args = tiny_zoo(out, tiny_model, "--per-relation", "2", "--formats", "plain")
    assert main(args) == 0
    (folder,) = [p for p in out.iterdir() if p.is_dir()]
    assert folder.name.endswith("--paraphrase--first2-per-relation")
    capsys.readouterr()
    # A killed write's staging folder holds the only copy: --resume must not keep what will vanish with it.
    staging = out / f"{STAGING_PREFIX}{folder.name}-x"
    folder.rename(staging)
    assert main([*args, "--resume"]) == 0
    assert "kept" not in capsys.readouterr().out and (folder / "results.json").is_file()
    # Another spec in the run's folder: refused before any model loads, --resume or not; --overwrite replaces it.
    data = json.loads((folder / "results.json").read_text())
    data["spec"]["filter_threshold"] = 0.5
    changed = json.dumps(data)
    (folder / "results.json").write_text(changed)
    import fk_bench.result_checks as results

    monkeypatch.setattr(results, "verify", lambda result: None)
    for extra in ([], ["--resume"]):
        assert main([*args, *extra]) == 2
        err = capsys.readouterr().err
        assert "holds a run of another spec" in err and "filter_threshold" in err and "--overwrite" in err
        assert (folder / "results.json").read_text() == changed
    monkeypatch.undo()
    assert main([*args, "--overwrite"]) == 0
    assert json.loads((folder / "results.json").read_text())["spec"]["filter_threshold"] == 0.1


def test_one_bad_file_never_takes_the_board_down(results_dir, tmp_path, capsys, tiny_model):
    """Each hostile file is skipped with one warning line naming it and why; the good rows are ranked;
    --strict stops at the first one; nothing usable left is exit 2."""
    good = results_dir / "native" / f"{tiny_model.name}{PLAIN_RUN}" / "results.json"
    bad = tmp_path / "bad"
    cases = {
        "nested": "[" * 100_000 + "]" * 100_000,
        "dupkey": '{"schema_version": 2, "schema_version": 2}',
        "nan": good.read_text().replace('"accuracy": ', '"accuracy": NaN, "x": ', 1),
        "latin1": good.read_bytes().replace(b'"spec"', b'"sp\xe9c"', 1),
        "future": good.read_text().replace('"schema_version": 2', '"schema_version": 9', 1),
        "tampered": good.read_text().replace('"n_pairs": ', '"n_pairs": 1000 + ', 1),
        "empty": "",
    }
    for name, content in cases.items():
        (bad / name).mkdir(parents=True)
        target = bad / name / "results.json"
        target.write_bytes(content) if isinstance(content, bytes) else target.write_text(content)
    out = tmp_path / "board.csv"
    assert main(["leaderboard", str(bad), str(good), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert "Traceback" not in err and len(lines) == len(cases), "one line per bad file"
    for name in cases:
        assert sum(f"/{name}/results.json: skipped, " in line for line in lines) == 1
    assert "nested 100000 levels deep" in err and "duplicate key" in err and "not UTF-8" in err and "schema version 9" in err
    assert len(pd.read_csv(out)) == 1
    assert main(["leaderboard", str(bad), str(good), "--out", str(out), "--strict"]) == 2
    assert "--strict" in capsys.readouterr().err
    assert main(["leaderboard", str(bad), "--out", str(tmp_path / "none.csv")]) == 2
    assert "no readable results" in capsys.readouterr().err and not (tmp_path / "none.csv").exists()


def test_leaderboard_outputs_are_checked_before_any_result_is_read(results_dir, tmp_path, capsys):
    readme = tmp_path / "README.md"
    readme.write_text("# my notes\n")
    args = ["leaderboard", str(results_dir / "native")]
    assert main([*args, "--out", str(readme)]) == 2
    assert "not a leaderboard fk-bench wrote" in capsys.readouterr().err and readme.read_text() == "# my notes\n"
    assert main([*args, "--out", str(tmp_path / "board.html"), "--screenshot", str(tmp_path / "x.txt")]) == 2
    assert "ending in .png" in capsys.readouterr().err and not (tmp_path / "board.html").exists()
    assert main([*args, "--out", str(tmp_path / ("n" * 300 + ".md"))]) == 2
    assert "choose a shorter" in capsys.readouterr().err
    assert main([*args, "--out", str(readme), "--overwrite"]) == 0
    assert readme.read_text().startswith("# fk-bench leaderboard")
    assert main([*args, "--out", str(readme)]) == 0, "a leaderboard it wrote is replaced"


def test_a_group_without_paired_accuracy_is_led_by_accuracy(results_dir, tmp_path):
    """lm-eval's group reports no overall paired accuracy: its leader is named by accuracy (with its Wilson
    interval from the counts), never 'paired accuracy n/a'."""
    with pytest.warns(UserWarning):
        table = collect_rows([results_dir / "lm_eval"])
    page = render(table, tmp_path / "board.html").read_text()
    leader = re.search(r'<div class="leader">(.*?)</div>', page, flags=re.S).group(1)
    assert "<strong>big-model</strong>" in leader and re.search(r"accuracy <strong>0\.800 \[0\.\d\d, 0\.\d\d\]</strong>", leader), leader
    assert "n/a" not in leader


def test_lm_eval_batch_calibrated_accuracy_is_read_and_checked(tmp_path):
    """The task's batch-calibrated accuracy lands in the row; one outside [0, 1] skips the file with a warning."""
    good = lm_eval_result("calibrated", {"capital_of": (0.9, 0.8)})
    good["results"]["fk_yesno"]["batch_calibrated_accuracy,none"] = 0.7
    bad = lm_eval_result("broken", {"capital_of": (0.9, 0.8)})
    bad["results"]["fk_yesno"]["batch_calibrated_accuracy,none"] = 1.7
    write_json(tmp_path / "good" / "results_2026-11-27T00-00-00.json", good)
    write_json(tmp_path / "bad" / "results_2026-11-27T00-00-00.json", bad)
    table, warned = collect(tmp_path)
    assert list(table["model"]) == ["calibrated"] and table["batch_calibrated_accuracy"].iloc[0] == 0.7
    assert "batch_calibrated_accuracy is 1.7, outside [0, 1]" in warned


def test_a_run_on_one_wording_per_fact_shows_the_consistency_of_its_paraphrase_run(tmp_path, tiny_model):
    """The zoo's full split asks each fact once: its rows show the consistency of the same model and settings on
    the paraphrase slice, saying so; a row with no such run (another prompt format) shows none."""
    from fk_bench.models.zoo_run import zoo_questions

    sets = zoo_questions(["full", "paraphrase"], per_relation=4)
    full, paraphrase = sets["full"], sets["paraphrase"]
    facts = set(paraphrase["fact_id"])
    keep = [i for i, fact in enumerate(full["fact_id"]) if fact in facts]
    full = full.select(keep, full.dataset.model_copy(update={"limit": len(keep)}))
    for questions, settings in ((full, {}), (paraphrase, {}), (full, {"prompt_format": "fewshot", "fewshot_k": 2})):
        write_results(evaluate(tiny_model, questions, DEFAULT_GROUPS, progress=False, **settings), tmp_path / "runs")
    table = collect_rows([tmp_path / "runs"])
    rows = {(row["config"], row["prompt_format"]): row for _, row in table.iterrows()}
    own, borrowed, alone = rows[("paraphrase", "plain")], rows[("all", "plain")], rows[("all", "fewshot")]
    assert own["group"] != borrowed["group"], "different questions: still never ranked together"
    for column in ("consistency", "consistency_low", "consistency_high", "paired_consistency"):
        assert borrowed[column] == own[column] and not math.isnan(own[column])
    assert borrowed["consistency_from"] == f"{data_label(own)}, {int(own['n']):,} questions" and own["consistency_from"] == ""
    assert math.isnan(alone["consistency"]) and alone["consistency_from"] == ""
    page = render(table, tmp_path / "board.md").read_text(encoding="utf-8")
    assert "both come from the same model, prompt and settings on fk" in page and "first 4 per relation" in page
