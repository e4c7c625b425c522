"""The ``fk-bench`` command line: evaluate, export the embedded model, and the other subcommands."""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

from fk_bench.errors import FkBenchError


def _cmd_eval(args: argparse.Namespace) -> None:
    from fk_bench.answers import load_answer_groups
    from fk_bench.data import load_questions
    from fk_bench.evaluation import evaluate, write_results
    from fk_bench.models import load_model

    groups = load_answer_groups(args.answer_map)
    questions = load_questions(args.dataset, split=args.split, config=args.config, relation=args.relation, limit=args.limit)
    loaded = load_model(args.model, device=args.device, dtype=args.dtype)
    result = evaluate(
        loaded,
        questions,
        groups,
        prompt_format=args.prompt_format,
        batch_size=args.batch_size,
        filter_threshold=args.filter_threshold,
        fewshot_k=args.fewshot_k,
        dataset_id=str(args.dataset or "default"),
    )
    path = write_results(result, args.out)
    s = result.summary
    print(
        f"{result.model['name']}: n={s['n_questions']} accuracy={s['accuracy']:.3f} log_odds={s['log_odds']:.3f} "
        f"logit_diff={s['logit_diff']:.3f} prob_diff={s['prob_diff']:.3f} brier={s['brier']:.3f} ece={s['ece']:.3f} "
        f"pass_filter={s['n_pass_filter']} ({s['questions_per_second']:.1f} q/s)\nwrote {path}"
    )


def _cmd_export_model(args: argparse.Namespace) -> None:
    from fk_bench.models import export_model

    print(export_model(args.model, args.out_dir))


# Modules that bring their own subcommand: each defines ``add_subcommand(subparsers)`` and keeps
# heavy imports inside the command function, so ``fk-bench --help`` stays fast.
SUBCOMMAND_MODULES: tuple[str, ...] = ("fk_bench.task_plugin", "fk_bench.leaderboard", "fk_bench.dataset_builder", "interp.report")


def add_model_and_data_arguments(parser: argparse.ArgumentParser) -> None:
    """The options every command that runs a model on questions shares (eval, report)."""
    parser.add_argument("--model", default="embedded", help="'embedded', a local Hugging Face directory or a Hub id")
    parser.add_argument("--dataset", default=None, help="dataset folder, Hub name, .csv, .jsonl or .parquet (default: packaged)")
    parser.add_argument("--config", default=None, help="dataset config (for dataset folders)")
    parser.add_argument("--split", default="test")
    parser.add_argument("--relation", default=None, help="only questions of this relation")
    parser.add_argument("--answer-map", type=Path, default=None, help='JSON {"True": [...], "False": [...]}')
    parser.add_argument("--device", default=None, help="cuda or cpu (default: cuda when available)")
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"])


def build_parser() -> argparse.ArgumentParser:
    from fk_bench.metrics import DEFAULT_FILTER_THRESHOLD
    from fk_bench.prompts import PROMPT_FORMATS

    parser = argparse.ArgumentParser(prog="fk-bench", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    ev = sub.add_parser("eval", help="score a model on factual yes/no questions")
    add_model_and_data_arguments(ev)
    ev.add_argument("--out", required=True, type=Path, help="results folder; writes OUT/<model-name>/results.json")
    ev.add_argument("--limit", type=int, default=None)
    ev.add_argument("--batch-size", type=int, default=128, help="questions per forward pass (the unembedding matrix is read once per batch)")
    ev.add_argument("--prompt-format", choices=PROMPT_FORMATS, default="plain")
    ev.add_argument("--fewshot-k", type=int, default=4)
    ev.add_argument("--filter-threshold", type=float, default=DEFAULT_FILTER_THRESHOLD)
    ev.set_defaults(func=_cmd_eval)

    ex = sub.add_parser("export-model", help="write a model as a Hugging Face directory (for lm_eval --model hf)")
    ex.add_argument("model", help="'embedded', a local directory or a Hub id")
    ex.add_argument("out_dir", type=Path)
    ex.set_defaults(func=_cmd_export_model)

    for module in SUBCOMMAND_MODULES:
        importlib.import_module(module).add_subcommand(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except FkBenchError as err:
        print(f"fk-bench: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
