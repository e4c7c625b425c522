"""The leaderboard: compare models from fk-bench and lm-eval result files, and run the model zoo.

- :mod:`~fk_bench.leaderboard.collect` reads result files into rows, grouped by the questions they
  were scored on and ranked by paired accuracy;
- :mod:`~fk_bench.leaderboard.render` writes them as Markdown, CSV or an HTML page;
- :mod:`fk_bench.models.zoo_run` runs every zoo model under each prompt format on one fixed slice of
  the test split (``fk-bench zoo run``), the repository's ``leaderboard/``.
"""

from fk_bench.leaderboard.collect import collect_rows
from fk_bench.leaderboard.render import check_suffix, render, render_all

__all__ = ["check_suffix", "collect_rows", "render", "render_all"]
