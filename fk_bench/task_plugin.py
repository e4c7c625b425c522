"""Where the lm-eval task folder lives, for ``lm_eval --include_path "$(fk-bench tasks-dir)"``.

lm-eval 0.4 has no entry points for tasks, so the installed package exposes its folder by path: inside
an installed wheel it is ``fk_bench/tasks``, in a checkout (or editable install) the top-level ``tasks/``.
"""

from __future__ import annotations

from pathlib import Path

from fk_bench.errors import FkBenchError


def tasks_dir() -> Path:
    """The folder that holds ``fk_yesno/`` with the task YAMLs."""
    package = Path(__file__).resolve().parent
    for candidate in (package / "tasks", package.parent / "tasks"):
        if (candidate / "fk_yesno").is_dir():
            return candidate
    raise FkBenchError(f"the lm-eval task folder was not found next to {package}; reinstall fk-bench")
