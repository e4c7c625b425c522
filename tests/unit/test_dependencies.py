"""Every third-party package the code imports is declared in pyproject.toml (never present by chance
because another package pulled it in)."""

from __future__ import annotations

import ast
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).parents[2]
CODE = ("fk_bench", "interp", "tasks")
OWN = {"fk_bench", "interp", "tasks", "utils", "support"}


def _imported_modules() -> dict[str, str]:
    """Top-level module -> first file importing it, for every import in the package code."""
    found: dict[str, str] = {}
    for folder in CODE:
        for path in sorted((ROOT / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                names = []
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                for name in names:
                    found.setdefault(name.split(".")[0], str(path.relative_to(ROOT)))
    return found


def _declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    requirements = [*project["dependencies"], *(r for extra in project["optional-dependencies"].values() for r in extra)]
    return {canonicalize_name(Requirement(r).name) for r in requirements}


def test_every_imported_third_party_package_is_declared():
    distributions = packages_distributions()
    declared = _declared()
    missing = {}
    for module, where in _imported_modules().items():
        if module in OWN or module in sys.stdlib_module_names or module == "__future__":
            continue
        names = {canonicalize_name(d) for d in distributions.get(module, [module])}
        if not names & declared:
            missing[module] = where
    assert not missing, f"imported but not declared in pyproject.toml: {missing}"
