"""``fk-bench zoo``: the offline model zoo. ``zoo list`` shows it; ``zoo run`` scores every zoo model under
each prompt format that applies on one fixed slice and writes ordinary results for ``fk-bench leaderboard``.

    fk-bench zoo run --out leaderboard/results
    fk-bench leaderboard leaderboard/results --out leaderboard/leaderboard.html
"""

from __future__ import annotations

import argparse
import shlex
import time
from pathlib import Path

from fk_bench.cli._options import batch_size, positive_int
from fk_bench.models.zoo_run import DEFAULT_PER_RELATION, ZOO_MODELS, ZOO_QUESTION_SETS
from fk_bench.spec import DEFAULT_BATCH_SIZE, DEFAULT_FEWSHOT_K, DTYPES, PROMPT_FORMATS


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("zoo", help="the offline model zoo: list it, or run it for the leaderboard")
    commands = parser.add_subparsers(dest="zoo_command", required=True, metavar="ZOO_COMMAND")
    listing = commands.add_parser("list", help="the models --model accepts by name (same as 'fk-bench models')")
    listing.set_defaults(func=run_list)
    run = commands.add_parser(
        "run",
        help="score every zoo model under each prompt format on the zoo's question sets; writes OUT/<run>/results.json",
        description="Score every zoo model under each prompt format that applies (chat needs a chat template) on each question set: "
        "'full', the packaged dataset's whole default test split, and 'paraphrase', the first --per-relation questions of each "
        "relation of the packaged paraphrase config (whole facts in every wording: consistency); write one result folder per run. "
        "Render them with 'fk-bench leaderboard OUT --out page.html'.",
    )
    run.add_argument("--out", type=Path, required=True, help="results folder (the repository's leaderboard/results)")
    run.add_argument("--models", nargs="+", default=None, help="zoo names or model folders (default: the whole zoo)")
    run.add_argument("--formats", nargs="+", default=None, choices=tuple(PROMPT_FORMATS), help="prompt formats (default: all that apply)")
    run.add_argument(
        "--per-relation", type=positive_int, default=DEFAULT_PER_RELATION, help="first N paraphrase questions of each relation (even: whole pairs)"
    )
    run.add_argument(
        "--question-sets", nargs="+", default=None, choices=ZOO_QUESTION_SETS, help="which question sets (default: all: full paraphrase)"
    )
    run.add_argument("--fewshot-k", type=positive_int, default=DEFAULT_FEWSHOT_K)
    run.add_argument("--dtype", choices=DTYPES, default=None, help="weights' dtype (default: see 'fk-bench models')")
    run.add_argument("--device", default=None)
    run.add_argument("--batch-size", type=batch_size, default=DEFAULT_BATCH_SIZE)
    run.add_argument("--resume", action="store_true", help="keep results already in OUT/<run>/ made with the same run spec")
    run.add_argument("--overwrite", action="store_true", help="replace a run folder even when it holds a run of another spec")
    run.set_defaults(func=run_zoo)


def run_list(args: argparse.Namespace) -> None:
    from fk_bench.models.listing import zoo_table

    print(zoo_table())


def _command(args: argparse.Namespace) -> str:
    """The command that reproduces this zoo run, with every option that differs from its default."""
    words = ["fk-bench", "zoo", "run", "--out", str(args.out)]
    if args.models:
        words += ["--models", *args.models]
    if args.formats:
        words += ["--formats", *args.formats]
    if args.question_sets:
        words += ["--question-sets", *args.question_sets]
    defaults = {"per_relation": DEFAULT_PER_RELATION, "fewshot_k": DEFAULT_FEWSHOT_K, "batch_size": DEFAULT_BATCH_SIZE, "dtype": None, "device": None}
    for name, default in defaults.items():
        if getattr(args, name) != default:
            words += [f"--{name.replace('_', '-')}", str(getattr(args, name))]
    return shlex.join(words)


def run_zoo(args: argparse.Namespace) -> None:
    from fk_bench.cli._options import check_output_folder
    from fk_bench.models.zoo_run import run_zoo, timing_table

    check_output_folder(args.out, "--out")
    start = time.perf_counter()
    runs = run_zoo(
        args.out,
        models=args.models or ZOO_MODELS,
        formats=args.formats or tuple(PROMPT_FORMATS),
        per_relation=args.per_relation,
        question_sets=args.question_sets or ZOO_QUESTION_SETS,
        fewshot_k=args.fewshot_k,
        dtype=args.dtype,
        device=args.device,
        batch_size=args.batch_size,
        resume=args.resume,
        overwrite=args.overwrite,
    )
    print(timing_table(runs, time.perf_counter() - start))
    print(f"ran: {_command(args)}\nrender: fk-bench leaderboard {shlex.quote(str(args.out))} --out leaderboard.html")
