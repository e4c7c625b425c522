"""results.json: the one definition of what ``fk-bench eval`` writes and of what every reader reads.

:class:`RunResult` (pydantic) is written by :func:`fk_bench.evaluation.write_results` and read back by
:func:`read_results`, the only reader: the leaderboard, interp's ``--from-results`` and the tests use it.
Each value is stored once: the settings in ``spec`` (:class:`~fk_bench.spec.RunSpec`), the numbers in
``summary``/``per_relation``/``per_domain``/``by_popularity``, the per-question rows in ``questions``.
Reading checks every number against its range (a metric from :data:`fk_bench.metrics.METRICS` outside
its bounds, a count below 0, a non-finite float or a number given as text) and fails with one line
naming the file. ``fk_bench/resources/results.schema.json`` is the JSON schema of the same definition
(``python -m fk_bench.results`` rewrites it; a test checks it is current).

Schema versions: 2 is this one. Files of version 1 (fk-bench 0.1 before the run spec: ``settings`` and
``dataset`` beside ``model``) are upgraded on reading; older files, or newer versions, are refused by name.
"""

from __future__ import annotations

import json
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, create_model

from fk_bench.dataset.schema import COLUMNS
from fk_bench.errors import FkBenchError
from fk_bench.metrics import METRICS, PER_QUESTION_METRICS
from fk_bench.pair_index import PairIndex
from fk_bench.spec import PACKAGED_DATASET, DatasetSpec, RunSpec

if TYPE_CHECKING:
    import pandas as pd

SCHEMA_VERSION = 2
RESULTS_FILE = "results.json"
QUESTIONS_FILE = "questions.csv"
JSON_SCHEMA = Path(__file__).parent / "resources" / "results.schema.json"

Finite = Annotated[float, Field(allow_inf_nan=False)]
Count = Annotated[int, Field(ge=0)]
_STRICT = ConfigDict(extra="forbid", strict=True, frozen=True)


def _metric_field(name: str) -> Any:
    bounds = METRICS[name].bounds
    if bounds is None:
        return (Finite | None, None)
    return (Annotated[float, Field(ge=bounds[0], le=bounds[1], allow_inf_nan=False)] | None, None)


class _Base(BaseModel):
    model_config = _STRICT


Share = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]


class BatchCalibration(_Base):
    """The verdicts once the set's mean log(p_True/p_False), its yes/no bias, is removed (Zhou et al. 2024)."""

    accuracy: Share
    yes_rate: Share


class ContextualCalibration(_Base):
    """The verdicts once the bias on content-free inputs ("N/A", "", "[MASK]") is removed (Zhao et al. 2021)."""

    p_true_content_free: Share
    accuracy: Share
    yes_rate: Share


if TYPE_CHECKING:  # the two models below are made from the registries at import time; to a type checker their fields are Any

    class _Dynamic(_Base):
        def __getattr__(self, name: str) -> Any: ...

    Summary = _Dynamic
    QuestionRow = _Dynamic
else:
    Summary = create_model(
        "Summary",
        __base__=_Base,
        __doc__="Every metric of the registry over a set of questions (None where undefined), and the counts.",
        n_questions=(Annotated[int, Field(ge=1)], ...),
        n_pairs=(Count, 0),
        n_pass_filter=(Count, 0),
        **{name: _metric_field(name) for name in METRICS},
        batch_calibration=(BatchCalibration | None, None),
        contextual_calibration=(ContextualCalibration | None, None),
    )

    _COLUMN_TYPES: dict[str, Any] = {"string": str | None, "bool": bool | None, "float64": Finite | None}
    QuestionRow = create_model(
        "QuestionRow",
        __base__=_Base,
        __doc__="One scored question: its columns (fk_bench.dataset.schema), its metrics and each answer word's score.",
        **{c.name: (_COLUMN_TYPES[c.dtype], None) for c in COLUMNS if c.name not in ("id", "question", "answer", "corrupted_same_length")},
        id=(str, ...),
        question=(str, ...),
        answer=(bool, ...),
        **{name: (Finite, ...) for name in PER_QUESTION_METRICS},
        passes_filter=(bool, ...),
        scores=(dict[str, Finite], ...),
    )


class PopularityBin(_Base):
    """Paired accuracy over the pairs of one popularity tercile (computed within each relation)."""

    paired_accuracy: Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]
    n_pairs: Annotated[int, Field(ge=1)]


class ModelRecord(_Base):
    """Which weights made the numbers."""

    name: str
    """The model's display name (result folders, leaderboard rows)."""
    path: str
    """Where the weights were read from, without machine-specific parts where possible (:func:`portable_path`)."""
    source: dict[str, Any] = {}
    """Zoo name, source packages and GGUF sha256 (zoo models); Hub id and revision; local folder."""


class AnswerWordTokens(_Base):
    single_token: list[str]
    multi_token: dict[str, int]


class Scoring(_Base):
    """What scoring cost: not a setting, never compared across rows."""

    seconds: Annotated[float, Field(ge=0.0, allow_inf_nan=False)]
    questions_per_second: Annotated[float, Field(gt=0.0, allow_inf_nan=False)] | None = None
    batch_size: Annotated[int, Field(ge=1)]
    """The batch size used (``spec.batch_size`` may say ``auto``)."""


class RunResult(_Base):
    """One run of the evaluator: its spec, the model, the numbers, and every question."""

    schema_version: int = SCHEMA_VERSION
    fk_bench_version: str
    spec: RunSpec
    model: ModelRecord
    answer_words: dict[str, list[str]]
    answer_word_tokens: AnswerWordTokens
    scoring: Scoring
    summary: Summary
    per_relation: dict[str, Summary]
    per_domain: dict[str, Summary] = {}
    by_popularity: dict[Literal["low", "mid", "high"], PopularityBin] = {}
    """Paired accuracy per popularity tercile (metrics.POPULARITY_BINS); empty where the data gives no popularity."""
    questions: list[QuestionRow]

    _prompts: list[str] | None = PrivateAttr(default=None)
    _prompt_tokens: list[list[int]] | None = PrivateAttr(default=None)

    @property
    def run_name(self) -> str:
        """The result folder's name (``OUT/<run_name>/results.json``)."""
        return self.spec.run_name(self.model.name)

    @cached_property
    def frame(self) -> pd.DataFrame:
        """The questions as a table: their columns, metrics, and ``score[<word>]`` per answer word."""
        import pandas as pd

        rows = [row.model_dump() for row in self.questions]
        scores = [row.pop("scores") for row in rows]
        table = pd.DataFrame(rows)
        for word in self.words:
            table[f"score[{word}]"] = [s[word] for s in scores]
        return table

    @property
    def words(self) -> list[str]:
        """Every answer word, True group first (the column order of the scores)."""
        return [*self.answer_words["True"], *self.answer_words["False"]]

    @cached_property
    def pairs(self) -> PairIndex:
        return PairIndex.from_ids([row.pair_id for row in self.questions], [row.answer for row in self.questions])

    @property
    def prompts(self) -> list[str] | None:
        """The prompts scored, in question order: present on a result fresh from the evaluator, not on one read from disk."""
        return self._prompts

    @property
    def prompt_tokens(self) -> list[list[int]] | None:
        """Each prompt's context token ids (lm-eval's HFLM ids): as :attr:`prompts`."""
        return self._prompt_tokens

    def headline(self) -> str:
        """One line of the main numbers, for the terminal."""
        s = self.summary.model_dump()

        def show(name: str) -> str:
            return "n/a" if s[name] is None else f"{s[name]:.3f}"

        rate = self.scoring.questions_per_second
        return (
            f"n={s['n_questions']} accuracy={show('accuracy')} paired_accuracy={show('paired_accuracy')} yes_rate={show('yes_rate')} "
            f"log_odds={show('log_odds')} logit_diff={show('logit_diff')} prob_diff={show('prob_diff')} ece={show('ece')} "
            f"pass_filter={s['n_pass_filter']}" + (f" ({rate:.1f} q/s)" if rate else "")
        )

    def to_json(self) -> str:
        """The results.json text (strict JSON: a non-finite number cannot get here)."""
        return self.model_dump_json(indent=1) + "\n"


# ---- paths without the machine in them -----------------------------------------------------------


def portable_path(path: str | Path) -> str:
    """A path as results record it: ``$FK_BENCH_CACHE/...`` inside fk-bench's cache, ``$HF_HUB_CACHE/...``
    inside the Hugging Face cache, relative inside the current folder, else as it is."""
    from huggingface_hub import constants

    from fk_bench.models.cache import cache_root

    resolved = Path(path).expanduser().resolve()
    for name, root in (("$FK_BENCH_CACHE", cache_root()), ("$HF_HUB_CACHE", Path(constants.HF_HUB_CACHE))):
        try:
            return f"{name}/{resolved.relative_to(root.expanduser().resolve()).as_posix()}"
        except ValueError:
            continue
    try:
        return resolved.relative_to(Path.cwd().resolve()).as_posix() or "."
    except ValueError:
        return str(path)


# ---- reading -------------------------------------------------------------------------------------


def _upgrade_v1(data: dict[str, Any]) -> dict[str, Any]:
    """A version-1 file (settings, dataset and model side by side, flat ``score[...]`` columns) as version 2."""
    settings, dataset, model, summary = data["settings"], data["dataset"], data["model"], data["summary"]
    dataset_id = dataset.get("id")
    words = [*data["answer_words"]["True"], *data["answer_words"]["False"]]
    spec = RunSpec(
        model=model["spec"],
        prompt_format=settings["prompt_format"],
        fewshot_k=settings.get("fewshot_k"),
        dtype=settings["dtype"],
        device=settings["device"],
        batch_size=settings["batch_size"],
        dataset=DatasetSpec(
            id=PACKAGED_DATASET if dataset_id in (None, "default", PACKAGED_DATASET) else str(dataset_id),
            config=dataset.get("config"),
            split=dataset.get("split"),
            version="1.0.0" if dataset_id in (None, "default", PACKAGED_DATASET) else None,
            relation=dataset.get("relation"),
            limit=dataset.get("limit"),
            limit_per_relation=bool(dataset.get("limit_per_relation", False)),
        ),
        answer_map="default" if settings.get("answer_map") in ("default", "default answer map") else str(settings.get("answer_map")),
        filter_threshold=settings["filter_threshold"],
    )

    def summary_v2(old: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in old.items() if k not in ("filter_threshold", "questions_per_second")}

    questions: list[dict[str, Any]] = []
    for row in data["questions"]:
        row = dict(row)
        scores = {word: row.pop(f"score[{word}]") for word in words}
        row.pop("corrupted_same_length", None)
        if "true_log_odds" not in row:
            row["true_log_odds"] = row["log_odds"] if row["answer"] else -row["log_odds"]
        questions.append({**row, "scores": scores})
    return {
        "schema_version": SCHEMA_VERSION,
        "fk_bench_version": data["fk_bench_version"],
        "spec": spec.model_dump(),
        "model": {"name": model["name"], "path": model.get("path", ""), "source": model.get("source", {})},
        "answer_words": data["answer_words"],
        "answer_word_tokens": data["answer_word_tokens"],
        "scoring": {"seconds": data["seconds"], "questions_per_second": summary.get("questions_per_second"), "batch_size": settings["batch_size"]},
        "summary": summary_v2(summary),
        "per_relation": {name: summary_v2(s) for name, s in data["per_relation"].items()},
        "questions": questions,
    }


def first_error(err: ValidationError) -> str:
    """The first problem pydantic found, in one line (where, what, the value when it is short), and how many more."""
    first = err.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "top level"
    value = first.get("input")
    shown = "" if isinstance(value, dict | list) else f" (got {json.dumps(value) if isinstance(value, str) else value!r})"
    more = f"; {err.error_count() - 1} more problem(s)" if err.error_count() > 1 else ""
    return f"{where}: {first['msg']}{shown}{more}"


def parse_results(data: Any, where: str) -> RunResult:
    """A :class:`RunResult` from the parsed JSON of a results file (``where`` names it in errors)."""
    if not isinstance(data, dict):
        raise FkBenchError(f"{where}: holds a JSON {type(data).__name__}, not an fk-bench result")
    version = data.get("schema_version")
    if version is None:
        if "fk_bench_version" not in data:
            raise FkBenchError(f"{where}: not an fk-bench result (no schema_version or fk_bench_version)")
        if "settings" not in data or "dataset" not in data:
            raise FkBenchError(
                f"{where}: written by fk-bench {data.get('fk_bench_version')} before results recorded their settings; rerun fk-bench eval"
            )
        try:
            data = _upgrade_v1(data)
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise FkBenchError(f"{where}: a version-1 result that cannot be read ({type(err).__name__}: {err})") from None
    elif version != SCHEMA_VERSION:
        raise FkBenchError(f"{where}: results schema version {version!r}; this fk-bench reads versions 1 and {SCHEMA_VERSION}")
    try:
        result = RunResult.model_validate(data)
    except ValidationError as err:
        raise FkBenchError(f"{where}: not a valid fk-bench result: {first_error(err)}") from None
    from fk_bench.result_checks import verify

    problem = verify(result)
    if problem is not None:
        raise FkBenchError(f"{where}: {problem}; the file was changed after fk-bench wrote it, rerun fk-bench eval")
    return result


def read_results(path: str | Path) -> RunResult:
    """Read ``path`` (a results.json, or the run folder holding one): the one reader of fk-bench results.

    The JSON is read strictly (:func:`fk_bench.files.read_json`: duplicate keys, NaN, huge or deeply nested
    files refused) and every stored figure is checked against the per-question rows (:func:`verify`)."""
    from fk_bench.files import is_staging, read_json

    path = Path(path)
    if path.is_dir():
        path = path / RESULTS_FILE
    if is_staging(path):
        raise FkBenchError(f"{path}: inside a staging folder of an unfinished or killed write; never read")
    return parse_results(read_json(path, "results file"), str(path))


def json_schema() -> str:
    """The JSON schema of results.json (what ``resources/results.schema.json`` holds)."""
    return json.dumps(RunResult.model_json_schema(), indent=1, sort_keys=True) + "\n"


__all__ = [
    "SCHEMA_VERSION",
    "ModelRecord",
    "QuestionRow",
    "RunResult",
    "Summary",
    "first_error",
    "parse_results",
    "portable_path",
    "read_results",
]

if __name__ == "__main__":
    JSON_SCHEMA.write_text(json_schema(), encoding="utf-8")
    print(f"wrote {JSON_SCHEMA}")
