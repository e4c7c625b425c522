"""Options shared by several commands, and argparse types that refuse bad numbers at parse time."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

DTYPES = ("float32", "bfloat16", "float16")


def positive_int(text: str) -> int:
    """An integer >= 1 (counts such as --limit or --batch-size, where 0 or less makes no sense)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def _finite(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


def fraction(text: str) -> float:
    """A number in [0, 1] (accuracy-like thresholds)."""
    value = _finite(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{value} must be between 0 and 1")
    return value


def prob_diff_threshold(text: str) -> float:
    """A prob_diff threshold: prob_diff lies in [-1, 1]."""
    value = _finite(text)
    if not -1.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{value} must be between -1 and 1 (prob_diff's range)")
    return value


def non_negative_float(text: str) -> float:
    value = _finite(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} must be 0 or more")
    return value


def add_model_and_data_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of every command that runs a model on questions (eval, report)."""
    parser.add_argument("--model", default="embedded", help="a zoo name (see 'fk-bench models'), a local Hugging Face directory or a Hub id")
    parser.add_argument("--dataset", default=None, help="dataset folder, Hub name, .csv, .jsonl or .parquet (default: packaged)")
    parser.add_argument("--config", default=None, help="dataset config (for dataset folders)")
    parser.add_argument("--split", default="test")
    parser.add_argument("--relation", default=None, help="only questions of this relation")
    parser.add_argument("--limit", type=positive_int, default=None, help="at most N questions (the first N)")
    parser.add_argument("--answer-map", type=Path, default=None, help='JSON {"True": [...], "False": [...]}')
    parser.add_argument("--device", default=None, help="cuda, cuda:N or cpu (default: cuda when available)")
    parser.add_argument("--dtype", default=None, choices=DTYPES, help="weights' dtype (default: see 'fk-bench models')")
    parser.add_argument("--prompt-format", choices=("plain", "fewshot", "chat"), default="plain")
    parser.add_argument("--fewshot-k", type=positive_int, default=4, help="solved examples before each question (fewshot only)")
    parser.add_argument("--batch-size", type=positive_int, default=128, help="questions per forward pass")


def load_inputs(args: argparse.Namespace) -> tuple[Any, Any, Any]:
    """Answer groups, questions and model from the shared options, cheapest first so bad input fails fast."""
    from fk_bench.answers import load_answer_groups
    from fk_bench.data import load_questions
    from fk_bench.models import load_model, resolve_device, resolve_dtype

    device = resolve_device(args.device)
    dtype = resolve_dtype(args.dtype, device)
    groups = load_answer_groups(args.answer_map)
    questions = load_questions(args.dataset, split=args.split, config=args.config, relation=args.relation, limit=args.limit)
    loaded = load_model(args.model, device=device, dtype=dtype)
    return groups, questions, loaded
