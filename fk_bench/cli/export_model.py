"""``fk-bench export-model``: write a model as a plain Hugging Face directory (for ``lm_eval --model hf``)."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("export-model", help="write a model as a Hugging Face directory (for lm_eval --model hf)")
    parser.add_argument("model", help="a zoo name, a local directory or a Hub id")
    parser.add_argument("out_dir", type=Path, help="a new folder, best outside any git repository (~/fk-models/<name>)")
    parser.set_defaults(func=run)


def tracked_by_git(path: Path) -> Path | None:
    """The git repository ``path`` would show up in (inside its work tree and not ignored), or None."""
    folder = path.expanduser().absolute().parent
    while not folder.exists():
        folder = folder.parent
    try:
        top = subprocess.run(["git", "-C", str(folder), "rev-parse", "--show-toplevel"], capture_output=True, text=True, timeout=10)
        if top.returncode != 0:
            return None
        ignored = subprocess.run(["git", "-C", str(folder), "check-ignore", "-q", str(path.expanduser().absolute())], capture_output=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return None if ignored.returncode == 0 else Path(top.stdout.strip())


def run(args: argparse.Namespace) -> None:
    from fk_bench.files import check_path_length
    from fk_bench.models import export_model

    check_path_length(args.out_dir, "export folder")
    repository = tracked_by_git(args.out_dir)
    if repository is not None:
        print(
            f"fk-bench: note: {args.out_dir} is inside the git repository {repository} and not ignored: its weights would show in "
            "'git status'; export outside it (~/fk-models/<name>) or add the folder to .gitignore",
            file=sys.stderr,
        )
    print(export_model(args.model, args.out_dir))
