"""``fk-bench leaderboard``: reading fk-bench and lm-eval results, groups of comparable rows, the three
outputs, the page in headless Chromium, and the zoo runner on a tiny slice."""

import json
import math
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
from markupsafe import escape

from fk_bench.answers import DEFAULT_GROUPS
from fk_bench.cli import main
from fk_bench.data import load_questions
from fk_bench.errors import FkBenchError
from fk_bench.evaluation import evaluate, write_results
from fk_bench.leaderboard import collect_rows, render
from fk_bench.leaderboard.collect import DISPLAY_METRICS
from fk_bench.leaderboard.run import slice_record, zoo_slice
from fk_bench.metrics import METRICS
from fk_bench.pages.browser import dump_dom, find_chromium

RELATIONS = ("capital_of", "currency_of")


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
    questions = load_questions(split="test", config="all").filter(lambda q: q["relation"] in RELATIONS)
    questions = questions.select(range(8))
    record = {"config": "all", "split": "test", "relation": None, "limit": 8}
    for fmt in ("plain", "fewshot"):
        result = evaluate(
            tiny_model, questions, DEFAULT_GROUPS, prompt_format=fmt, fewshot_k=2, dataset_id="default", dataset_settings=record, progress=False
        )
        write_results(result, root / "native")
    # A results.json as fk-bench 0.1 wrote it: no settings, dataset without slice, no yes_rate/paired accuracy.
    old = json.loads((root / "native" / tiny_model.name / "results.json").read_text())
    old = {
        "fk_bench_version": "0.1.0",
        "model": {k: old["model"][k] for k in ("spec", "name", "path", "device")},
        "dataset": {"id": "default", "n_questions": 8},
        "prompt_format": "plain",
        "summary": {
            k: old["summary"][k] for k in ("n_questions", "accuracy", "logit_diff", "prob_diff", "log_odds", "brier", "ece", "n_pass_filter")
        },
        "per_relation": {r: {"accuracy": s["accuracy"]} for r, s in old["per_relation"].items()},
    }
    write_json(root / "old" / "results.json", old)
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
    write_json(root / "native" / tiny_model.name / "report.html", "<html></html>")
    write_json(root / "reports" / "big-model" / "report.html", "<html></html>")
    return root


def collect(*paths, **kwargs) -> tuple[pd.DataFrame, str]:
    with pytest.warns(UserWarning) as caught:
        table = collect_rows(paths, **kwargs)
    return table, " | ".join(str(w.message) for w in caught)


def test_rows_are_grouped_by_the_questions_they_were_scored_on(results_dir, tiny_model):
    table, warned = collect(results_dir / "native", results_dir / "old", results_dir / "lm_eval")
    for name in ("broken", "foreign", "array", "odd/results.json: skipped, a folder"):
        assert name in warned
    assert len(table) == 6
    # lm-eval's 10 per relation, fk-bench's first 8 of two relations and the old file's unrecorded slice
    # are three different sets of questions: three groups, never one ranking.
    groups = {g: set(rows["model"]) for g, rows in table.groupby("group")}
    assert groups == {1: {"big-model", "tied", "small-model"}, 2: {tiny_model.name}, 3: {tiny_model.name}}
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
    assert old["config"] == "n/a" and math.isnan(old["yes_rate"]) and math.isnan(old["paired_accuracy"]) and old["accuracy"] >= 0
    assert native.iloc[1]["report"].endswith("report.html")
    assert pd.isna(big["report"]), "reports elsewhere are linked only when their folder is given"
    linked, _ = collect(results_dir / "lm_eval", results_dir / "reports")
    assert linked[linked["model"] == "big-model"].iloc[0]["report"].endswith("reports/big-model/report.html")
    linked, _ = collect(results_dir / "lm_eval", reports=[results_dir / "reports"])
    assert linked[linked["model"] == "big-model"].iloc[0]["report"].endswith("reports/big-model/report.html")


def test_n_pass_filter_is_recounted_at_the_leaderboards_threshold(results_dir, tiny_model):
    rows = {t: collect_rows([results_dir / "native" / tiny_model.name], threshold=t).iloc[0] for t in (-1.0, 1.0)}
    assert rows[-1.0]["n_pass_filter"] == rows[-1.0]["accuracy"] * 8
    assert rows[1.0]["n_pass_filter"] == 0


def test_the_same_run_twice_is_one_row(results_dir, tmp_path, tiny_model):
    shutil.copytree(results_dir / "native" / tiny_model.name, tmp_path / "copy")
    table, warned = collect(results_dir / "native" / tiny_model.name, tmp_path / "copy")
    assert len(table) == 1 and "same model and settings" in warned


@pytest.mark.parametrize("suffix", [".md", ".csv", ".html"])
def test_outputs_carry_the_same_rows_and_settings(results_dir, suffix, tiny_model):
    out = results_dir / f"board{suffix}"
    with pytest.warns(UserWarning):
        assert main(["leaderboard", str(results_dir / "native"), str(results_dir / "lm_eval"), "--out", str(out)]) == 0
    text = out.read_text()
    if suffix == ".csv":
        csv = pd.read_csv(out)
        assert len(csv) == 5 and {"prompt_format", "fewshot_k", "dtype", "dataset", "config", "split", "limit", "answer_map", "n", "group"} <= set(
            csv.columns
        )
        assert list(csv[csv["group"] == 1]["model"]) == ["big-model", "tied", "small-model"]
        assert set(csv["report"].dropna()) == {f"native/{tiny_model.name}/report.html"}, "links are relative to the output"
        return
    for needle in ("big-model", "tied", "small-model", "fewshot (k=2)", "first 10 per relation", "first 8", "float32"):
        assert needle in text
    assert "fk-bench leaderboard " in text, "the command that regenerates it"
    if suffix == ".md":
        assert len(re.findall(r"^\| \d+ \|", text, flags=re.M)) == 5
        assert f"[report](native/{tiny_model.name}/report.html)" in text
    else:
        assert text.count("<tr>") - text.count("<thead>") >= 5
        assert f'href="native/{tiny_model.name}/report.html"' in text
        for metric in METRICS.values():
            assert str(escape(metric.description)) in text
        rows = {re.search(r"<td>([\w-]+)</td>", row).group(1): row for row in re.findall(r"<tr>\n<td class=\"num\".*?</tr>", text, flags=re.S)}
        assert re.search(r'class="num best bar"[^>]*data-value="0.8"', rows["big-model"]), "best accuracy highlighted"
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
    with pytest.warns(UserWarning):
        assert main(["leaderboard", str(tmp_path), "--out", str(tmp_path / "b.md")]) == 2
    assert "no readable results" in capsys.readouterr().err
    (tmp_path / "dir.md").mkdir()
    assert main(["leaderboard", str(tmp_path), "--out", str(tmp_path / "dir.md")]) == 2
    assert "is a folder" in capsys.readouterr().err
    assert main(["leaderboard", "--out", str(tmp_path / "b.md")]) == 2
    assert "give result files" in capsys.readouterr().err
    assert main(["leaderboard", str(tmp_path), "--out", str(tmp_path / "b.md"), "--per-relation", "4"]) == 2
    assert "--per-relation applies only with --run-zoo" in capsys.readouterr().err
    assert main(["leaderboard", "--run-zoo", str(tmp_path)]) == 2
    assert "--run-zoo takes no result paths" in capsys.readouterr().err


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
    # lm-eval's group: a heatmap (its rows record no paired accuracy overall: no scatter); fk-bench's: both.
    assert attrs["data-expected"] == "3" and attrs["data-rendered"] == "3"
    assert attrs["data-order"].split("|") == [
        "big-model,tied,small-model",
        "big-model,tied,small-model",
        "small-model,tied,big-model ascending",  # accuracy: best first, then reversed
        "big-model,small-model,tied",
        "tied,small-model,big-model descending",  # model: A-Z, then Z-A
    ]


def test_zoo_slice_is_whole_pairs_the_same_per_relation():
    questions = zoo_slice(100).to_pandas()
    assert questions["relation"].value_counts().eq(100).all() and questions["relation"].nunique() == 9
    assert questions["answer"].mean() == 0.5
    assert questions["pair_id"].value_counts().eq(2).all()
    first = load_questions(split="test", config="capital_of").to_pandas()["id"][:100].tolist()
    assert questions[questions["relation"] == "capital_of"]["id"].tolist() == first, "the first 100 of the relation, in file order"
    with pytest.raises(FkBenchError, match="even"):
        zoo_slice(3)
    assert slice_record(100)["limit_per_relation"] is True


def test_run_zoo_on_a_tiny_model(tmp_path, tiny_model, capsys):
    out = tmp_path / "board"
    args = ["leaderboard", "--run-zoo", "--out", str(out), "--models", str(tiny_model.path), "--per-relation", "2", "--fewshot-k", "2"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "no chat template" in printed and "min wall" in printed
    table = pd.read_csv(out / "leaderboard.csv")
    assert sorted(table["prompt_format"]) == ["fewshot", "plain"]
    assert set(table["limit"]) == {"first 2 per relation"} and set(table["n"]) == {18} and table["paired_accuracy"].notna().all()
    for name in ("leaderboard.md", "leaderboard.html"):
        assert "--per-relation 2" in (out / name).read_text()
    results = sorted(out.glob("results/*/results.json"))
    assert len(results) == 2
    stamps = [p.stat().st_mtime_ns for p in results]
    assert main([*args, "--resume"]) == 0
    assert "kept" in capsys.readouterr().out and [p.stat().st_mtime_ns for p in results] == stamps
    assert main([*args, "--resume", "--formats", "plain", "--dtype", "bfloat16"]) == 0
    assert "kept" not in capsys.readouterr().out, "a result in another dtype is not reused"
    assert len(sorted(out.glob("results/*/results.json"))) == 2 and pd.read_csv(out / "leaderboard.csv")["dtype"].tolist() == ["bfloat16"]
    assert main(["leaderboard", "--run-zoo", "--models", "no-such-model", "--out", str(out)]) == 2
    assert "not in the zoo" in capsys.readouterr().err


@pytest.mark.skipif(find_chromium() is None, reason="chromium is not installed (Debian package chromium; .ci/run installs it)")
def test_screenshot_of_the_page(results_dir, tmp_path, capsys):
    args = ["leaderboard", str(results_dir / "lm_eval"), "--out", str(tmp_path / "board.html"), "--screenshot", str(tmp_path / "img" / "board.png")]
    with pytest.warns(UserWarning):
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
    assert set(committed["limit"]) == {"first 100 per relation"} and set(committed["n"]) == {900} and committed["group"].eq(1).all()
    assert {"embedded", "random-gemma-3-270m", "smollm2-135m-instruct", "qwen2.5-coder-1.5b-instruct"} == {
        json.loads((COMMITTED / source).read_text())["model"]["spec"] for source in committed["source"]
    }
    markdown = (COMMITTED / "leaderboard.md").read_text()
    assert len(re.findall(r"^\| \d+ \| ", markdown, flags=re.M)) == len(committed)
    if find_chromium() is not None:
        dom, _log = dump_dom(COMMITTED / "leaderboard.html")
        attrs = dict(re.findall(r'([\w-]+)="([^"]*)"', re.search(r"<body([^>]*)>", dom).group(1)))
        assert attrs["data-js-errors"] == "0" and attrs["data-expected"] == "2" and attrs["data-rendered"] == "2"
        assert dom.count('<table class="board"') == 1
