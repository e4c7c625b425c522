"""Headless Chromium for the pages: the rendered DOM (tests read ``data-js-errors``/``data-rendered``)
and PNG screenshots for the README. Chromium is the Debian ``chromium`` package; nothing is downloaded.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from fk_bench.errors import FkBenchError

TIMEOUT_SECONDS = 180


def find_chromium() -> str | None:
    """The chromium executable on PATH, or None."""
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def _run(page: Path, args: list[str], profile: Path, budget_ms: int) -> subprocess.CompletedProcess[str]:
    chromium = find_chromium()
    if chromium is None:
        raise FkBenchError("headless Chromium is not installed (Debian: apt-get install chromium)")
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        "--enable-logging=stderr",
        "--v=0",
        f"--virtual-time-budget={budget_ms}",
    ]
    run = subprocess.run([chromium, *flags, *args, page.resolve().as_uri()], capture_output=True, text=True, timeout=TIMEOUT_SECONDS)
    if run.returncode != 0:
        raise FkBenchError(f"chromium failed on {page} (exit {run.returncode}): {run.stderr[-500:]}")
    return run


def dump_dom(page: str | Path, budget_ms: int = 20000) -> tuple[str, str]:
    """The page's DOM after its scripts ran (``--dump-dom``), and chromium's log (console messages)."""
    with tempfile.TemporaryDirectory(prefix="fk-bench-chromium-") as profile:
        run = _run(Path(page), ["--dump-dom"], Path(profile), budget_ms)
    return run.stdout, run.stderr


def screenshot(page: str | Path, png: str | Path, width: int = 1400, height: int = 1500, budget_ms: int = 20000) -> Path:
    """A PNG of the page's first ``width`` x ``height`` pixels."""
    png = Path(png)
    png.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="fk-bench-chromium-") as profile:
        _run(Path(page), [f"--screenshot={png.resolve()}", f"--window-size={width},{height}"], Path(profile), budget_ms)
    if not png.is_file():
        raise FkBenchError(f"chromium wrote no screenshot of {page} to {png}")
    return png
