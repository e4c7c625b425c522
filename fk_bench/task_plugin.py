"""The lm-eval task plugin: where its folder lives and what its metrics are called there.

lm-eval 0.4 has no entry points for tasks, so the installed package exposes its folder by path: inside
an installed wheel it is ``fk_bench/tasks``, in a checkout (or editable install) the top-level ``tasks/``
(``lm_eval --include_path "$(fk-bench tasks-dir)"``).

The task reports every metric of :data:`fk_bench.metrics.METRICS` under the same name, except where
lm-eval has a conventional name of its own (:data:`LM_EVAL_ALIASES`); the task's YAML files are
generated from that registry (``tasks/fk_yesno/_generate_configs.py``), and whoever reads lm-eval
results (the leaderboard) maps names back with :func:`lm_eval_name`. This module imports nothing heavy:
``fk-bench tasks-dir`` stays instant.
"""

from __future__ import annotations

from pathlib import Path

from fk_bench.errors import FkBenchError

LM_EVAL_ALIASES = {"accuracy": "acc"}
"""fk-bench metric name -> lm-eval's conventional name for it; every other metric keeps its name."""

GROUP_MEAN_METRICS_EXTRA = ("yes_rate",)
"""Corpus-level metrics whose size-weighted mean over relations is still exact (yes_rate is a share of
questions); the group reports them beside the per-question means. paired_accuracy (a share of pairs),
auroc and ece are not means over questions: the group leaves them to each relation's task."""


def lm_eval_name(metric: str) -> str:
    """The name lm-eval's results use for fk-bench metric ``metric`` (``results[task][f"{name},none"]``)."""
    return LM_EVAL_ALIASES.get(metric, metric)


def tasks_dir() -> Path:
    """The folder that holds ``fk_yesno/`` with the task YAMLs."""
    package = Path(__file__).resolve().parent
    for candidate in (package / "tasks", package.parent / "tasks"):
        if (candidate / "fk_yesno").is_dir():
            return candidate
    raise FkBenchError(f"the lm-eval task folder was not found next to {package}; reinstall fk-bench")
