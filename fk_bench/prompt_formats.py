"""The prompt-format registry: every way of asking a question, each described once.

An entry holds what every other module needs to know about a format: its name (what run specs,
results and the CLI say), its display label (``fewshot (k=4)``), how to build its prompt text (token
ids follow from the text by :func:`fk_bench.prompts.encode_continuations`, the same for every format,
exactly as lm-eval's HF model encodes it), its marker on the leaderboard's scatter plots, and its
lm-eval counterpart (the task and flags that score the same prompts). No other module names a format:
they ask this registry. Adding a format is one :func:`register` call (and its builder).

``plain`` is the original study's prompt: the question followed by "\\n" (the tokenizer prepends BOS).
``fewshot`` puts k solved examples before it. ``chat`` is the question as the user's message in the
tokenizer's chat template with the generation prompt, and the answer word follows that prompt directly
(no "\\n" of its own): exactly what ``lm_eval --apply_chat_template`` scores for the fk_yesno tasks,
which drops the task's target delimiter under a chat template (see tasks/fk_yesno/README.md).

This module imports no torch (the run spec validates format names with it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from fk_bench.errors import FkBenchError
from fk_bench.prompts import FEWSHOT_DELIMITER, example_answer, question_text

Example = Mapping[str, Any]
"""A solved few-shot example: a row with ``question`` and ``answer`` (the packaged train split's)."""


@dataclass(frozen=True)
class PromptInputs:
    """What a format's builder may use beside the question: the tokenizer (chat templates), the solved
    examples (formats that use examples), and the model's name (for error messages only)."""

    tokenizer: Any = None  # a transformers tokenizer: untyped library object
    examples: Sequence[Example] = ()
    model_name: str | None = None


PromptBuilder = Callable[[str, PromptInputs], str]
"""question, inputs -> the full prompt text (what lm-eval calls the context)."""


@dataclass(frozen=True)
class LmEvalCounterpart:
    """How lm-eval scores the same prompts: the task (group) that covers every relation, whether k goes to
    ``--num_fewshot``, and whether ``--apply_chat_template`` is on."""

    task: str = "fk_yesno"
    num_fewshot: bool = False
    apply_chat_template: bool = False

    def arguments(self, fewshot_k: int | None = None) -> list[str]:
        """The ``lm_eval`` arguments for this format (beside ``--model``, ``--include_path``, ...)."""
        args = ["--tasks", self.task]
        if self.num_fewshot and fewshot_k is not None:
            args += ["--num_fewshot", str(fewshot_k)]
        return args + (["--apply_chat_template"] if self.apply_chat_template else [])


@dataclass(frozen=True)
class PromptFormat:
    """A way of asking the question."""

    name: str
    description: str
    build: PromptBuilder = field(repr=False)
    lm_eval: LmEvalCounterpart = LmEvalCounterpart()
    marker: str = "circle"
    """The plotly marker symbol of its rows on the leaderboard's scatter plots (colour = model)."""
    needs_chat_template: bool = False
    uses_examples: bool = False

    def applies_to(self, has_chat_template: bool) -> bool:
        """Whether a model can be asked in this format (chat needs the tokenizer's chat template)."""
        return has_chat_template or not self.needs_chat_template

    def label(self, fewshot_k: int | str | None = None) -> str:
        """``plain``, ``fewshot (k=4)`` or ``chat``: k is shown for the formats that use examples."""
        return f"{self.name} (k={fewshot_k})" if self.uses_examples and fewshot_k is not None else self.name

    def prompts(self, questions: Sequence[str], tokenizer: Any = None, fewshot_k: int | None = None, model_name: str | None = None) -> list[str]:
        """Every question's prompt; the examples of a format that uses them are the packaged train split's first k."""
        examples: Sequence[Example] = ()
        if self.uses_examples and fewshot_k is not None:
            from fk_bench.data import fewshot_pool  # the dataset loader (datasets, pyarrow): only when examples are needed

            examples = fewshot_pool(fewshot_k)
        inputs = PromptInputs(tokenizer, examples, model_name)
        return [self.build(question, inputs) for question in questions]


# ---- the builders ---------------------------------------------------------------------------------


def plain_prompt(question: str, inputs: PromptInputs) -> str:
    """``"Is Paris the capital of France?\\n"``."""
    return question_text(question)


def fewshot_prompt(question: str, inputs: PromptInputs) -> str:
    """The solved examples (question, Yes/No, a blank line each), then the plain prompt."""
    shots = "".join(question_text(ex["question"]) + example_answer(ex["answer"]) + FEWSHOT_DELIMITER for ex in inputs.examples)
    return shots + question_text(question)


def chat_prompt(question: str, inputs: PromptInputs) -> str:
    """The question as the user's message in the tokenizer's chat template, with the generation prompt."""
    tokenizer = inputs.tokenizer
    if tokenizer is None or not getattr(tokenizer, "chat_template", None):
        name = inputs.model_name or _tokenizer_source(tokenizer)
        others = " or ".join(repr(f.name) for f in PROMPT_FORMATS.values() if not f.needs_chat_template)
        raise FkBenchError(f"prompt format 'chat': the tokenizer of {name} has no chat template; use {others}")
    text: str = tokenizer.apply_chat_template([{"role": "user", "content": question}], tokenize=False, add_generation_prompt=True)
    return text


def _tokenizer_source(tokenizer: Any) -> str:
    """Where a tokenizer came from, for messages ('this model' when it does not say)."""
    init_kwargs = getattr(tokenizer, "init_kwargs", None) or {}
    return str(getattr(tokenizer, "name_or_path", "") or init_kwargs.get("name_or_path") or "this model")


# ---- the registry ---------------------------------------------------------------------------------

PROMPT_FORMATS: dict[str, PromptFormat] = {}
"""Every prompt format, in display order (filled by :func:`register`)."""


def register(entry: PromptFormat) -> PromptFormat:
    """Add ``entry`` to the registry (ValueError for a name already taken)."""
    if entry.name in PROMPT_FORMATS:
        raise ValueError(f"prompt format {entry.name!r} is registered already")
    PROMPT_FORMATS[entry.name] = entry
    return entry


@contextmanager
def registered(entry: PromptFormat) -> Iterator[PromptFormat]:
    """``entry`` in the registry for the duration of a ``with`` block (tests, experiments)."""
    register(entry)
    try:
        yield entry
    finally:
        del PROMPT_FORMATS[entry.name]


PLAIN = register(PromptFormat("plain", 'the question and "\\n": the original study\'s prompt', plain_prompt))
FEWSHOT = register(
    PromptFormat(
        "fewshot",
        "k solved examples (question, Yes/No) before the question",
        fewshot_prompt,
        LmEvalCounterpart(task="fk_yesno_fewshot", num_fewshot=True),
        marker="square",
        uses_examples=True,
    )
)
CHAT = register(
    PromptFormat(
        "chat",
        "the question as the user's message in the model's chat template",
        chat_prompt,
        LmEvalCounterpart(apply_chat_template=True),
        marker="diamond",
        needs_chat_template=True,
    )
)
DEFAULT_PROMPT_FORMAT = PLAIN.name


def prompt_format(name: str) -> PromptFormat:
    """The registry entry of ``name`` (ValueError naming the choices for an unknown one)."""
    try:
        return PROMPT_FORMATS[name]
    except KeyError:
        raise ValueError(f"prompt format {name!r}: choose one of {', '.join(PROMPT_FORMATS)}") from None


def prompt_label(name: str, fewshot_k: int | str | None = None) -> str:
    """The display label of format ``name`` with ``fewshot_k`` examples; a name the registry does not know
    (a row read from an older file) is shown as it is."""
    entry = PROMPT_FORMATS.get(name)
    return entry.label(fewshot_k) if entry is not None else name


def from_lm_eval(apply_chat_template: bool, num_fewshot: int) -> PromptFormat:
    """The format an lm-eval run scored: the chat one under ``--apply_chat_template``, else the one that
    puts examples in ``num_fewshot`` (when > 0), else the default."""
    for entry in PROMPT_FORMATS.values():
        if apply_chat_template and entry.lm_eval.apply_chat_template:
            return entry
    for entry in PROMPT_FORMATS.values():
        if num_fewshot and entry.lm_eval.num_fewshot and not entry.lm_eval.apply_chat_template:
            return entry
    return PROMPT_FORMATS[DEFAULT_PROMPT_FORMAT]


def build_prompt(
    question: str,
    prompt_format_name: str = DEFAULT_PROMPT_FORMAT,
    tokenizer: Any = None,
    examples: Sequence[Example] = (),
    *,
    model_name: str | None = None,
) -> str:
    """The full prompt string for one ``question`` in format ``prompt_format_name`` (what lm-eval calls the context).

    ``model_name`` only names the model in the error raised when ``chat`` finds no chat template.
    """
    entry = PROMPT_FORMATS.get(prompt_format_name)
    if entry is None:
        raise FkBenchError(f"prompt format {prompt_format_name!r}: choose one of {', '.join(PROMPT_FORMATS)}")
    return entry.build(question, PromptInputs(tokenizer, examples, model_name))
