"""What the leaderboard's statistics cost (issue 26): the committed board rendered with and without them.

    pytest benchmarks/bench_leaderboard_stats.py --benchmark-only --fk-repeats 3

Renders ``leaderboard/results`` (the committed zoo runs; no model is run) as Markdown, CSV and HTML, once as
it is and once with the statistics switched off (no intervals, rank intervals, significance matrix or
reliability diagrams: ``row_statistics`` and ``significance`` replaced by empty ones), interleaved, and
compares both with the time the models took to score those runs (``scoring.seconds`` in each results.json).
"""

from __future__ import annotations

import json
from pathlib import Path

from measure import spread, timed

RESULTS = Path(__file__).parents[1] / "leaderboard" / "results"


def test_statistics_cost(figure, benchmark, pytestconfig, tmp_path, monkeypatch):
    from importlib import import_module

    from fk_bench.leaderboard import collect_rows, render_all

    # (fk_bench.leaderboard exports a function named render: take the modules themselves)
    collect, render, page = (import_module(f"fk_bench.leaderboard.{name}") for name in ("collect", "render", "page"))

    files = sorted(RESULTS.glob("*/results.json"))
    scoring = sum(json.loads(f.read_text(encoding="utf-8"))["scoring"]["seconds"] for f in files)
    with_stats = (collect.row_statistics, render.significance, page.significance)

    def board(statistics: bool) -> float:
        row_statistics, render_significance, page_significance = with_stats if statistics else (lambda result: {}, lambda table: {}, lambda table: {})
        monkeypatch.setattr(collect, "row_statistics", row_statistics)
        monkeypatch.setattr(render, "significance", render_significance)
        monkeypatch.setattr(page, "significance", page_significance)
        seconds, _ = timed(lambda: render_all(collect_rows([RESULTS]), tmp_path / ("with" if statistics else "without")))
        return seconds

    def run():
        board(True), board(False)  # warm-up: imports, plotly, Jinja2
        times: dict[bool, list[float]] = {True: [], False: []}
        for _ in range(pytestconfig.getoption("--fk-repeats")):
            for statistics in (True, False):
                times[statistics].append(board(statistics))
        return times

    times = benchmark.pedantic(run, rounds=1, iterations=1)
    extra = [a - b for a, b in zip(times[True], times[False])]
    figure += [
        f"{len(files)} committed runs ({sum(1 for _ in files)} rows), rendered as .md, .csv and .html",
        f"with statistics {spread(times[True])} s, without {spread(times[False])} s: the statistics add {spread(extra)} s "
        f"({spread([a / b for a, b in zip(times[True], times[False])])}x the rendering)",
        f"scoring those runs took {scoring:.0f} s; board time (scoring + rendering) grows by "
        f"{spread([100 * e / (scoring + b) for e, b in zip(extra, times[False])], 1)}%",
    ]
    assert min(times[True]) < 2 * (scoring + min(times[False])), "the statistics must not double a board's time"
