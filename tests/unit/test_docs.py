"""What a newcomer copies works: every ``fk-bench`` command in the README and docs parses with the real
command line, and figures the docs quote come from the committed leaderboard, so neither can drift."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pandas as pd
import pytest

from fk_bench.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", ROOT / "BENCHMARKS.md", ROOT / "tasks" / "fk_yesno" / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LEADERBOARD = ROOT / "leaderboard" / "leaderboard.csv"


def commands(text: str) -> list[list[str]]:
    """The ``fk-bench`` commands of the code blocks of ``text``, as argument lists (continuations joined,
    ``&&`` chains split, ``.venv/bin/`` and ``/usr/bin/time -v`` dropped, ``a|b`` alternatives read as ``a``)."""
    found = []
    for block in re.findall(r"```[a-z]*\n(.*?)```", text, flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            for part in re.split(r"&&|;", line):
                try:
                    words = shlex.split(part, comments=True)
                except ValueError:
                    continue
                words = [w.removeprefix(".venv/bin/") for w in words if w not in ("/usr/bin/time", "-v")]
                if words and words[0] == "fk-bench":
                    found.append([w.split("|")[0] if re.fullmatch(r"[\w.-]+(\|[\w.-]+)+", w) else w for w in words[1:]])
    return found


ALL = [(path.relative_to(ROOT).as_posix(), args) for path in DOCS for args in commands(path.read_text(encoding="utf-8"))]


def test_the_docs_hold_commands_to_check():
    assert len(ALL) >= 20 and any(args[:1] == ["eval"] for _, args in ALL) and any(args[:2] == ["zoo", "run"] for _, args in ALL)


@pytest.mark.parametrize(("doc", "args"), ALL, ids=[f"{doc}:{' '.join(args)[:60]}" for doc, args in ALL])
def test_every_documented_command_parses(doc, args, capsys):
    try:
        build_parser().parse_args(args)
    except SystemExit as err:
        pytest.fail(f"{doc}: fk-bench {' '.join(args)} does not parse: {capsys.readouterr().err.strip().splitlines()[-1]}")
        raise AssertionError from err


def test_no_doc_names_a_removed_option():
    for path in DOCS:
        text = path.read_text(encoding="utf-8")
        assert "--run-zoo" not in text.replace("`fk-bench leaderboard --run-zoo`", ""), f"{path.name}: --run-zoo no longer exists"


@pytest.mark.skipif(not LEADERBOARD.exists(), reason="no committed leaderboard in this checkout")
def test_figures_quoted_in_metrics_md_are_the_committed_leaderboards():
    table = pd.read_csv(LEADERBOARD)
    table = table[table["group"] == 1]  # the full test split; group 2 is the paraphrase slice
    row = table[(table["model"] == "gemma-3-270m-q4_k_m") & (table["prompt_format"] == "plain")].iloc[0]
    text = (ROOT / "docs" / "metrics.md").read_text(encoding="utf-8")
    quoted = (
        f"(`yes_rate` {row['yes_rate']:.3f} on the leaderboard's {int(row['n']):,} questions,\n"
        f"accuracy {row['accuracy']:.3f}), yet on {100 * row['paired_accuracy']:.1f}% of the {int(row['n_pairs']):,} pairs"
    )
    assert quoted in text


@pytest.mark.skipif(not LEADERBOARD.exists(), reason="no committed leaderboard in this checkout")
def test_the_readme_leaderboard_table_is_the_committed_leaderboards():
    table = pd.read_csv(LEADERBOARD)
    table = table[table["group"] == 1]  # README shows the full test split's table
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    value = r"\**([\d.]+)\**(?: \[([\d.]+), ([\d.]+)\])?"  # 0.761, **0.761**, 0.761 [0.72, 0.80]
    rows = re.findall(rf"^\| (\d+) \| ([\w.-]+) \| ([^|]+) \| {value} \| {value} \| {value} \|", readme, flags=re.M)
    assert len(rows) == len(table)
    for rank, model, prompt, *cells in rows:
        fmt = prompt.split(" ")[0]
        row = table[(table["model"] == model) & (table["prompt_format"] == fmt)].iloc[0]
        assert int(rank) == row["rank"]
        for (number, low, high), metric in zip(zip(*[iter(cells)] * 3), ("paired_accuracy", "accuracy", "yes_rate")):
            assert number == f"{row[metric]:.3f}", (model, metric)
            assert not low or (low, high) == (f"{row[metric + '_low']:.2f}", f"{row[metric + '_high']:.2f}"), (model, metric)


def test_the_main_job_the_readme_quotes_is_the_packaged_default_and_its_last_measurement():
    """The quick start's question count is the packaged default config's, and its time the last main-job
    measurement in BENCHMARKS.md (so a new dataset or a new measurement cannot leave the README behind)."""
    from fk_bench.data import load_questions

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    quoted = re.search(r"Install and run the main job on the embedded model \(([\d,]+) questions: about (\d+) minutes?", readme)
    assert quoted, "the quick start names the size and time of the main job"
    assert int(quoted.group(1).replace(",", "")) == len(load_questions())
    benchmarks = (ROOT / "BENCHMARKS.md").read_text(encoding="utf-8")
    measured = re.findall(r"\((\d[\d,]*) questions, \d+\s+relations\): \*\*(\d+) min (\d+(?:\.\d+)?) s wall\*\*", benchmarks)
    assert measured, "BENCHMARKS.md records the main job's wall time"
    n, minutes, seconds = measured[-1]
    assert int(n.replace(",", "")) == len(load_questions()), "the last measurement is of the current default config"
    assert int(quoted.group(2)) == round(int(minutes) + float(seconds) / 60), "README's time is the measured one, rounded"
