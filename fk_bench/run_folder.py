"""Which folder a run goes to, and whether it may be replaced: a folder holding a run of another spec is
never replaced silently (``eval``, ``zoo run``: refused before the model loads, ``--overwrite`` replaces it).

The folder's name is :meth:`fk_bench.spec.RunSpec.run_name`: the model's, plus one part per setting that
changes which questions are asked or how they are scored.
"""

from __future__ import annotations

from pathlib import Path

from fk_bench.errors import FkBenchError
from fk_bench.results import QUESTIONS_FILE, RESULTS_FILE, read_results
from fk_bench.spec import RunSpec


def spec_differences(mine: RunSpec, theirs: RunSpec, ignore: tuple[str, ...] = ("batch_size",)) -> list[str]:
    """The settings where two run specs differ, as ``field: mine != theirs`` (``ignore``: what changes the
    cost of a run, not its numbers)."""

    def flat(spec: RunSpec) -> dict[str, object]:
        data = spec.model_dump()
        dataset = data.pop("dataset")
        return {**{k: v for k, v in data.items() if k not in ignore}, **{f"dataset.{k}": v for k, v in dataset.items()}}

    a, b = flat(mine), flat(theirs)
    return [f"{key}: {a[key]!r} != {b[key]!r}" for key in a if a[key] != b[key]]


def check_run_folder(folder: str | Path, spec: RunSpec, overwrite: bool = False, flag: str = "--overwrite") -> None:
    """Refuse to write a run of ``spec`` into ``folder`` when it holds a run of another spec (or a results
    file that cannot be read), naming the differences and ``flag``, which replaces it. A run of the same spec
    (``batch_size`` aside: it changes the cost, not the numbers) is replaced as before."""
    from fk_bench.files import check_path_length

    folder = Path(folder)
    check_path_length(folder / QUESTIONS_FILE, "run folder")
    path = folder / RESULTS_FILE
    if overwrite or not (path.exists() or path.is_symlink()):
        return
    try:
        existing = read_results(path).spec
    except FkBenchError as err:
        raise FkBenchError(
            f"{folder}: holds a results.json fk-bench cannot read ({err}); add {flag} to replace it, or choose another --out"
        ) from None
    differences = spec_differences(spec, existing)
    if differences:
        raise FkBenchError(
            f"{folder}: holds a run of another spec (this run's vs the folder's: {'; '.join(differences)}); "
            f"add {flag} to replace it, or choose another --out"
        )
