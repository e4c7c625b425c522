"""interp/'s layout holds: one sub-package per concept, modules of at most 450 lines, functions of at most ~60 lines of
code, and no module sharing its file name with another module of the project (so a traceback or an import names one file)."""

from __future__ import annotations

import ast
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).parents[2]
INTERP = ROOT / "interp"
MAX_MODULE_LINES = 450
MAX_FUNCTION_LINES = 60
"""Lines of a function's body below its docstring (a long docstring is not a long function)."""
PACKAGES = {"core", "attribution", "patching", "study", "pages", "probes"}


def _modules(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.py") if ".venv" not in p.parts and "__pycache__" not in p.parts)


def test_interp_is_sub_packages_by_concept():
    folders = {p.name for p in INTERP.iterdir() if p.is_dir() and p.name not in ("__pycache__",)}
    assert folders <= PACKAGES, f"unexpected folders {folders - PACKAGES}"
    loose = sorted(p.name for p in INTERP.glob("*.py"))
    assert loose == ["__init__.py", "defaults.py"], loose


def test_modules_and_functions_are_short():
    long_modules = {str(p.relative_to(ROOT)): n for p in _modules(INTERP) if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES}
    assert long_modules == {}
    long_functions = []
    for path in _modules(INTERP):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                first = node.body[0]
                has_doc = isinstance(first, ast.Expr) and isinstance(getattr(first, "value", None), ast.Constant)
                start = (node.body[1] if has_doc and len(node.body) > 1 else first).lineno
                if (length := (node.end_lineno or start) - start + 1) > MAX_FUNCTION_LINES:
                    long_functions.append(f"{path.relative_to(ROOT)}:{node.name} ({length} lines)")
    assert long_functions == []


def test_no_two_modules_of_the_project_share_a_file_name_with_interp():
    project = [p for folder in ("fk_bench", "interp", "tasks") for p in _modules(ROOT / folder) if p.name != "__init__.py"]
    counts = Counter(p.name for p in project)
    interp_names = {p.name for p in _modules(INTERP) if p.name != "__init__.py"}
    assert {name: counts[name] for name in interp_names if counts[name] > 1} == {}
