"""The run spec: everything that changes a number, in one frozen, typed object, and every default in one place.

A :class:`RunSpec` is built once (by the CLI from its options, by the zoo runner, or by a library user)
and handed to :func:`fk_bench.evaluation.evaluate` and to interp; results.json stores it as it is
(:mod:`fk_bench.results`), and the leaderboard groups rows by it. Nothing downstream re-derives a
setting: device and dtype are resolved before the spec is made, the prompt format's needs come from
its :class:`~fk_bench.prompt_formats.PromptFormat` entry, and the defaults below are the only copies of their numbers.

This module imports no torch (``fk-bench --help`` reads the defaults from here).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

# Re-exported: the CLI, the zoo runner and older callers read the formats from the spec's module.
from fk_bench.prompt_formats import DEFAULT_PROMPT_FORMAT as DEFAULT_PROMPT_FORMAT
from fk_bench.prompt_formats import PROMPT_FORMATS as PROMPT_FORMATS
from fk_bench.prompt_formats import PromptFormat as PromptFormat
from fk_bench.prompt_formats import prompt_format as prompt_format

# ---- defaults: the one place for each ------------------------------------------------------------

PACKAGED_DATASET = "fk_yesno"
"""How the packaged dataset is named in specs and results (whatever folder it was read from)."""
PACKAGED_DATASET_DIR = Path(__file__).parent / "resources" / PACKAGED_DATASET
"""Where the packaged dataset lives (built by ``fk-bench build-dataset``): config "all" by default, one
config per relation, "paraphrase", "full", and "paris" (the original study's nine questions)."""
DEFAULT_CONFIG = "all"
DEFAULT_SPLIT = "test"
DEFAULT_FEWSHOT_K = 4
DEFAULT_BATCH_SIZE = 128
DEFAULT_FILTER_THRESHOLD = 0.1
"""The study's per-question filter: correct with prob_diff at least this."""
DEFAULT_ANSWER_MAP = "default"
DTYPES = ("float32", "bfloat16", "float16")
BATCH_SIZE_AUTO = "auto"

BatchSize = int | Literal["auto"]


def _one_of(choices: tuple[str, ...], what: str) -> AfterValidator:
    def check(value: str) -> str:
        if value not in choices:
            raise ValueError(f"{what} {value!r}: choose one of {', '.join(choices)}")
        return value

    return AfterValidator(check)


DType = Annotated[str, _one_of(DTYPES, "dtype"), Field(json_schema_extra={"enum": list(DTYPES)})]


# ---- prompt formats: the registry is fk_bench.prompt_formats (its names re-exported here) ---------


def _registered_format(value: str) -> str:
    """A format name known to the registry at validation time (a format registered later validates too)."""
    prompt_format(value)  # ValueError naming the choices
    return value


PromptFormatName = Annotated[
    str, AfterValidator(_registered_format), Field(json_schema_extra=lambda schema: schema.update(enum=list(PROMPT_FORMATS)))
]


# ---- the spec ------------------------------------------------------------------------------------


class DatasetSpec(BaseModel):
    """Which questions: the source, and the slice of it that was scored."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = PACKAGED_DATASET
    """``fk_yesno`` for the packaged dataset; else the folder, file or Hub name as given."""
    config: str | None = DEFAULT_CONFIG
    split: str | None = DEFAULT_SPLIT
    version: str | None = None
    """The dataset's own version (its card's ``fk_bench_dataset_version``); None where the source has none."""
    relation: str | None = None
    limit: int | None = Field(default=None, ge=1)
    limit_per_relation: bool = False
    """``limit`` counts the first questions of each relation (the zoo's slice), not of the whole set."""


def dataset_label(dataset: Mapping[str, Any]) -> str:
    """``fk_yesno 2.1.0 (all, test, relation capital_of, first 100 per relation): 900 questions``: the questions of a
    :class:`DatasetSpec` (and its ``n_questions`` where a record has one) in one line, as pages and figure titles name them."""
    parts = [str(dataset[key]) for key in ("config", "split") if dataset.get(key)]
    if dataset.get("relation"):
        parts.append(f"relation {dataset['relation']}")
    if dataset.get("limit"):
        parts.append(f"first {dataset['limit']}" + (" per relation" if dataset.get("limit_per_relation") else ""))
    name = str(dataset.get("id", "?")) + (f" {dataset['version']}" if dataset.get("version") else "")
    count = f": {dataset['n_questions']} questions" if dataset.get("n_questions") else ""
    return name + (f" ({', '.join(parts)})" if parts else "") + count


class RunSpec(BaseModel):
    """Everything that changes a number of a run. Frozen; built once, recorded as it is."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str
    """The model as asked for: a zoo name, a local directory or a Hub id."""
    prompt_format: PromptFormatName = DEFAULT_PROMPT_FORMAT
    fewshot_k: int | None = Field(default=None, ge=1)
    """Solved examples before each question; set exactly when the prompt format uses examples."""
    dtype: DType = "float32"
    device: str = "cpu"
    batch_size: BatchSize = DEFAULT_BATCH_SIZE
    """Questions per forward pass as asked for; ``auto`` picks it from free memory (results record the size used)."""
    dataset: DatasetSpec = DatasetSpec()
    answer_map: str = DEFAULT_ANSWER_MAP
    """``default`` for the original study's answer words, else the JSON file's path as given."""
    filter_threshold: float = Field(default=DEFAULT_FILTER_THRESHOLD, ge=-1.0, le=1.0)

    @model_validator(mode="before")
    @classmethod
    def _fewshot_k_for_fewshot_only(cls, data: object) -> object:
        """k belongs to the few-shot format only: filled with its default there, dropped elsewhere."""
        if not isinstance(data, dict):
            return data
        uses_examples = prompt_format(str(data.get("prompt_format", DEFAULT_PROMPT_FORMAT))).uses_examples
        if uses_examples and data.get("fewshot_k") is None:
            return {**data, "fewshot_k": DEFAULT_FEWSHOT_K}
        return data if uses_examples else {**data, "fewshot_k": None}

    @model_validator(mode="after")
    def _check_batch_size(self) -> RunSpec:
        if isinstance(self.batch_size, int) and self.batch_size < 1:
            raise ValueError(f"batch size {self.batch_size}: must be at least 1 or 'auto'")
        return self

    @property
    def format(self) -> PromptFormat:
        """The prompt format's registry entry."""
        return prompt_format(self.prompt_format)

    def run_name(self, model_name: str) -> str:
        """The result folder's name: the model's, then one ``--part`` per setting that changes which
        questions are asked or how they are scored and is not its default, so runs of different specs never
        share a folder. The default run keeps the bare model name; e.g. ``<model>--fewshot-k4``,
        ``<model>--chat``, ``<model>--paraphrase``, ``<model>--relation-capital_of--first20``,
        ``<model>--bfloat16``, ``<model>--data-my_set-1a2b3c4d``, ``<model>--answers-5e6f7a8b``."""
        import hashlib
        import re

        def slug(text: str) -> str:
            return re.sub(r"[^A-Za-z0-9_.]+", "_", text).strip("._")[:40] or "x"

        def tag(text: str) -> str:
            return hashlib.sha256(text.encode()).hexdigest()[:8]

        data = self.dataset
        parts = []
        if self.prompt_format != DEFAULT_PROMPT_FORMAT:
            parts.append(self.prompt_format + (f"-k{self.fewshot_k}" if self.fewshot_k is not None else ""))
        if data.id != PACKAGED_DATASET:
            parts.append(f"data-{slug(data.id.rstrip('/').rsplit('/', 1)[-1])}-{tag(data.id)}")
        if data.config not in (DEFAULT_CONFIG, None):
            parts.append(slug(data.config))
        if data.split not in (DEFAULT_SPLIT, None):
            parts.append(f"split-{slug(data.split)}")
        if data.relation is not None:
            parts.append(f"relation-{slug(data.relation)}")
        if data.limit is not None:
            parts.append(f"first{data.limit}" + ("-per-relation" if data.limit_per_relation else ""))
        if self.dtype != "float32":
            parts.append(self.dtype)
        if self.answer_map != DEFAULT_ANSWER_MAP:
            parts.append(f"answers-{slug(self.answer_map.rstrip('/').rsplit('/', 1)[-1].removesuffix('.json'))[:20]}-{tag(self.answer_map)}")
        return "--".join([model_name, *parts])

    def prompt_label(self) -> str:
        """``plain``, ``fewshot (k=4)`` or ``chat``."""
        return self.format.label(self.fewshot_k)
