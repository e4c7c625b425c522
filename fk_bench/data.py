"""Loading and validating factual yes/no questions.

Every source (the packaged Hugging Face dataset, a dataset folder, a CSV in the seed's
``question,answer`` format, JSONL, parquet) ends as one validated :class:`datasets.Dataset` with the
columns of :data:`COLUMNS`. Bad rows fail with one line naming the file, row and field.
"""

from __future__ import annotations

import csv
import functools
import json
import tempfile
from pathlib import Path
from typing import Any, Iterable

import datasets
import pyarrow.parquet

from fk_bench.errors import FkBenchError
from fk_bench.hub import offline_mode, require_hub

RESOURCES = Path(__file__).parent / "resources"
# The packaged dataset (built by ``fk-bench build-dataset``): config "all" by default, one config per
# relation, and "paris" (the seed's questions).
DEFAULT_DATASET = RESOURCES / "fk_yesno"
DEFAULT_CONFIG = "all"

REQUIRED_COLUMNS = ("question", "answer")
# ``corrupted_same_length``: whether question and corrupted question have the same token length
# under the embedded model's tokenizer; None where the source does not say.
BOOL_COLUMNS = ("answer", "corrupted_same_length")
COLUMNS = ("id", "question", "answer", "relation", "subject", "object", "corrupted_question", "corrupted_same_length")
FEATURES = datasets.Features(
    {name: datasets.Value("bool" if name in BOOL_COLUMNS else "string") for name in COLUMNS}
)

_TRUE_LABELS = {"true", "yes", "1"}
_FALSE_LABELS = {"false", "no", "0"}


def parse_label(value: Any, where: str, field: str = "answer") -> bool:
    """A boolean from bools, true/false or yes/no in any case, or 1/0; anything else is an error."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE_LABELS:
            return True
        if text in _FALSE_LABELS:
            return False
    raise FkBenchError(f"{where}: field {field!r}: {value!r} is not a boolean (use true/false, yes/no or 1/0)")


def normalize_rows(rows: Iterable[tuple[str, dict]], source: str) -> list[dict]:
    """Validate ``(location, row)`` pairs and fill the optional columns.

    Checks: required columns present, question a non-empty string, label boolean, and the same
    question never given two different labels.
    """
    normalized: list[dict] = []
    label_of: dict[str, tuple[bool, str]] = {}
    stem = Path(source).stem or "q"
    for index, (where, row) in enumerate(rows):
        missing = [name for name in REQUIRED_COLUMNS if name not in row]
        if missing:
            raise FkBenchError(f"{where}: missing column(s) {missing}; a row needs 'question' and 'answer'")
        question = row["question"]
        if not isinstance(question, str) or not question.strip():
            raise FkBenchError(f"{where}: field 'question' is empty or not text")
        question = question.rstrip("\n")
        answer = parse_label(row["answer"], where)
        key = question.strip()
        if key in label_of and label_of[key][0] != answer:
            raise FkBenchError(
                f"{where}: field 'answer': question {key!r} is labelled {answer} here but {label_of[key][0]} at {label_of[key][1]}"
            )
        label_of[key] = (answer, where)
        out = {name: row.get(name) for name in COLUMNS}
        for name in ("id", "relation", "subject", "object", "corrupted_question"):
            value = out[name]
            if value is not None and not isinstance(value, str):
                out[name] = str(value)
        out["question"], out["answer"] = question, answer
        out["id"] = out["id"] or f"{stem}-{index}"
        out["relation"] = out["relation"] or "custom"
        out["subject"] = out["subject"] or ""
        out["object"] = out["object"] or ""
        out["corrupted_question"] = (out["corrupted_question"] or "").rstrip("\n") or None
        if out["corrupted_same_length"] is not None:
            out["corrupted_same_length"] = parse_label(out["corrupted_same_length"], where, "corrupted_same_length")
        normalized.append(out)
    if not normalized:
        raise FkBenchError(f"{source}: dataset is empty")
    return normalized


def _csv_rows(path: Path) -> Iterable[tuple[str, dict]]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None:
            raise FkBenchError(f"{path}: dataset is empty")
        missing = [name for name in REQUIRED_COLUMNS if name not in reader.fieldnames]
        if missing:
            raise FkBenchError(f"{path}:1: missing column(s) {missing} in header {reader.fieldnames}")
        for row in reader:
            yield f"{path}:{reader.line_num}", {key: (value if value != "" else None) for key, value in row.items()}


def _jsonl_rows(path: Path) -> Iterable[tuple[str, dict]]:
    with path.open(encoding="utf-8") as handle:
        for line_number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise FkBenchError(f"{path}:{line_number}: not valid JSON ({err.msg})") from None
            if not isinstance(row, dict):
                raise FkBenchError(f"{path}:{line_number}: expected a JSON object per line")
            yield f"{path}:{line_number}", row


def _dataset_rows(dataset: datasets.Dataset, source: str) -> Iterable[tuple[str, dict]]:
    for index, row in enumerate(dataset):
        yield f"{source}, row {index}", row


def _load_hf(source: str, config: str | None, split: str) -> datasets.Dataset:
    """``datasets.load_dataset``; a local folder is read afresh into memory every time, because the
    datasets cache key does not change when the folder's files are regenerated (it would serve stale rows)."""
    try:
        if Path(source).is_dir():
            with tempfile.TemporaryDirectory(prefix="fk-bench-dataset-") as cache_dir:
                return datasets.load_dataset(source, name=config, split=split, cache_dir=cache_dir, keep_in_memory=True)
        if not offline_mode():
            # Not a local folder: a Hub dataset. Fail at once when the Hub is out of reach (datasets
            # would retry for half a minute); with HF_HUB_OFFLINE=1 a cached copy is used.
            require_hub(f"dataset {source!r}")
        return datasets.load_dataset(source, name=config, split=split)
    except (ValueError, OSError) as err:  # OSError covers missing files and failed connections
        raise FkBenchError(f"dataset {source!r} (config {config}, split {split}) could not be loaded: {err}") from None


def load_questions(
    source: str | Path | None = None,
    split: str = "test",
    config: str | None = None,
    relation: str | None = None,
    limit: int | None = None,
) -> datasets.Dataset:
    """Validated questions from ``source`` (default: the packaged dataset, config ``all``).

    ``source`` is a dataset folder or Hub name (loaded with :func:`datasets.load_dataset`, ``config``
    and ``split`` apply), or a ``.csv``, ``.jsonl``/``.json`` or ``.parquet`` file.
    """
    if source is None:
        config = config or DEFAULT_CONFIG
    path = Path(source) if source is not None else DEFAULT_DATASET
    label = str(path)
    if path.suffix == ".csv":
        rows = _csv_rows(path) if path.exists() else None
    elif path.suffix in (".jsonl", ".json"):
        rows = _jsonl_rows(path) if path.exists() else None
    elif path.suffix == ".parquet":
        rows = _dataset_rows(datasets.Dataset(pyarrow.parquet.read_table(path)), label) if path.exists() else None
    else:
        rows = _dataset_rows(_load_hf(str(source if source is not None else path), config, split), label)
    if rows is None:
        raise FkBenchError(f"{path}: dataset file not found")
    table = datasets.Dataset.from_list(normalize_rows(rows, label), features=FEATURES)
    if relation is not None:
        table = table.filter(lambda row: row["relation"] == relation)
        if len(table) == 0:
            raise FkBenchError(f"{label}: no questions with relation {relation!r}")
    if limit is not None:
        table = table.select(range(min(limit, len(table))))
    return table


@functools.lru_cache(maxsize=1)
def _fewshot_rows() -> tuple[dict, ...]:
    return tuple(load_questions(split="train").to_list())


def fewshot_pool(k: int) -> list[dict]:
    """The deterministic few-shot examples: the first ``k`` rows of the packaged ``train`` split, where
    the answers alternate True/False and the relations take turns."""
    rows = _fewshot_rows()
    if k > len(rows):
        raise FkBenchError(f"fewshot k={k}: the pool ({DEFAULT_DATASET.name} train split) has only {len(rows)} examples")
    return [dict(row) for row in rows[:k]]
