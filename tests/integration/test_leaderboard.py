import json

import pandas as pd
import pytest

from fk_bench.answers import DEFAULT_GROUPS
from fk_bench.cli import main
from fk_bench.data import load_questions
from fk_bench.errors import FkBenchError
from fk_bench.evaluation import evaluate, write_results
from fk_bench.leaderboard import collect_rows, render


def lm_eval_result(name: str, log_odds: float, relations: dict[str, float]) -> dict:
    """The shape lm-eval 0.4 writes to results_<date>.json for the fk_yesno group."""
    results = {"fk_yesno": {"acc,none": sum(relations.values()) / len(relations), "log_odds,none": log_odds,
                            "logit_diff,none": 0.5, "prob_diff,none": 0.01, "brier,none": 0.2, "ece,none": 0.1}}
    for relation, acc in relations.items():
        results[f"fk_yesno_{relation}"] = {"acc,none": acc, "log_odds,none": log_odds}
    return {"results": results, "config": {"model_args": f"pretrained=/models/{name},dtype=float32"},
            "n-samples": {f"fk_yesno_{r}": {"original": 10, "effective": 10} for r in relations}}


@pytest.fixture()
def results_dir(tmp_path, tiny_model):
    result = evaluate(tiny_model, load_questions(config="paris"), DEFAULT_GROUPS, progress=False)
    write_results(result, tmp_path / "native")
    for name, log_odds in (("big-model", 3.0), ("small-model", -1.0)):
        folder = tmp_path / "lm_eval" / name
        folder.mkdir(parents=True)
        (folder / "results_2026-11-27T00-00-00.json").write_text(json.dumps(lm_eval_result(name, log_odds, {"capital_of": 0.9, "currency_of": 0.5})))
    (tmp_path / "lm_eval" / "broken").mkdir()
    (tmp_path / "lm_eval" / "broken" / "results_x.json").write_text("{not json")
    (tmp_path / "lm_eval" / "foreign").mkdir()
    (tmp_path / "lm_eval" / "foreign" / "results_y.json").write_text(json.dumps({"hello": 1}))
    (tmp_path / "native" / tiny_model.name / "report.html").write_text("<html></html>")
    (tmp_path / "reports" / "big-model").mkdir(parents=True)
    (tmp_path / "reports" / "big-model" / "report.html").write_text("<html></html>")
    return tmp_path


def test_rows_sorted_with_relations_and_warnings(results_dir, tiny_model):
    with pytest.warns(UserWarning) as caught:
        table = collect_rows([results_dir / "native", results_dir / "lm_eval"])
    messages = " ".join(str(w.message) for w in caught)
    assert "broken" in messages and "foreign" in messages
    assert list(table["model"]) [0] == "big-model" and table["log_odds"].is_monotonic_decreasing
    assert set(table["model"]) == {"big-model", "small-model", tiny_model.name}
    assert pd.isna(table[table["model"] == "small-model"].iloc[0]["report"])
    big = table[table["model"] == "big-model"].iloc[0]
    assert pd.isna(big["report"]), "reports elsewhere are linked only when their folder is given"
    with pytest.warns(UserWarning):
        linked = collect_rows([results_dir / "lm_eval", results_dir / "reports"])
    assert linked[linked["model"] == "big-model"].iloc[0]["report"].endswith("reports/big-model/report.html")
    assert big["acc[capital_of]"] == 0.9 and big["n"] == 20 and big["accuracy"] == pytest.approx(0.7)
    native = table[table["model"] == tiny_model.name].iloc[0]
    assert native["setting"] == "fk-bench plain" and native["report"].endswith("report.html")
    assert not pd.isna(native["n_pass_filter"])


@pytest.mark.parametrize("suffix", [".md", ".csv", ".html"])
def test_render_formats(results_dir, suffix, tiny_model, capsys):
    out = results_dir / f"board{suffix}"
    with pytest.warns(UserWarning):
        assert main(["leaderboard", str(results_dir), "--out", str(out)]) == 0
    text = out.read_text()
    assert "big-model" in text and tiny_model.name in text
    if suffix == ".html":
        assert '<a href="' in text and "report.html" in text


def test_nothing_readable_is_an_error(tmp_path, capsys):
    (tmp_path / "results_z.json").write_text("[]")
    with pytest.warns(UserWarning):
        assert main(["leaderboard", str(tmp_path), "--out", str(tmp_path / "b.md")]) == 2
    assert "no readable results" in capsys.readouterr().err
    with pytest.raises(FkBenchError, match=r"b.txt: leaderboard output must end in .md, .csv or .html"):
        render(pd.DataFrame(), tmp_path / "b.txt")
