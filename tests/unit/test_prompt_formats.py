"""The prompt-format registry: one entry per format, and a new format flows through every reader of formats."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from fk_bench.answer_groups import DEFAULT_GROUPS
from fk_bench.errors import FkBenchError
from fk_bench.evaluation import evaluate, prompts_for
from fk_bench.leaderboard.collect import prompt_label as row_label
from fk_bench.prompt_formats import (
    DEFAULT_PROMPT_FORMAT,
    PROMPT_FORMATS,
    LmEvalCounterpart,
    PromptFormat,
    PromptInputs,
    build_prompt,
    from_lm_eval,
    prompt_label,
    register,
    registered,
)
from fk_bench.results import json_schema
from fk_bench.spec import RunSpec
from fk_bench.torch_settings import dtype_name


def shouted(question: str, inputs: PromptInputs) -> str:
    """A made-up format: the question in capitals after every example's question."""
    return "".join(ex["question"] + " " for ex in inputs.examples) + question.upper() + "\n"


SHOUT = PromptFormat("shout", "the question in capitals", shouted, LmEvalCounterpart(task="fk_yesno_shout"), marker="star", uses_examples=True)


def test_the_three_formats_each_have_one_entry_with_label_marker_and_lm_eval_counterpart():
    assert list(PROMPT_FORMATS) == ["plain", "fewshot", "chat"] and DEFAULT_PROMPT_FORMAT == "plain"
    assert [PROMPT_FORMATS[name].label(4) for name in PROMPT_FORMATS] == ["plain", "fewshot (k=4)", "chat"]
    assert len({f.marker for f in PROMPT_FORMATS.values()}) == len(PROMPT_FORMATS), "each format its own scatter marker"
    assert PROMPT_FORMATS["plain"].lm_eval.arguments() == ["--tasks", "fk_yesno"]
    assert PROMPT_FORMATS["fewshot"].lm_eval.arguments(8) == ["--tasks", "fk_yesno_fewshot", "--num_fewshot", "8"]
    assert PROMPT_FORMATS["chat"].lm_eval.arguments() == ["--tasks", "fk_yesno", "--apply_chat_template"]
    # What an lm-eval results file says -> the format it scored (the leaderboard's reading of lm-eval runs).
    assert [from_lm_eval(chat, k).name for chat, k in ((False, 0), (False, 4), (True, 0), (True, 4))] == ["plain", "fewshot", "chat", "chat"]


def test_a_registered_format_flows_through_spec_label_prompts_and_the_evaluator(tiny_model, paris_questions):
    with registered(SHOUT):
        spec = RunSpec(model=tiny_model.spec, prompt_format="shout", fewshot_k=2, dtype=dtype_name(tiny_model.dtype), dataset=paris_questions.dataset)
        assert spec.format is SHOUT and spec.fewshot_k == 2  # k kept: the format uses examples
        assert spec.prompt_label() == "shout (k=2)" == prompt_label("shout", 2)
        assert row_label({"prompt_format": "shout", "fewshot_k": "2"}) == "shout (k=2)"
        assert "shout" in json.dumps(json_schema()), "the results schema lists every registered format"
        prompts = prompts_for(paris_questions, spec, tiny_model.tokenizer)
        first = paris_questions["question"][0]
        assert prompts[0].endswith(first.upper() + "\n") and prompts[0].count("?") == 3, "two examples, then the question"
        assert build_prompt(first, "shout") == first.upper() + "\n"
        result = evaluate(tiny_model, paris_questions, DEFAULT_GROUPS, spec, progress=False)
        assert result.spec.prompt_format == "shout" and result._prompts == prompts
        assert RunSpec.model_validate_json(result.spec.model_dump_json()) == spec, "the spec round-trips through results.json"
        with pytest.raises(ValueError, match="registered already"):
            register(SHOUT)
    with pytest.raises(ValidationError, match="shout"):
        RunSpec(model="m", prompt_format="shout")  # gone with its registration
    assert list(PROMPT_FORMATS) == ["plain", "fewshot", "chat"]


def test_an_unknown_format_is_refused_naming_the_choices():
    with pytest.raises(FkBenchError, match="choose one of plain, fewshot, chat"):
        build_prompt("Q?", "haiku")
    with pytest.raises(ValidationError, match="choose one of plain, fewshot, chat"):
        RunSpec(model="m", prompt_format="haiku")
    assert prompt_label("haiku", 4) == "haiku", "a label read from an older file is shown as it is"
