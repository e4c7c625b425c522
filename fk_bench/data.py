"""Loading and validating factual yes/no questions.

Every source (the packaged Hugging Face dataset, a dataset folder, a CSV with ``question,answer``
columns, JSON lines, parquet) ends as one validated :class:`datasets.Dataset` with the columns of
:data:`fk_bench.dataset.schema.QUESTION_COLUMNS`. Bad input fails with one line naming the file, row
and field; nothing is dropped or guessed silently.

Pairs (``pair_id``): a true question and its corrupted twin, the false question with the object
swapped, share a pair id; ``paired_accuracy`` compares them. The packaged dataset has the column. For
data without it, :func:`find_pairs` derives it from ``corrupted_question``. :func:`load_questions`
returns the table together with its :class:`~fk_bench.pair_index.PairIndex` (grouped once, here) and the
:class:`~fk_bench.spec.DatasetSpec` that says which questions these are.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import math
import tempfile
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import datasets

from fk_bench.dataset.schema import COLUMNS, QUESTION_COLUMNS, REQUIRED_COLUMNS, STRING_COLUMNS, features
from fk_bench.errors import FkBenchError
from fk_bench.files import read_text
from fk_bench.hub import offline_mode, require_hub
from fk_bench.pair_index import PairIndex
from fk_bench.spec import DEFAULT_CONFIG, DEFAULT_SPLIT, PACKAGED_DATASET, PACKAGED_DATASET_DIR, DatasetSpec

if TYPE_CHECKING:
    import pandas as pd

RESOURCES = Path(__file__).parent / "resources"
# The packaged dataset (built by ``fk-bench build-dataset``): config "all" by default, one config per
# relation, "paraphrase", "full", and "paris" (the original study's nine questions).
DEFAULT_DATASET = PACKAGED_DATASET_DIR
FILE_SUFFIXES = (".csv", ".jsonl", ".json", ".parquet")
FLOAT_COLUMNS = tuple(column.name for column in COLUMNS if column.dtype.startswith("float"))
VERSION_KEY = "fk_bench_dataset_version"
"""The key of a dataset card's YAML that holds the dataset's version (recorded with every result)."""

FEATURES = features()

_TRUE_LABELS = {"true", "yes", "1"}
_FALSE_LABELS = {"false", "no", "0"}
_LABEL_HINT = "use true/false, yes/no or 1/0"
_JSONL_HINT = 'fk-bench reads JSON lines: one object per line, e.g. {"question": "Is Paris in France?", "answer": true}'


def parse_label(value: Any, where: str, field: str = "answer") -> bool:
    """A boolean from bools, true/false or yes/no in any case, or 1/0; anything else is an error."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise FkBenchError(f"{where}: field {field!r} is empty, not a boolean ({_LABEL_HINT})")
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE_LABELS:
            return True
        if text in _FALSE_LABELS:
            return False
    raise FkBenchError(f"{where}: field {field!r}: {value!r} is not a boolean ({_LABEL_HINT})")


def _parse_number(value: Any, where: str, field: str) -> float | None:
    """A finite number or null (empty text, None and NaN are null); anything else is an error."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise FkBenchError(f"{where}: field {field!r}: {value!r} is not a number") from None
    if math.isnan(number):
        return None
    if math.isinf(number):
        raise FkBenchError(f"{where}: field {field!r}: {value!r} is not a finite number")
    return number


def normalize_rows(rows: Iterable[tuple[str, dict[str, Any]]], source: str) -> list[dict[str, Any]]:
    """Validate ``(location, row)`` pairs, fill the optional columns and the pair ids.

    Checks: required columns present, question a non-empty string, label boolean, the same question
    never given two different labels, and the pairs (see :func:`find_pairs`).
    """
    normalized: list[dict[str, Any]] = []
    wheres: list[str] = []
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
            raise FkBenchError(f"{where}: field 'answer': question {key!r} is labelled {answer} here but {label_of[key][0]} at {label_of[key][1]}")
        label_of[key] = (answer, where)
        out = {name: row.get(name) for name in QUESTION_COLUMNS}
        for name in STRING_COLUMNS:
            value = out[name]
            if value is not None and not isinstance(value, str):
                out[name] = str(value)
        for name in FLOAT_COLUMNS:
            out[name] = _parse_number(out[name], where, name)
        out["question"], out["answer"] = question, answer
        out["id"] = out["id"] or f"{stem}-{index}"
        out["relation"] = out["relation"] or "custom"
        out["subject"] = out["subject"] or ""
        out["object"] = out["object"] or ""
        out["corrupted_question"] = (out["corrupted_question"] or "").rstrip("\n") or None
        out["pair_id"] = (out["pair_id"] or "").strip() or None
        if out["corrupted_same_length"] is not None:
            out["corrupted_same_length"] = parse_label(out["corrupted_same_length"], where, "corrupted_same_length")
        normalized.append(out)
        wheres.append(where)
    if not normalized:
        raise FkBenchError(f"{source}: dataset is empty")
    find_pairs(normalized, wheres)
    return normalized


def find_pairs(rows: list[dict[str, Any]], wheres: list[str]) -> None:
    """Check the rows' ``pair_id`` or, where no row has one, derive it from ``corrupted_question`` (in place).

    Given pair ids are used as they are: a pair id names one or two rows (one when the twin is not in
    the data), and two rows of a pair have opposite labels.

    Without pair ids, row A and row B form a pair when A's ``corrupted_question`` is B's ``question``
    (both stripped of surrounding white space) and B either names A back (its ``corrupted_question`` is A's
    question) or names no corrupted question at all. A row whose twin names another question (in the
    data or not) forms no pair: the two disagree. Such pairs get the ids ``pair-0``, ``pair-1``... in the order of their first
    row; rows without a pair keep ``None`` (so ``paired_accuracy`` is absent, not 0).

    Errors (:class:`FkBenchError`, naming the rows): a pair whose two questions have the same label; a
    pair id on more than two rows; a row named as the twin of two others; a ``corrupted_question`` that
    is the question of several rows.
    """
    if any(row["pair_id"] is not None for row in rows):
        members: dict[str, list[int]] = defaultdict(list)
        for index, row in enumerate(rows):
            if row["pair_id"] is not None:
                members[row["pair_id"]].append(index)
        for pair_id, indices in members.items():
            if len(indices) > 2:
                shown = ", ".join(wheres[i] for i in indices[:4]) + (", ..." if len(indices) > 4 else "")
                raise FkBenchError(
                    f"field 'pair_id': {pair_id!r} is shared by {len(indices)} rows ({shown}); a pair is one true and one false question"
                )
            if len(indices) == 2:
                first, second = indices
                _check_opposite_labels(rows, wheres, first, second, f"its pair_id {pair_id!r}")
        return

    rows_of_question: dict[str, list[int]] = defaultdict(list)
    for index, row in enumerate(rows):
        rows_of_question[row["question"].strip()].append(index)
    twin_of: dict[int, int] = {}
    for index, row in enumerate(rows):
        if row["corrupted_question"] is None:
            continue
        matches = [other for other in rows_of_question.get(row["corrupted_question"].strip(), []) if other != index]
        if len(matches) > 1:
            raise FkBenchError(
                f"{wheres[index]}: field 'corrupted_question': {row['corrupted_question']!r} is the question of "
                f"{len(matches)} rows ({', '.join(wheres[i] for i in matches[:4])}); a question has one twin"
            )
        if matches:
            twin_of[index] = matches[0]

    pairs: list[tuple[int, int]] = []
    paired_with: dict[int, int] = {}
    for index, twin in twin_of.items():
        back = twin_of.get(twin)
        if back == index and index > twin:
            continue  # a mutual pair, already taken from its first row
        if back != index and rows[twin]["corrupted_question"] is not None:
            continue  # the twin names another question: no pair
        for member, other in ((index, twin), (twin, index)):
            if member in paired_with:
                raise FkBenchError(
                    f"{wheres[member]}: is named as the twin (corrupted_question) of both {wheres[paired_with[member]]} "
                    f"and {wheres[other]}; a pair is two rows"
                )
            paired_with[member] = other
        _check_opposite_labels(rows, wheres, index, twin, "their corrupted_question")
        pairs.append((min(index, twin), max(index, twin)))
    for number, (first, second) in enumerate(sorted(pairs)):
        rows[first]["pair_id"] = rows[second]["pair_id"] = f"pair-{number}"


def _check_opposite_labels(rows: list[dict[str, Any]], wheres: list[str], first: int, second: int, why: str) -> None:
    if rows[first]["answer"] == rows[second]["answer"]:
        first, second = sorted((first, second))
        raise FkBenchError(
            f"{wheres[second]}: pairs with {wheres[first]} ({why}) but both are labelled {rows[first]['answer']}; "
            "a pair is one true question and its false twin"
        )


def _csv_rows(path: Path) -> Iterable[tuple[str, dict[str, Any]]]:
    reader = csv.reader(io.StringIO(read_text(path, "dataset file"), newline=""))
    header = next(reader, None)
    if header is None:
        raise FkBenchError(f"{path}: dataset is empty")
    missing = [name for name in REQUIRED_COLUMNS if name not in header]
    if missing:
        raise FkBenchError(f"{path}:1: missing column(s) {missing} in header {header}")
    twice = sorted({name for name in header if header.count(name) > 1})
    if twice:
        raise FkBenchError(f"{path}:1: column(s) {twice} appear twice in header {header}")
    for fields in reader:
        if not fields:
            continue  # a blank line
        where = f"{path}:{reader.line_num}"
        if len(fields) != len(header):
            hint = "put a field that holds a comma in double quotes" if len(fields) > len(header) else "leave a missing value empty (a,,b)"
            raise FkBenchError(f"{where}: {len(fields)} field(s) but the header has {len(header)} ({','.join(header)}); {hint}")
        yield where, {name: (value if value != "" else None) for name, value in zip(header, fields)}


def _jsonl_rows(path: Path) -> Iterable[tuple[str, dict[str, Any]]]:
    text = read_text(path, "dataset file")
    for line_number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise FkBenchError(_whole_document_error(path, text) or f"{path}:{line_number}: not valid JSON ({err.msg})") from None
        if not isinstance(row, dict):
            raise FkBenchError(_whole_document_error(path, text) or f"{path}:{line_number}: expected a JSON object per line; {_JSONL_HINT}")
        yield f"{path}:{line_number}", row


def _whole_document_error(path: Path, text: str) -> str | None:
    """What to say when a file of JSON lines is one JSON document instead (an array, or an object over
    several lines); None when it is not."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError:
        return None
    kind = "one JSON array" if isinstance(document, list) else "one JSON object over several lines" if isinstance(document, dict) else None
    return None if kind is None else f"{path}: holds {kind}; {_JSONL_HINT}"


def _parquet_rows(path: Path) -> Iterable[tuple[str, dict[str, Any]]]:
    import pyarrow
    import pyarrow.parquet

    if path.is_dir():
        raise FkBenchError(f"dataset file {path}: is a folder, expected a file")
    try:
        table = pyarrow.parquet.read_table(path)
    except FileNotFoundError:
        raise FkBenchError(f"dataset file {path}: not found") from None
    except (pyarrow.ArrowException, OSError) as err:
        raise FkBenchError(f"{path}: not a readable parquet file ({_first_line(err)})") from None
    for index, row in enumerate(table.to_pylist()):
        yield f"{path}, row {index}", row


def _first_line(err: Exception) -> str:
    return (str(err).strip().splitlines() or [type(err).__name__])[0]


def _dataset_rows(dataset: datasets.Dataset, source: str) -> Iterable[tuple[str, dict[str, Any]]]:
    for index, row in enumerate(dataset):
        yield f"{source}, row {index}", row


def _load_hf(source: str, config: str | None, split: str) -> datasets.Dataset:
    """``datasets.load_dataset``; a local folder is read afresh into memory every time, because the
    datasets cache key does not change when the folder's files are regenerated (it would serve stale rows)."""
    from datasets.exceptions import DatasetsError

    try:
        if Path(source).is_dir():
            with tempfile.TemporaryDirectory(prefix="fk-bench-dataset-") as cache_dir:
                return datasets.load_dataset(source, name=config, split=split, cache_dir=cache_dir, keep_in_memory=True)
        if not offline_mode():
            # Not a local folder: a Hub dataset. Fail at once when the Hub is out of reach (datasets
            # would retry for half a minute); with HF_HUB_OFFLINE=1 a cached copy is used.
            require_hub(f"dataset {source!r}")
        return datasets.load_dataset(source, name=config, split=split)
    except (ValueError, OSError, DatasetsError) as err:  # OSError: missing files, failed connections
        raise FkBenchError(f"dataset {source!r} (config {config}, split {split}) could not be loaded: {_first_line(err)}") from None


def _is_single_file(path: Path) -> bool:
    """Whether ``path`` names one question file (by its suffix, or because it is a file), not a dataset folder or Hub name."""
    return path.suffix.lower() in FILE_SUFFIXES or path.is_file()


def _source_rows(source: str | Path | None, config: str | None, split: str | None) -> tuple[Iterable[tuple[str, dict[str, Any]]], str]:
    """The rows of ``source`` as ``(location, row)`` pairs, and the label naming the source."""
    path = Path(source) if source is not None else DEFAULT_DATASET
    suffix = path.suffix.lower()
    if _is_single_file(path):
        given = [f"--{name} {value}" for name, value in (("config", config), ("split", split)) if value is not None]
        if given:
            raise FkBenchError(f"{path}: {' and '.join(given)} apply to dataset folders and Hub datasets, not to a single file; leave them out")
    if suffix == ".csv":
        return _csv_rows(path), str(path)
    if suffix in (".jsonl", ".json"):
        return _jsonl_rows(path), str(path)
    if suffix == ".parquet":
        return _parquet_rows(path), str(path)
    if path.is_file():
        raise FkBenchError(f"{path}: unsupported file type; use a {', '.join(FILE_SUFFIXES)} file or a dataset folder")
    return _dataset_rows(_load_hf(str(source if source is not None else path), config, split or DEFAULT_SPLIT), str(path)), str(path)


def is_packaged(source: str | Path | None) -> bool:
    """Whether ``source`` is the packaged dataset (None, its name, or its folder under any spelling)."""
    if source is None or str(source) == PACKAGED_DATASET:
        return True
    try:
        return Path(source).resolve() == DEFAULT_DATASET.resolve()
    except OSError:
        return False


def dataset_version(folder: str | Path) -> str | None:
    """The version a dataset folder's card gives (``fk_bench_dataset_version`` in its YAML), or None."""
    card = Path(folder) / "README.md"
    if not card.is_file():
        return None
    from huggingface_hub import DatasetCard

    try:
        version = DatasetCard.load(card).data.to_dict().get(VERSION_KEY)
    except (ValueError, OSError):
        return None
    return None if version is None else str(version)


@dataclass(frozen=True)
class Questions:
    """Validated questions, their pairs (grouped once, at load time) and which questions they are."""

    table: datasets.Dataset
    pairs: PairIndex
    dataset: DatasetSpec

    def __len__(self) -> int:
        return len(self.table)

    def __getitem__(self, column: str) -> Sequence[Any]:
        column_values: Sequence[Any] = self.table[column]  # a datasets Column: a Sequence of the column's values
        return column_values

    @property
    def labels(self) -> Sequence[bool]:
        answers: Sequence[bool] = self.table["answer"]  # the validated answer column: bools only
        return answers

    def select(self, rows: Sequence[int], dataset: DatasetSpec | None = None) -> Questions:
        """The questions at ``rows`` (pairs cut in two by the choice count as unpaired), described by ``dataset``."""
        rows = list(rows)
        return Questions(self.table.select(rows), self.pairs.select(rows), dataset or self.dataset)

    def to_pandas(self) -> pd.DataFrame:
        return self.table.to_pandas()


def load_questions(
    source: str | Path | None = None,
    split: str | None = None,
    config: str | None = None,
    relation: str | None = None,
    limit: int | None = None,
) -> Questions:
    """Validated questions from ``source`` (default: the packaged dataset, config ``all``).

    ``source`` is a dataset folder or Hub name (loaded with :func:`datasets.load_dataset`; ``config``
    and ``split`` apply, split ``test`` by default), or a ``.csv``, ``.jsonl``/``.json`` (JSON lines) or
    ``.parquet`` file (``config`` and ``split`` given with a file are an error: they would be recorded
    but mean nothing). Pairs are checked or found over the whole source (:func:`find_pairs`), before
    ``relation`` and ``limit`` select rows; a pair cut in two by them counts as unpaired.
    """
    packaged = is_packaged(source)
    if packaged:
        source, config = None, config or DEFAULT_CONFIG
    rows, label = _source_rows(source, config, split)
    if packaged or not _is_single_file(Path(str(source))):
        split = split or DEFAULT_SPLIT
    table = datasets.Dataset.from_list(normalize_rows(rows, label), features=FEATURES)
    if relation is not None:
        table = table.filter(lambda row: row["relation"] == relation)
        if len(table) == 0:
            raise FkBenchError(f"{label}: no questions with relation {relation!r}")
    if limit is not None:
        table = table.select(range(min(limit, len(table))))
    folder = DEFAULT_DATASET if packaged else Path(str(source))
    spec = DatasetSpec(
        id=PACKAGED_DATASET if packaged else str(source),
        config=config,
        split=split,
        version=dataset_version(folder) if folder.is_dir() else None,
        relation=relation,
        limit=limit,
    )
    return Questions(table, PairIndex.from_ids(table["pair_id"], table["answer"]), spec)


@functools.lru_cache(maxsize=1)
def _fewshot_rows() -> tuple[dict[str, Any], ...]:
    return tuple(load_questions(split="train").table.to_list())


def fewshot_pool(k: int) -> list[dict[str, Any]]:
    """The deterministic few-shot examples: the first ``k`` rows of the packaged ``train`` split, where
    the answers alternate True/False and the relations take turns."""
    rows = _fewshot_rows()
    if k > len(rows):
        raise FkBenchError(f"fewshot k={k}: the pool ({DEFAULT_DATASET.name} train split) has only {len(rows)} examples")
    return [dict(row) for row in rows[:k]]
