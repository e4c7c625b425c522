"""docs/architecture.md follows the code: its module table is what the package tree generates, every path it
names exists, every fk_bench package is placed in its data flow; and the dataset builder never reaches up
into the loader."""

from __future__ import annotations

import ast
import importlib.util
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _generator():
    spec = importlib.util.spec_from_file_location("architecture_doc", ROOT / "docs" / "architecture.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_module_table_is_what_the_package_tree_generates():
    generator = _generator()
    text = generator.DOC.read_text(encoding="utf-8")
    assert generator.render(text) == text, "docs/architecture.md's module table is stale: run python docs/architecture.py and commit"
    listed = set(re.findall(r"^\| `([^`]+\.py)` \|", text, flags=re.M))
    assert listed == {path.as_posix() for path in generator.modules()}, "one row per module, no row without a module"


def test_every_path_the_page_names_exists_and_every_package_is_placed():
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    prose = text[: text.index("<!-- module-table:begin")]
    named = set(re.findall(r"(?<![\w/.])((?:fk_bench|interp|tasks|docs|tests)/[\w./-]*)", prose))
    missing = sorted(path for path in named if not (ROOT / path).exists())
    assert not missing, f"docs/architecture.md names paths that do not exist: {missing}"
    packages = {init.parent.relative_to(ROOT).as_posix() + "/" for init in (ROOT / "fk_bench").glob("*/__init__.py")}
    assert packages and packages <= named, f"fk_bench packages missing from the data flow: {sorted(packages - named)}"


def test_the_dataset_builder_takes_its_defaults_from_the_spec_not_the_loader():
    offenders = []
    for path in (ROOT / "fk_bench" / "dataset").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            imported = [node.module] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names] if isinstance(node, ast.Import) else []
            offenders += [f"{path.relative_to(ROOT)} imports {name}" for name in imported if name in ("fk_bench.data", "fk_bench.evaluation")]
    assert not offenders, offenders
