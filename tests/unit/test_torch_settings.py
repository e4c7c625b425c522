"""A run spec's device and dtype become torch objects in one place, once, checked on this machine."""

from __future__ import annotations

import pytest
import torch

from fk_bench.answer_groups import DEFAULT_GROUPS
from fk_bench.errors import FkBenchError
from fk_bench.evaluation import evaluate
from fk_bench.spec import RunSpec
from fk_bench.torch_settings import TorchSettings, resolve, spec_names


def test_resolve_gives_torch_objects_once_per_device_and_dtype():
    settings = resolve(RunSpec(model="m", dtype="bfloat16"))
    device, dtype = settings  # unpacks as a pair
    assert isinstance(settings, TorchSettings) and device == torch.device("cpu") and dtype is torch.bfloat16
    assert resolve(RunSpec(model="other", dtype="bfloat16", batch_size=3)) is settings, "computed once, shared by every reader of the run"


def test_what_cannot_run_here_is_one_line_before_any_work():
    with pytest.raises(FkBenchError, match="float16 on the CPU gives NaN scores"):
        resolve(RunSpec(model="m", dtype="float16"))
    if not torch.cuda.is_available():
        with pytest.raises(FkBenchError, match="CUDA is not available here"):
            resolve(RunSpec(model="m", device="cuda:0"))
    with pytest.raises(FkBenchError, match="not a device name"):
        spec_names("gpu-please", None)


def test_spec_names_fill_the_defaults_as_the_spec_records_them():
    device, dtype = spec_names("cpu", None)
    assert (device, dtype) == ("cpu", "float32")
    assert spec_names(None, "bfloat16")[1] == "bfloat16"


def test_the_evaluator_compares_torch_objects_with_the_loaded_model(tiny_model, paris_questions):
    spec = RunSpec(model=tiny_model.spec, dtype="bfloat16", dataset=paris_questions.dataset)
    with pytest.raises(FkBenchError, match=r"run spec says model .* \(bfloat16 on cpu\), the loaded model is .* \(float32 on cpu\)"):
        evaluate(tiny_model, paris_questions, DEFAULT_GROUPS, spec, progress=False)
