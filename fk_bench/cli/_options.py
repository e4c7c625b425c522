"""Options shared by several commands, and argparse types that refuse bad numbers at parse time."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from fk_bench.spec import BATCH_SIZE_AUTO, DEFAULT_BATCH_SIZE, DEFAULT_FEWSHOT_K, DEFAULT_PROMPT_FORMAT, DTYPES, PROMPT_FORMATS

if TYPE_CHECKING:
    from fk_bench.answer_groups import AnswerGroups
    from fk_bench.data import Questions
    from fk_bench.models import LoadedModel
    from fk_bench.spec import RunSpec


def counted_int(minimum: int) -> Callable[[str], int]:
    """An argparse type: an integer of at least ``minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{value} must be {'at least ' + str(minimum) if minimum else '0 or more'}")
        return value

    return parse


positive_int = counted_int(1)
"""An integer >= 1 (counts such as --limit or --batch-size, where 0 or less makes no sense)."""


def batch_size(text: str) -> int | str:
    """A batch size: an integer >= 1, or ``auto`` (the largest that fits in free memory)."""
    return BATCH_SIZE_AUTO if text.strip().lower() == BATCH_SIZE_AUTO else positive_int(text)


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


def positive_float(text: str) -> float:
    """A finite number > 0."""
    value = non_negative_float(text)
    if value == 0:
        raise argparse.ArgumentTypeError("must be more than 0")
    return value


def check_output_folder(path: Path, flag: str) -> Path:
    """``path`` can be the output folder ``flag`` names (checked before any work): not too long, no file,
    FIFO or device, writable; else one line naming the flag and the fix."""
    from fk_bench.files import check_writable_dir

    return check_writable_dir(path, flag)


def add_model_and_data_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of every command that runs a model on questions (eval, report): the fields of a RunSpec."""
    parser.add_argument("--model", default="embedded", help="a zoo name (see 'fk-bench models'), a local Hugging Face directory or a Hub id")
    parser.add_argument("--dataset", default=None, help="dataset folder, Hub name, .csv, .jsonl or .parquet (default: packaged)")
    parser.add_argument("--config", default=None, help="dataset config, for dataset folders and Hub datasets (packaged default: all)")
    parser.add_argument("--split", default=None, help="dataset split, for dataset folders and Hub datasets (default: test)")
    parser.add_argument("--relation", default=None, help="only questions of this relation")
    parser.add_argument("--limit", type=positive_int, default=None, help="at most N questions (the first N)")
    parser.add_argument("--answer-map", type=Path, default=None, help='JSON {"True": [...], "False": [...]}')
    parser.add_argument("--device", default=None, help="cuda, cuda:N or cpu (default: cuda when available)")
    parser.add_argument("--dtype", default=None, choices=DTYPES, help="weights' dtype (default: see 'fk-bench models')")
    parser.add_argument("--prompt-format", choices=tuple(PROMPT_FORMATS), default=DEFAULT_PROMPT_FORMAT)
    parser.add_argument("--fewshot-k", type=positive_int, default=DEFAULT_FEWSHOT_K, help="solved examples before each question (fewshot only)")
    parser.add_argument(
        "--batch-size", type=batch_size, default=DEFAULT_BATCH_SIZE, help="questions per forward pass, or 'auto' (default: %(default)s)"
    )


def load_inputs(
    args: argparse.Namespace, filter_threshold: float | None = None, before_load: Callable[[RunSpec], object] | None = None
) -> tuple[AnswerGroups, Questions, LoadedModel, RunSpec]:
    """Answer groups, questions, the run spec and the model from the shared options, cheapest first so bad
    input fails fast; the spec is built here, once, with the device and dtype resolved. ``before_load(spec)``
    runs before the model loads: checks of what would fail after the work (the output folder)."""
    from fk_bench.answer_groups import load_answer_groups
    from fk_bench.data import load_questions
    from fk_bench.models import load_run_model
    from fk_bench.path_checks import check_input_path
    from fk_bench.spec import DEFAULT_FILTER_THRESHOLD, RunSpec
    from fk_bench.torch_settings import spec_names

    for flag, value in (("--model", args.model), ("--dataset", args.dataset), ("--answer-map", args.answer_map)):
        check_input_path(value, flag)
    device, dtype = spec_names(args.device, args.dtype)
    groups = load_answer_groups(args.answer_map)
    questions = load_questions(args.dataset, split=args.split, config=args.config, relation=args.relation, limit=args.limit)
    spec = RunSpec(
        model=args.model,
        prompt_format=args.prompt_format,
        fewshot_k=args.fewshot_k,  # kept by the formats that use examples only (RunSpec)
        dtype=dtype,
        device=device,
        batch_size=args.batch_size,
        dataset=questions.dataset,
        answer_map=groups.name,
        filter_threshold=DEFAULT_FILTER_THRESHOLD if filter_threshold is None else filter_threshold,
    )
    if before_load is not None:
        before_load(spec)
    loaded = load_run_model(spec)
    return groups, questions, loaded, spec
