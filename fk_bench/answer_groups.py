"""Answer groups: the words that mean "true" and the words that mean "false".

A model spreads its "yes" over many tokens (Yes, Sure, Correct, ...), so fk-bench scores groups of
answer words rather than one token, as the original study did with its ``answer_map``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from fk_bench.errors import FkBenchError
from fk_bench.spec import DEFAULT_ANSWER_MAP as DEFAULT_ANSWER_MAP_NAME

DEFAULT_ANSWER_MAP: dict[str, list[str]] = {
    "True": ["Yes", "Sure", "Correct", "Certainly", "Absolutely", "Indeed", "True", "Yep"],
    "False": ["No", "no", "Nope", " No", " no", "Wrong", "NO", "False"],
}

_EXAMPLE = '{"True": ["Yes", ...], "False": ["No", ...]}'
_JSON_KINDS = {list: "a JSON array", str: "a JSON string", int: "a number", float: "a number", bool: "true/false", type(None): "null"}


@dataclass(frozen=True)
class AnswerGroups:
    """Two disjoint, non-empty groups of answer words."""

    true_words: tuple[str, ...]
    false_words: tuple[str, ...]
    source: str = "default"

    def __post_init__(self) -> None:
        for name, group in (("True", self.true_words), ("False", self.false_words)):
            if not group:
                raise FkBenchError(f"{self.source}: answer group '{name}' is empty")
            for word in group:
                if not isinstance(word, str) or word == "":
                    raise FkBenchError(f"{self.source}: answer group '{name}' has an empty or non-string word {word!r}")
            if len(set(group)) != len(group):
                raise FkBenchError(f"{self.source}: answer group '{name}' lists a word twice")
        both = sorted(set(self.true_words) & set(self.false_words))
        if both:
            raise FkBenchError(f"{self.source}: word(s) {both} are in both the True and the False group")

    @property
    def words(self) -> list[str]:
        """All words, True group first: the column order of every score matrix."""
        return [*self.true_words, *self.false_words]

    @property
    def is_true_word(self) -> list[bool]:
        """Per word of :attr:`words`, whether it belongs to the True group."""
        return [True] * len(self.true_words) + [False] * len(self.false_words)

    @property
    def name(self) -> str:
        """How run specs and results name these words: ``default``, the JSON file they came from, or the words themselves."""
        if self == DEFAULT_GROUPS:
            return DEFAULT_ANSWER_MAP_NAME
        if self.source in (DEFAULT_ANSWER_MAP_NAME, "answer map"):  # made in code: the words are the name
            return "words " + json.dumps(self.to_map(), ensure_ascii=False)
        return self.source

    def to_map(self) -> dict[str, list[str]]:
        return {"True": list(self.true_words), "False": list(self.false_words)}

    @classmethod
    def from_map(cls, answer_map: object, source: str = "answer map") -> AnswerGroups:
        if not isinstance(answer_map, dict):
            kind = _JSON_KINDS.get(type(answer_map), type(answer_map).__name__)
            raise FkBenchError(f"{source}: holds {kind}; expected an object of two word lists, {_EXAMPLE}")
        missing = [key for key in ("True", "False") if key not in answer_map]
        if missing:
            raise FkBenchError(f"{source}: missing key(s) {missing}; expected 'True' and 'False' lists")
        groups = {}
        for key in ("True", "False"):
            if not isinstance(answer_map[key], list):
                raise FkBenchError(f"{source}: '{key}' must be a list of words")
            groups[key] = tuple(answer_map[key])
        return cls(groups["True"], groups["False"], source=source)

    @classmethod
    def from_json(cls, path: str | Path) -> AnswerGroups:
        """Read a UTF-8 JSON file in the original study's format: ``{"True": [...], "False": [...]}``."""
        from fk_bench.files import read_json

        path = Path(path)
        return cls.from_map(read_json(path, "answer map", max_bytes=1024 * 1024), source=str(path))


DEFAULT_GROUPS = AnswerGroups.from_map(DEFAULT_ANSWER_MAP, source="default answer map")


def load_answer_groups(path: str | Path | None = None) -> AnswerGroups:
    """The original study's answer map, or the one in ``path``."""
    return DEFAULT_GROUPS if path is None else AnswerGroups.from_json(path)
