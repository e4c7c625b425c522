"""A hostile run: 100+ inputs an attacker or a careless user gives every command of the fk_bench side
(``eval``, ``zoo run``, ``leaderboard``, ``build-dataset``, ``export-model``, ``models``, ``tasks-dir``),
each with its expected outcome: the exit code, one ``fk-bench: error:`` / ``fk-bench: warning:`` line
matching a pattern, no traceback, every file that was there before byte for byte unchanged (no data
loss), the leaderboard's rows exactly the sound ones with their true numbers (no wrong number) and no
live formula, link or tag in what it writes (no injection). Models: the tiny random-weight one only.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest

from fk_bench.answer_groups import DEFAULT_GROUPS
from fk_bench.cli import main
from fk_bench.data import load_questions
from fk_bench.evaluation import evaluate, write_results
from fk_bench.files import STAGING_PREFIX
from fk_bench.result_checks import recomputed
from fk_bench.results import RunResult

ROOT = Path(__file__).resolve().parents[2]
DEEP = "[" * 100_000 + "]" * 100_000


@dataclass
class World:
    """What every case starts from: a sound result of paired questions, its run folder's name, the tiny model."""

    good: Path
    run: str
    model: Path
    model_name: str
    accuracy: float


@pytest.fixture(scope="module")
def world(tmp_path_factory, tiny_model) -> World:
    root = tmp_path_factory.mktemp("hostile-world")
    questions = load_questions(config="all", relation="capital_of", limit=12)
    result = evaluate(tiny_model, questions, DEFAULT_GROUPS, batch_size=8, progress=False)
    path = write_results(result, root)
    return World(path, result.run_name, Path(tiny_model.path), tiny_model.name, result.summary.accuracy)


@dataclass
class Case:
    id: str
    argv: list[str]
    code: int
    pattern: str = ""
    """A regex that the last stderr line (an error) or one warning line must match."""
    setup: Callable[[Path, World], None] | None = None
    rows: int | None = None
    """For a leaderboard written to board.csv: the rows it must hold (the sound ones)."""
    changes: tuple[str, ...] = ()
    """Files (relative to the case folder) the command may write; every other file stays as it was."""
    needs: Callable[[], bool] = field(default=lambda: True)


# ---------------------------------------------------------------- helpers for the cases


def good_data(world: World) -> dict:
    return json.loads(world.good.read_text())


def restated(data: dict) -> dict:
    """``data`` with every figure recomputed from its rows: a consistent file (a hostile name, not a tampered number)."""
    from fk_bench.metrics import passes_filter

    figures = recomputed(RunResult.model_validate(data))
    passed = passes_filter(figures["per_question"], data["spec"]["filter_threshold"])
    questions = [{**row, "passes_filter": bool(passed[i])} for i, row in enumerate(data["questions"])]
    return {**data, "questions": questions, **{k: figures[k] for k in ("summary", "per_relation", "per_domain", "by_popularity")}}


def put(path: Path, content: str | bytes | dict | list) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content if isinstance(content, str) else json.dumps(content))


def bad_result(content: Callable[[World], str | bytes | dict | list]) -> Callable[[Path, World], None]:
    """A leaderboard input: the sound result in in/good/ and a hostile one in in/bad/results.json."""

    def setup(tmp: Path, world: World) -> None:
        put(tmp / "in" / "good" / "results.json", world.good.read_bytes())
        put(tmp / "in" / "bad" / "results.json", content(world))

    return setup


def changed(world: World, edit: Callable[[dict], None]) -> dict:
    data = good_data(world)
    edit(data)
    return data


def setting(path: str, value) -> Callable[[dict], None]:
    def edit(data: dict) -> None:
        *parents, last = path.split(".")
        node = data
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        node[last] = value

    return edit


def renamed_relation(name: str) -> Callable[[World], dict]:
    def content(world: World) -> dict:
        data = good_data(world)
        data["questions"] = [{**q, "relation": name} for q in data["questions"]]
        return restated(data)

    return content


def lm_eval(edit: Callable[[dict], None] | None = None, raw: str | None = None) -> Callable[[Path, World], None]:
    """A leaderboard input: the sound result and an lm-eval file (sound, or edited into a hostile one)."""

    def setup(tmp: Path, world: World) -> None:
        put(tmp / "in" / "good" / "results.json", world.good.read_bytes())
        data = {
            "results": {"fk_yesno_capital_of": {"acc,none": 0.75, "paired_accuracy,none": 0.5}},
            "n-samples": {"fk_yesno_capital_of": {"effective": 4}},
            "configs": {"fk_yesno_capital_of": {"dataset_kwargs": {"config": "capital_of"}}},
            "config": {"model_args": "pretrained=org/model", "device": "cpu", "limit": 4},
        }
        if edit is not None:
            edit(data)
        put(tmp / "in" / "lm" / "results_2026-12-06T00-00-00.json", raw if raw is not None else data)

    return setup


def lm_set(path: str, value) -> Callable[[dict], None]:
    return setting(path, value)


def files_of(folder: Path) -> dict[str, bytes | tuple[int, int]]:
    """Every file's bytes (a big one's size and modification time: a sparse 300 MB file is not read twice)."""
    found: dict[str, bytes | tuple[int, int]] = {}
    for path in folder.rglob("*"):
        if path.is_file() and not path.is_symlink() and path.name != ".fk-bench.lock":
            stat = path.stat()
            found[path.relative_to(folder).as_posix()] = (stat.st_size, stat.st_mtime_ns) if stat.st_size > 16 * 1024 * 1024 else path.read_bytes()
    return found


def fifo(name: str) -> Callable[[Path, World], None]:
    def setup(tmp: Path, world: World) -> None:
        os.mkfifo(tmp / name)

    return setup


def both(*setups: Callable[[Path, World], None]) -> Callable[[Path, World], None]:
    def setup(tmp: Path, world: World) -> None:
        for one in setups:
            one(tmp, world)

    return setup


def good_in(tmp: Path, world: World) -> None:
    put(tmp / "in" / "good" / "results.json", world.good.read_bytes())


def run_folder_holding(content: Callable[[World], str | bytes | dict]) -> Callable[[Path, World], None]:
    """out/<the run's folder>/results.json holds something else: a run of another spec, or junk."""

    def setup(tmp: Path, world: World) -> None:
        put(tmp / "out" / f"{world.model_name}--paris" / "results.json", content(world))
        put(tmp / "out" / f"{world.model_name}--paris" / "notes.txt", "mine")

    return setup


LONG = "n" * 300
LB = ["leaderboard", "{tmp}/in", "--out", "{tmp}/board.csv"]
EVAL = ["eval", "--model", "{model}", "--config", "paris", "--out", "{tmp}/out"]
ZOO = ["zoo", "run", "--models", "{model}", "--per-relation", "2", "--formats", "plain", "--question-sets", "paraphrase", "--out", "{tmp}/zoo"]
is_root = os.geteuid() == 0

# ---------------------------------------------------------------- the cases

BAD_RESULTS = [
    ("not-json", lambda w: "{", "not valid JSON"),
    ("empty", lambda w: "", "not valid JSON"),
    ("deep-100k", lambda w: DEEP, "nested 100000 levels deep"),
    ("deep-65", lambda w: "[" * 65 + "]" * 65, "nested 65 levels deep"),
    (
        "deep-in-a-field",
        lambda w: w.good.read_text().replace('"fk_bench_version"', '"x": ' + "[" * 70 + "]" * 70 + ', "fk_bench_version"', 1),
        "nested 7\\d levels",
    ),
    ("dup-top", lambda w: w.good.read_text().replace("{", '{"schema_version": 2,', 1), "duplicate key 'schema_version'"),
    ("dup-nested", lambda w: w.good.read_text().replace('"summary": {', '"summary": {"accuracy": 1.0,', 1), "duplicate key 'accuracy'"),
    ("nan", lambda w: w.good.read_text().replace('"accuracy": ', '"accuracy": NaN, "z": ', 1), "holds NaN"),
    ("infinity", lambda w: w.good.read_text().replace('"accuracy": ', '"accuracy": Infinity, "z": ', 1), "holds Infinity"),
    ("minus-infinity", lambda w: w.good.read_text().replace('"log_odds": ', '"log_odds": -Infinity, "z": ', 1), "holds -Infinity"),
    ("latin1", lambda w: w.good.read_bytes().replace(b'"spec"', b'"sp\xe9c"', 1), "not UTF-8"),
    ("utf16", lambda w: w.good.read_text().encode("utf-16"), "UTF-16"),
    ("nul-bytes", lambda w: b"{\x00}", "NUL bytes"),
    ("array", lambda w: [1, 2], "holds a JSON list"),
    ("string", lambda w: '"results"', "holds a JSON str"),
    ("null", lambda w: "null", "holds a JSON NoneType"),
    ("schema-9", lambda w: changed(w, setting("schema_version", 9)), "schema version 9"),
    ("schema-text", lambda w: changed(w, setting("schema_version", "2")), "schema version '2'"),
    ("schema-0", lambda w: changed(w, setting("schema_version", 0)), "schema version 0"),
    ("no-spec", lambda w: changed(w, lambda d: d.pop("spec")), "spec: Field required"),
    ("ancient", lambda w: {"fk_bench_version": "0.1.0", "summary": {"accuracy": 0.9}}, "before results recorded their settings"),
    ("foreign", lambda w: {"hello": 1}, "not an fk-bench result"),
    ("tampered-accuracy", lambda w: changed(w, setting("summary.accuracy", 0.999)), "summary.accuracy is 0.999"),
    ("tampered-paired", lambda w: changed(w, setting("summary.paired_accuracy", 0.99)), "summary.paired_accuracy is 0.99"),
    ("n-pairs-0", lambda w: changed(w, setting("summary.n_pairs", 0)), "summary.n_pairs is 0"),
    ("n-questions", lambda w: changed(w, setting("summary.n_questions", 1000)), "summary.n_questions is 1000"),
    ("n-pass-filter", lambda w: changed(w, setting("summary.n_pass_filter", 12)), "summary.n_pass_filter"),
    ("ece", lambda w: changed(w, setting("summary.ece", 0.0)), "summary.ece is 0.0"),
    ("relation-figure", lambda w: changed(w, setting("per_relation.capital_of.accuracy", 1.0)), "per_relation.capital_of.accuracy"),
    ("domain-figure", lambda w: changed(w, setting("per_domain.geography.paired_accuracy", 1.0)), "per_domain.geography.paired_accuracy"),
    (
        "invented-relation",
        lambda w: changed(w, lambda d: d["per_relation"].update({"popularity:high": d["per_relation"]["capital_of"]})),
        "per_relation names",
    ),
    ("dropped-relation", lambda w: changed(w, setting("per_relation", {})), "per_relation names"),
    ("row-accuracy", lambda w: changed(w, lambda d: d["questions"][0].update(accuracy=1.0 - d["questions"][0]["accuracy"])), "questions\\[0\\]"),
    ("row-score", lambda w: changed(w, lambda d: d["questions"][2]["scores"].update(Yes=9.0)), "questions\\[2\\]"),
    (
        "row-filter",
        lambda w: changed(w, lambda d: d["questions"][3].update(passes_filter=not d["questions"][3]["passes_filter"])),
        "questions\\[3\\]",
    ),
    ("popularity", lambda w: changed(w, lambda d: d.update(by_popularity={"high": {"paired_accuracy": 1.0, "n_pairs": 6}})), "by_popularity"),
    ("accuracy-1.5", lambda w: changed(w, setting("summary.accuracy", 1.5)), "summary.accuracy: Input should be less than or equal to 1"),
    ("accuracy-text", lambda w: changed(w, setting("summary.accuracy", "0.5")), "summary.accuracy: Input should be a valid number"),
    ("accuracy-bool", lambda w: changed(w, setting("summary.accuracy", True)), "summary.accuracy"),
    ("extra-key", lambda w: changed(w, setting("injected", "<script>")), "injected: Extra inputs are not permitted"),
    ("no-questions", lambda w: changed(w, setting("questions", [])), "n_questions|questions"),
    ("relation-popularity-high", renamed_relation("popularity:high"), "relation name 'popularity:high'"),
    ("relation-bracket", renamed_relation("x]y"), "relation name 'x\\]y'"),
    ("relation-domain-prefix", renamed_relation("domain:geo"), "relation name 'domain:geo'"),
    ("relation-newline", renamed_relation("a\nb"), "relation name 'a\\\\nb'"),
]

CASES: list[Case] = [
    Case(f"leaderboard-bad-result-{name}", LB, 0, rf"bad/results\.json: skipped, .*{why}", bad_result(content), rows=1, changes=("board.csv",))
    for name, content, why in BAD_RESULTS
]

LM_EVAL_CASES = [
    ("acc-negative", lm_set("results.fk_yesno_capital_of.acc,none", -3.0), "acc,none is -3.0, outside"),
    ("acc-text", lm_set("results.fk_yesno_capital_of.acc,none", "0.5"), "acc,none is '0.5', not a number"),
    ("acc-bool", lm_set("results.fk_yesno_capital_of.acc,none", True), "acc,none is True, not a number"),
    ("paired-7", lm_set("results.fk_yesno_capital_of.paired_accuracy,none", 7.5), "paired_accuracy,none is 7.5, outside"),
    ("no-task", lm_set("results", {"mmlu": {"acc,none": 0.3}}), "no fk_yesno task"),
    ("no-samples", lm_set("n-samples", {"fk_yesno_capital_of": {"effective": 0}}), "no question of fk_yesno_capital_of was scored"),
    ("effective-inf", lm_set("n-samples", {"fk_yesno_capital_of": {"effective": float("inf")}}), "effective is inf"),
    ("config-text", lm_set("config", "cuda"), None),
    ("relation-colon", lm_set("configs.fk_yesno_capital_of", {"dataset_kwargs": {"config": "popularity:high"}}), None),
]
CASES += [
    Case(
        f"leaderboard-lm-eval-{name}",
        LB,
        0,
        rf"lm/results_.*: skipped, .*{why}" if why else "",
        lm_eval(edit),
        rows=1 if why else 2,
        changes=("board.csv",),
    )
    for name, edit, why in LM_EVAL_CASES
]
CASES += [
    Case(
        "leaderboard-lm-eval-dup-keys",
        LB,
        0,
        "lm/results_.*duplicate key 'results'",
        lm_eval(raw='{"results": {}, "results": {}}'),
        1,
        ("board.csv",),
    ),
    Case("leaderboard-lm-eval-deep", LB, 0, "lm/results_.*nested 100000 levels", lm_eval(raw=DEEP), 1, ("board.csv",)),
    Case("leaderboard-lm-eval-list", LB, 0, "lm/results_.*holds a JSON list", lm_eval(raw="[1]"), 1, ("board.csv",)),
    Case("leaderboard-lm-eval-sound", LB, 0, "", lm_eval(), 2, ("board.csv",)),
    Case(
        "leaderboard-lm-eval-formula-model",
        LB,
        0,
        "",
        lm_eval(lm_set("config.model_args", 'pretrained==HYPERLINK("http://evil")')),
        2,
        ("board.csv",),
    ),
    Case(
        "leaderboard-md-injection",
        ["leaderboard", "{tmp}/in", "--out", "{tmp}/board.md"],
        0,
        "",
        lm_eval(lm_set("config.model_args", "pretrained=[x](javascript:alert(1))<script>alert(2)</script>https://evil.example")),
        changes=("board.md",),
    ),
    Case(
        "leaderboard-html-injection",
        ["leaderboard", "{tmp}/in", "--out", "{tmp}/board.html"],
        0,
        "",
        lm_eval(lm_set("config.model_args", "pretrained=<img src=x onerror=alert(1)>")),
        changes=("board.html",),
    ),
]


def folder_named_results(tmp: Path, world: World) -> None:
    good_in(tmp, world)
    (tmp / "in" / "odd" / "results.json").mkdir(parents=True)


def fifo_result(tmp: Path, world: World) -> None:
    good_in(tmp, world)
    (tmp / "in" / "pipe").mkdir()
    os.mkfifo(tmp / "in" / "pipe" / "results.json")


def device_result(tmp: Path, world: World) -> None:
    good_in(tmp, world)
    (tmp / "in" / "dev").mkdir()
    os.symlink("/dev/zero", tmp / "in" / "dev" / "results.json")


def loop_result(tmp: Path, world: World) -> None:
    good_in(tmp, world)
    (tmp / "in" / "loop").mkdir()
    os.symlink(tmp / "in" / "loop" / "results.json", tmp / "in" / "loop" / "results.json")


def staged_result(tmp: Path, world: World) -> None:
    good_in(tmp, world)
    put(tmp / "in" / f"{STAGING_PREFIX}run-abc" / "results.json", world.good.read_bytes())


def copied_result(tmp: Path, world: World) -> None:
    good_in(tmp, world)
    put(tmp / "in" / "copy" / "results.json", world.good.read_bytes())


def huge_result(tmp: Path, world: World) -> None:
    good_in(tmp, world)
    (tmp / "in" / "huge").mkdir()
    with (tmp / "in" / "huge" / "results.json").open("wb") as handle:
        handle.truncate(300 * 1024 * 1024)  # sparse: 300 MB that take no disk


def report(spec_edit: Callable[[dict], None] | None, raw: str | None = None) -> Callable[[Path, World], None]:
    def setup(tmp: Path, world: World) -> None:
        good_in(tmp, world)
        spec = good_data(world)["spec"]
        if spec_edit is not None:
            spec_edit(spec)
        put(tmp / "reports" / "r" / "report.html", "<html></html>")
        put(tmp / "reports" / "r" / "report.json", raw if raw is not None else {"run": {"spec": spec}})

    return setup


def readme(tmp: Path, world: World) -> None:
    good_in(tmp, world)
    put(tmp / "README.md", "# my notes\n")


LB_MD = ["leaderboard", "{tmp}/in", "--out", "{tmp}/board.md"]
CASES += [
    Case("leaderboard-folder-named-results", LB, 0, "odd/results.json: skipped, a folder or special file", folder_named_results, 1, ("board.csv",)),
    Case("leaderboard-fifo-result", LB, 0, "pipe/results.json: skipped", fifo_result, 1, ("board.csv",)),
    Case("leaderboard-device-result", LB, 0, "dev/results.json: skipped", device_result, 1, ("board.csv",)),
    Case("leaderboard-symlink-loop", LB, 0, "loop/results.json: skipped", loop_result, 1, ("board.csv",)),
    Case("leaderboard-staging-folder-inside", LB, 0, "", staged_result, 1, ("board.csv",)),
    Case(
        "leaderboard-staging-folder-given",
        ["leaderboard", f"{{tmp}}/in/{STAGING_PREFIX}run-abc", "--out", "{tmp}/board.csv"],
        2,
        "no readable results",
        staged_result,
    ),
    Case("leaderboard-same-run-twice", LB, 0, "skipped, same model and settings", copied_result, 1, ("board.csv",)),
    Case("leaderboard-huge-file", LB, 0, "huge/results.json: skipped, .*more than the", huge_result, 1, ("board.csv",)),
    Case("leaderboard-suffix-txt", ["leaderboard", "{tmp}/in", "--out", "{tmp}/board.txt"], 2, "must end in .md, .csv or .html", good_in),
    Case("leaderboard-out-is-a-readme", ["leaderboard", "{tmp}/in", "--out", "{tmp}/README.md"], 2, "not a leaderboard fk-bench wrote", readme),
    Case(
        "leaderboard-out-readme-overwrite",
        ["leaderboard", "{tmp}/in", "--out", "{tmp}/README.md", "--overwrite"],
        0,
        "",
        readme,
        changes=("README.md",),
    ),
    Case("leaderboard-out-is-a-folder", ["leaderboard", "{tmp}/in", "--out", "{tmp}/in"], 2, "must end in", good_in),
    Case("leaderboard-out-folder-md", LB_MD, 2, "is a folder", both(good_in, lambda t, w: (t / "board.md").mkdir())),
    Case("leaderboard-out-long", ["leaderboard", "{tmp}/in", "--out", f"{{tmp}}/{LONG}.md"], 2, "choose a shorter", good_in),
    Case(
        "leaderboard-out-inside-a-file",
        ["leaderboard", "{tmp}/in", "--out", "{tmp}/f/board.md"],
        2,
        "is a file",
        both(good_in, lambda t, w: put(t / "f", "x")),
    ),
    Case(
        "leaderboard-out-dangling-link",
        LB_MD,
        2,
        "symlink to .*does not exist",
        both(good_in, lambda t, w: os.symlink(t / "gone" / "x.md", t / "board.md")),
    ),
    Case(
        "leaderboard-screenshot-txt",
        ["leaderboard", "{tmp}/in", "--out", "{tmp}/b.html", "--screenshot", "{tmp}/x.txt"],
        2,
        "ending in .png",
        good_in,
    ),
    Case("leaderboard-screenshot-md", [*LB_MD, "--screenshot", "{tmp}/x.png"], 2, "needs an .html --out", good_in),
    Case("leaderboard-screenshot-folder", ["leaderboard", "{tmp}/in", "--out", "{tmp}/b.html", "--screenshot", "{tmp}/in"], 2, "png", good_in),
    Case(
        "leaderboard-all-out-is-a-file",
        ["leaderboard", "{tmp}/in", "--out", "{tmp}/f", "--all"],
        2,
        "not a folder",
        both(good_in, lambda t, w: put(t / "f", "x")),
    ),
    Case("leaderboard-missing-input", ["leaderboard", "{tmp}/nothing", "--out", "{tmp}/board.csv"], 2, "no readable results"),
    Case("leaderboard-fifo-input", ["leaderboard", "{tmp}/pipe", "--out", "{tmp}/board.csv"], 2, "no readable results", fifo("pipe")),
    Case("leaderboard-threshold-2", [*LB, "--filter-threshold", "2"], 2, "between -1 and 1", good_in),
    Case("leaderboard-threshold-nan", [*LB, "--filter-threshold", "nan"], 2, "not a finite number", good_in),
    Case("leaderboard-strict", [*LB, "--strict"], 2, "--strict", bad_result(lambda w: "{")),
    Case(
        "leaderboard-report-dup-keys",
        [*LB, "--reports", "{tmp}/reports"],
        0,
        "not linked, .*duplicate key",
        report(None, '{"run": 1, "run": 2}'),
        1,
        ("board.csv",),
    ),
    Case("leaderboard-report-deep", [*LB, "--reports", "{tmp}/reports"], 0, "not linked, .*nested", report(None, DEEP), 1, ("board.csv",)),
    Case(
        "leaderboard-report-no-spec",
        [*LB, "--reports", "{tmp}/reports"],
        0,
        "not linked, .*no run spec",
        report(None, '{"run": {}}'),
        1,
        ("board.csv",),
    ),
    Case(
        "leaderboard-report-other-spec",
        [*LB, "--reports", "{tmp}/reports"],
        0,
        "",
        report(lambda s: s["dataset"].update(limit=2)),
        1,
        ("board.csv",),
    ),
    Case("leaderboard-report-same-spec", [*LB, "--reports", "{tmp}/reports"], 0, "", report(None), 1, ("board.csv",)),
]

ANSWER_MAP = ["--answer-map", "{tmp}/map.json"]
CASES += [
    Case("eval-out-is-a-file", [*EVAL[:-1], "{tmp}/f"], 2, "--out .*exists and is not a folder", lambda t, w: put(t / "f", "x")),
    Case("eval-out-dangling-link", EVAL, 2, "symlink to .*does not exist", lambda t, w: os.symlink(t / "gone", t / "out")),
    Case("eval-out-link-loop", EVAL, 2, "symlink loop", lambda t, w: os.symlink(t / "out", t / "out")),
    Case("eval-out-long", [*EVAL[:-1], f"{{tmp}}/{LONG}"], 2, "choose a shorter"),
    Case("eval-out-inside-a-file", [*EVAL[:-1], "{tmp}/f/out"], 2, "is a file", lambda t, w: put(t / "f", "x")),
    Case("eval-out-fifo", [*EVAL[:-1], "{tmp}/pipe"], 2, "not a folder", fifo("pipe")),
    Case("eval-dataset-fifo", [*EVAL, "--dataset", "{tmp}/pipe"], 2, "--dataset .*FIFO", fifo("pipe")),
    Case("eval-dataset-device", [*EVAL, "--dataset", "/dev/zero"], 2, "--dataset /dev/zero: is a FIFO, socket or device"),
    Case("eval-answer-map-fifo", [*EVAL, *ANSWER_MAP], 2, "--answer-map .*FIFO", fifo("map.json")),
    Case(
        "eval-answer-map-dup", [*EVAL, *ANSWER_MAP], 2, "duplicate key 'True'", lambda t, w: put(t / "map.json", '{"True": ["Yes"], "True": ["No"]}')
    ),
    Case("eval-answer-map-nan", [*EVAL, *ANSWER_MAP], 2, "holds NaN", lambda t, w: put(t / "map.json", '{"True": [NaN], "False": ["No"]}')),
    Case("eval-answer-map-deep", [*EVAL, *ANSWER_MAP], 2, "nested", lambda t, w: put(t / "map.json", DEEP)),
    Case("eval-answer-map-latin1", [*EVAL, *ANSWER_MAP], 2, "not UTF-8", lambda t, w: put(t / "map.json", b'{"True": ["Oui\xe9"]}')),
    Case("eval-answer-map-missing", [*EVAL, *ANSWER_MAP], 2, "not found"),
    Case("eval-answer-map-empty-group", [*EVAL, *ANSWER_MAP], 2, "is empty", lambda t, w: put(t / "map.json", '{"True": ["Yes"], "False": []}')),
    Case("eval-answer-map-huge", [*EVAL, *ANSWER_MAP], 2, "more than the", lambda t, w: put(t / "map.json", "[" + "0," * 600_000 + "0]")),
    Case(
        "eval-answer-map-bom",
        [*EVAL, *ANSWER_MAP, "--limit", "2"],
        0,
        "",
        lambda t, w: put(t / "map.json", b'\xef\xbb\xbf{"True": ["Yes"], "False": ["No"]}'),
        changes=("out/*",),
    ),
    Case("eval-limit-0", [*EVAL, "--limit", "0"], 2, "must be at least 1"),
    Case("eval-batch-negative", [*EVAL, "--batch-size", "-1"], 2, "must be at least 1"),
    Case("eval-threshold-inf", [*EVAL, "--filter-threshold", "inf"], 2, "not a finite number"),
    Case("eval-fewshot-k-0", [*EVAL, "--fewshot-k", "0"], 2, "must be at least 1"),
    Case("eval-model-missing-dir", ["eval", "--model", "{tmp}/no-model", "--out", "{tmp}/out"], 2, "no such model directory"),
    Case("eval-model-fifo", ["eval", "--model", "{tmp}/pipe", "--out", "{tmp}/out"], 2, "--model .*FIFO", fifo("pipe")),
    Case(
        "eval-dataset-bad-answer",
        [*EVAL[:3], "--dataset", "{tmp}/q.csv", "--out", "{tmp}/out"],
        2,
        "'maybe' is not a boolean",
        lambda t, w: put(t / "q.csv", "question,answer\nIs Rome in Italy?,maybe\n"),
    ),
    Case("eval-dataset-empty", [*EVAL[:3], "--dataset", "{tmp}/q.csv", "--out", "{tmp}/out"], 2, "empty", lambda t, w: put(t / "q.csv", "")),
    Case(
        "eval-dataset-split-with-file",
        [*EVAL[:3], "--dataset", "{tmp}/q.csv", "--split", "train", "--out", "{tmp}/out"],
        2,
        "not to a single file",
        lambda t, w: put(t / "q.csv", "question,answer\nIs Rome in Italy?,yes\n"),
    ),
    Case("eval-dtype-float16-cpu", [*EVAL, "--dtype", "float16", "--device", "cpu"], 2, "float16 on the CPU"),
    Case("eval-device-bogus", [*EVAL, "--device", "quantum"], 2, "not a device name"),
    Case(
        "eval-other-spec-in-folder", EVAL, 2, "cannot read .*--overwrite", run_folder_holding(lambda w: changed(w, setting("summary.accuracy", 0.9)))
    ),
    Case("eval-junk-in-folder", EVAL, 2, "cannot read .*not valid JSON.*--overwrite", run_folder_holding(lambda w: "{")),
    Case("eval-deep-in-folder", EVAL, 2, "cannot read .*nested.*--overwrite", run_folder_holding(lambda w: DEEP)),
    Case("eval-chat-without-template", [*EVAL, "--prompt-format", "chat"], 2, "no chat template"),
    Case("eval-sound-run", [*EVAL, "--limit", "2"], 0, "", changes=("out/*",)),
]

CASES += [
    Case("zoo-unknown-model", ["zoo", "run", "--models", "no-such-model", "--out", "{tmp}/zoo"], 2, "not in the zoo"),
    Case("zoo-out-is-a-file", [*ZOO[:-1], "{tmp}/f"], 2, "not a folder", lambda t, w: put(t / "f", "x")),
    Case("zoo-out-long", [*ZOO[:-1], f"{{tmp}}/{LONG}"], 2, "choose a shorter"),
    Case("zoo-per-relation-odd", [*ZOO[:4], "--per-relation", "3", "--out", "{tmp}/zoo"], 2, "even"),
    Case("zoo-per-relation-0", [*ZOO[:4], "--per-relation", "0", "--out", "{tmp}/zoo"], 2, "must be at least 1"),
    Case("zoo-format-bogus", [*ZOO[:6], "--formats", "poem", "--out", "{tmp}/zoo"], 2, "invalid choice"),
    Case("zoo-dtype-bogus", [*ZOO, "--dtype", "int3"], 2, "invalid choice"),
    Case("zoo-question-set-bogus", [*ZOO[:8], "--question-sets", "everything", "--out", "{tmp}/zoo"], 2, "invalid choice"),
    Case(
        "zoo-junk-in-run-folder",
        ZOO,
        2,
        "cannot read .*--overwrite",
        lambda t, w: put(t / "zoo" / f"{w.model_name}--paraphrase--first2-per-relation" / "results.json", "{"),
    ),
    Case(
        "zoo-resume-junk-in-run-folder",
        [*ZOO, "--resume"],
        2,
        "cannot read .*--overwrite",
        lambda t, w: put(t / "zoo" / f"{w.model_name}--paraphrase--first2-per-relation" / "results.json", DEEP),
    ),
    Case("build-dataset-dot", ["build-dataset", "--out", "."], 2, "which the build reads"),
    Case("build-dataset-inside-sources", ["build-dataset", "--out", "fk_bench/dataset/sources/lre/new"], 2, "which the build reads"),
    Case("build-dataset-root", ["build-dataset", "--out", "/"], 2, "which the build reads"),
    Case("build-dataset-long", ["build-dataset", "--out", f"{{tmp}}/{LONG}"], 2, "choose a shorter"),
    Case("build-dataset-a-file", ["build-dataset", "--out", "{tmp}/f"], 2, "not a folder", lambda t, w: put(t / "f", "x")),
    Case(
        "build-dataset-foreign-folder",
        ["build-dataset", "--out", "{tmp}/mine"],
        2,
        "not empty and not an earlier fk-bench build",
        lambda t, w: put(t / "mine" / "a.txt", "x"),
    ),
    Case("build-dataset-seed-text", ["build-dataset", "--out", "{tmp}/ds", "--seed", "x"], 2, "invalid int value"),
    Case("export-model-unknown", ["export-model", "{tmp}/no-model", "{tmp}/exported"], 2, "no such model directory"),
    Case(
        "export-model-out-not-empty", ["export-model", "{model}", "{tmp}/full"], 2, "exists and is not empty", lambda t, w: put(t / "full" / "a", "x")
    ),
    Case("export-model-out-a-file", ["export-model", "{model}", "{tmp}/f"], 2, "not a folder", lambda t, w: put(t / "f", "x")),
    Case("export-model-out-long", ["export-model", "{model}", f"{{tmp}}/{LONG}"], 2, "choose a shorter"),
    Case("export-model-sound", ["export-model", "{model}", "{tmp}/exported"], 0, "", changes=("exported/*",)),
    Case("models-lists-the-zoo", ["models"], 0),
    Case("tasks-dir", ["tasks-dir"], 0),
    Case("unknown-command", ["frobnicate"], 2, "invalid choice"),
]


def test_the_hostile_run_holds_over_a_hundred_cases_across_every_command():
    assert len(CASES) >= 100 and len({case.id for case in CASES}) == len(CASES)
    commands = {case.argv[0] for case in CASES}
    assert {"eval", "zoo", "leaderboard", "build-dataset", "export-model", "models", "tasks-dir"} <= commands


def _format(argv: list[str], tmp: Path, world: World) -> list[str]:
    return [a.format(tmp=tmp, model=world.model) for a in argv]


def _may_change(name: str, case: Case) -> bool:
    return any(name == pattern or (pattern.endswith("/*") and name.startswith(pattern[:-1])) for pattern in case.changes)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_hostile_case(case: Case, world: World, tmp_path: Path, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    if case.setup is not None:
        case.setup(tmp_path, world)
    before = files_of(tmp_path)
    capsys.readouterr()
    try:
        code = main(_format(case.argv, tmp_path, world))
    except SystemExit as err:  # argparse: exit 2 with its usage line
        code = err.code
    captured = capsys.readouterr()
    err = captured.err
    assert "Traceback" not in err and "unexpected error" not in err, err[-2000:]
    assert code == case.code, err[-2000:]
    lines = [
        line
        for line in err.splitlines()
        if line.startswith(("fk-bench: error:", "fk-bench: warning:", "usage:", "fk-bench: note:")) or "error:" in line
    ]
    if case.code != 0:
        assert err.strip(), "a failure says why"
        last = err.strip().splitlines()[-1]
        assert re.search(case.pattern, last), last
    elif case.pattern:
        assert any(re.search(case.pattern, line) for line in lines), err[-2000:]
    # Nothing lost: every file that was there is as it was, unless the command writes it.
    after = files_of(tmp_path)
    for name, content in before.items():
        if not _may_change(name, case):
            assert after.get(name) == content, f"{name} changed or vanished"
    for name in set(after) - set(before):
        assert _may_change(name, case), f"{name} was written"
    # No wrong number, no live injection: the board holds exactly the sound rows, with their true figures.
    board = tmp_path / "board.csv"
    if case.rows is not None and code == 0:
        table = pd.read_csv(board)
        assert len(table) == case.rows
        native = table[table["harness"] == "fk-bench"]
        assert len(native) == 1 and native.iloc[0]["accuracy"] == pytest.approx(world.accuracy, abs=1e-6)
        for column in table.select_dtypes(include="object"):
            assert not table[column].dropna().astype(str).str.match(r"^[=+\-@\t\r]").any(), f"live formula in {column}"
    md = tmp_path / "board.md"
    if md.exists() and code == 0:
        markdown_it = pytest.importorskip("markdown_it")
        rendered = markdown_it.MarkdownIt("commonmark", {"html": True}).enable("table").render(md.read_text())
        assert "<script" not in rendered and not re.search(r'href="(?!board|in/|\.\./)[^"]*"', rendered), "no live link or tag"
    html_page = tmp_path / "board.html"
    if html_page.exists() and code == 0:
        assert "<img src=x" not in html_page.read_text()


@pytest.fixture(autouse=True)
def _no_stray_staging(tmp_path):
    yield
    for path in tmp_path.rglob(f"{STAGING_PREFIX}*"):
        assert path.parent.name in ("in",), f"staging left behind: {path}"


def test_a_run_of_another_spec_is_refused_naming_the_difference(world, tmp_path, capsys):
    """Not junk but a sound run of other settings in the folder: the refusal names what differs."""
    questions = load_questions(config="paris")
    folder = tmp_path / "out" / f"{world.model_name}--paris"
    shutil.copytree(world.good.parent, folder)
    data = json.loads((folder / "results.json").read_text())
    data["spec"]["filter_threshold"] = 0.5
    data = restated(data)
    (folder / "results.json").write_text(json.dumps(data))
    before = files_of(tmp_path)
    code = main(["eval", "--model", str(world.model), "--config", "paris", "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert code == 2 and "holds a run of another spec" in err and "filter_threshold: 0.1 != 0.5" in err and "dataset." in err
    assert files_of(tmp_path) == before and len(questions) == 9
