"""Loading models: bad devices, dtypes and model folders are one clear error before any work;
result-folder names are distinct and stable; export-model checks its target first."""

from __future__ import annotations

import os
import shutil

import pytest
import torch

import fk_bench.models.loading as loading
from fk_bench.errors import FkBenchError
from fk_bench.models import default_dtype, export_model, load_model, model_display_name, parse_dtype, resolve_model_dir
from fk_bench.models.cache import MANIFEST


def test_hub_id_offline_is_one_clear_error(monkeypatch, tmp_path):
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True)  # what HF_HUB_OFFLINE=1 (or on, yes, true) sets
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(FkBenchError, match="cannot be reached") as err:
        resolve_model_dir("some-org/not-cached-model")
    assert "some-org/not-cached-model" in str(err.value)


def test_directory_without_config(tmp_path):
    with pytest.raises(FkBenchError, match="no config.json"):
        resolve_model_dir(str(tmp_path))


def test_dtypes():
    assert parse_dtype("bfloat16") is torch.bfloat16 and parse_dtype(torch.float16) is torch.float16
    with pytest.raises(FkBenchError, match="dtype 'float8'"):
        parse_dtype("float8")
    assert default_dtype("cpu") is torch.float32


# ---- result-folder names ------------------------------------------------------------------------


def test_display_names_are_distinct_and_stable(tmp_path, monkeypatch):
    for owner in ("a", "b"):
        (tmp_path / owner / "model").mkdir(parents=True)
    a, b = model_display_name(str(tmp_path / "a" / "model")), model_display_name(str(tmp_path / "b" / "model"))
    assert a != b and a.startswith("model-") and b.startswith("model-")
    assert model_display_name(str(tmp_path / "a" / "model") + "/") == a, "a trailing slash is the same folder"
    monkeypatch.chdir(tmp_path / "a" / "model")
    assert model_display_name(".") == a, "'.' is named after the folder it is, not ''"
    assert model_display_name("embedded") == "gemma-3-270m-q4_k_m"
    assert model_display_name("smollm2-135m-instruct") == "smollm2-135m-instruct"
    assert model_display_name("google/gemma-3-270m") == "google__gemma-3-270m"


# ---- device and dtype, checked before any work --------------------------------------------------


@pytest.fixture()
def no_model_work(monkeypatch):
    """Fail the test if load_model gets as far as finding the model."""

    def forbidden(spec):
        raise AssertionError("load_model resolved the model before checking device and dtype")

    monkeypatch.setattr(loading, "resolve_model_dir", forbidden)


@pytest.mark.parametrize(
    "device, message",
    [
        ("gpu", "device 'gpu': not a device name; use cpu, cuda or cuda:N"),
        ("cuda:x", "device 'cuda:x': not a device name"),
        ("meta", "device 'meta': not supported"),
    ],
)
def test_unknown_device(no_model_work, device, message):
    with pytest.raises(FkBenchError, match=message):
        load_model("embedded", device=device)


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
def test_cuda_without_cuda(no_model_work):
    with pytest.raises(FkBenchError, match="device 'cuda': CUDA is not available here"):
        load_model("embedded", device="cuda")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_index_beyond_the_devices(no_model_work):
    with pytest.raises(FkBenchError, match="CUDA device"):
        load_model("embedded", device=f"cuda:{torch.cuda.device_count()}")


def test_float16_on_cpu_is_refused_up_front(no_model_work):
    with pytest.raises(FkBenchError, match="float16 on the CPU gives NaN scores"):
        load_model("embedded", device="cpu", dtype="float16")


def test_default_dtype_is_what_loads(tiny_model):
    reloaded = load_model(str(tiny_model.path), device="cpu")
    assert reloaded.dtype is default_dtype("cpu") and next(reloaded.model.parameters()).dtype is default_dtype("cpu")
    bf16 = load_model(str(tiny_model.path), device="cpu", dtype="bfloat16")
    assert next(bf16.model.parameters()).dtype is torch.bfloat16
    described = bf16.describe()
    assert described["dtype"] == "bfloat16" and described["device"] == "cpu"
    assert described["source"] == {"local_dir": str(tiny_model.path.resolve())}
    assert described["name"] == model_display_name(str(tiny_model.path))


# ---- damaged model folders ----------------------------------------------------------------------


@pytest.fixture()
def tiny_copy(tiny_model, tmp_path):
    copy = tmp_path / "model"
    shutil.copytree(tiny_model.path, copy)
    return copy


def test_truncated_safetensors_names_the_file(tiny_copy):
    weights = tiny_copy / "model.safetensors"
    with weights.open("r+b") as handle:
        handle.truncate(weights.stat().st_size // 2)
    with pytest.raises(FkBenchError, match=r"model directory .*model: model.safetensors is .* bytes, its header describes .* \(truncated"):
        load_model(str(tiny_copy), device="cpu")
    weights.write_bytes(b"\x05\x00")
    with pytest.raises(FkBenchError, match="model.safetensors is 2 bytes, too short"):
        load_model(str(tiny_copy), device="cpu")


def test_missing_tokenizer_is_named(tiny_copy):
    for item in tiny_copy.glob("tokenizer*"):
        item.unlink()
    with pytest.raises(FkBenchError, match="no tokenizer files"):
        load_model(str(tiny_copy), device="cpu")


def test_missing_shard_of_an_index(tiny_copy):
    (tiny_copy / "model.safetensors.index.json").write_text('{"weight_map": {"x": "model-00002-of-00002.safetensors"}}')
    with pytest.raises(FkBenchError, match="model-00002-of-00002.safetensors .* is missing"):
        load_model(str(tiny_copy), device="cpu")


# ---- export-model -------------------------------------------------------------------------------


def test_export_copies_the_model(tiny_model, tmp_path):
    out = export_model(str(tiny_model.path), tmp_path / "exported")
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in tiny_model.path.iterdir() if p.name != MANIFEST)
    assert load_model(str(out), device="cpu").tokenizer.encode("Is Paris") == tiny_model.tokenizer.encode("Is Paris")


@pytest.mark.parametrize("where", ["file", "under_file", "not_empty"])
def test_export_refuses_bad_targets_before_copying(tiny_model, tmp_path, monkeypatch, where):
    (tmp_path / "file").write_text("x")
    (tmp_path / "not_empty").mkdir()
    (tmp_path / "not_empty" / "keep.txt").write_text("x")
    target = {"file": tmp_path / "file", "under_file": tmp_path / "file" / "out", "not_empty": tmp_path / "not_empty"}[where]
    monkeypatch.setattr(loading, "resolve_model_dir", lambda spec: pytest.fail("export resolved the model first"))
    with pytest.raises(FkBenchError, match="export folder"):
        export_model(str(tiny_model.path), target)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_export_into_read_only_folder(tiny_model, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        with pytest.raises(FkBenchError, match="not writable"):
            export_model(str(tiny_model.path), locked / "out")
    finally:
        locked.chmod(0o755)
