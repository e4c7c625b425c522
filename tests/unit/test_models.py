import pytest

from fk_bench.errors import FkBenchError
from fk_bench.models import model_display_name, parse_dtype, resolve_model_dir


def test_hub_id_offline_is_one_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(FkBenchError, match="cannot be reached") as err:
        resolve_model_dir("some-org/not-cached-model")
    assert "some-org/not-cached-model" in str(err.value)


def test_directory_without_config(tmp_path):
    with pytest.raises(FkBenchError, match="no config.json"):
        resolve_model_dir(str(tmp_path))


def test_names_and_dtypes(tmp_path):
    assert model_display_name("embedded") == "gemma-3-270m-q4_k_m"
    assert model_display_name("google/gemma-3-270m") == "google__gemma-3-270m"
    with pytest.raises(FkBenchError, match="dtype 'float8'"):
        parse_dtype("float8")
