"""Device and dtype: the one place where a run's names (``"cuda:0"``, ``"bfloat16"``) become torch objects.

A :class:`~fk_bench.spec.RunSpec` records device and dtype as names (results.json is JSON); whatever
runs the spec (the evaluator, the model loader, interp) asks :func:`resolve` for the torch objects,
once per run, instead of converting names back and forth. :func:`spec_names` goes the other way,
once, when a spec is made from what a user asked for (defaults filled in, checked on this machine).

Every check happens here, before any work: a missing CUDA, an unknown device, float16 on the CPU
(its matmuls overflow there: all-NaN scores).
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, NamedTuple

from fk_bench.errors import FkBenchError
from fk_bench.spec import DTYPES, RunSpec

if TYPE_CHECKING:
    import torch


class TorchSettings(NamedTuple):
    """A run's device and compute dtype as torch objects; unpacks as ``device, dtype``."""

    device: torch.device
    dtype: torch.dtype


def default_device() -> str:
    """``cuda`` when torch sees a GPU, else ``cpu``."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def default_dtype(device: str | torch.device) -> torch.dtype:
    """The compute dtype when none is asked for: the project's one place for this decision.

    float32 on every device, measured (BENCHMARKS.md, "bfloat16 vs float32"): on a CPU with
    AVX512-BF16, bfloat16 runs the zoo models 2.1-2.9x faster but moves log-odds by 0.03-0.05 nats
    (median; up to 0.24) and flips 3-7.5% of the pairwise verdicts (paired_accuracy by up to 0.03, the
    gap between the small models it ranks); on an H200 it gains at most 1.4x (the run is bound by the
    host) and slows the 135M model. A default that follows the hardware would make the same command
    give different numbers on different machines; ``--dtype bfloat16`` stays one flag away.
    """
    import torch

    return torch.float32


def parse_dtype(dtype: str | torch.dtype) -> torch.dtype:
    """The torch dtype named ``dtype`` (one of :data:`fk_bench.spec.DTYPES`)."""
    import torch

    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype not in DTYPES:
        raise FkBenchError(f"dtype {dtype!r}: choose one of {', '.join(DTYPES)}")
    parsed: torch.dtype = getattr(torch, dtype)
    return parsed


def dtype_name(dtype: torch.dtype) -> str:
    """``torch.bfloat16`` -> ``bfloat16``: how specs and results name a dtype."""
    return str(dtype).removeprefix("torch.")


def resolve_device(device: str | torch.device | None) -> str:
    """``device`` checked against this machine (FkBenchError when torch does not know it or it is absent);
    None is :func:`default_device`."""
    import torch

    if device is None:
        return default_device()
    try:
        parsed = torch.device(device)
    except (RuntimeError, ValueError, TypeError):
        raise FkBenchError(f"device {device!r}: not a device name; use cpu, cuda or cuda:N") from None
    if parsed.type == "cpu":
        return str(device)
    if parsed.type == "cuda":
        if not torch.cuda.is_available():
            raise FkBenchError(f"device {device!r}: CUDA is not available here (torch {torch.__version__}); use --device cpu")
        if parsed.index is not None and parsed.index >= torch.cuda.device_count():
            raise FkBenchError(f"device {device!r}: this machine has {torch.cuda.device_count()} CUDA device(s)")
        return str(device)
    if parsed.type == "mps":
        if not torch.backends.mps.is_available():
            raise FkBenchError(f"device {device!r}: MPS is not available here; use --device cpu")
        return str(device)
    raise FkBenchError(f"device {device!r}: not supported; use cpu, cuda or cuda:N")


def resolve_dtype(dtype: str | torch.dtype | None, device: str | torch.device) -> torch.dtype:
    """The compute dtype: ``dtype``, or :func:`default_dtype` when None; float16 on the CPU is refused."""
    import torch

    resolved = default_dtype(device) if dtype is None else parse_dtype(dtype)
    if resolved == torch.float16 and torch.device(device).type == "cpu":
        raise FkBenchError("dtype float16 on the CPU gives NaN scores (its matmuls overflow there); use float32 or bfloat16 on the CPU")
    return resolved


def spec_names(device: str | None, dtype: str | None) -> tuple[str, str]:
    """The device and dtype names a run spec records for what was asked (None: the defaults), checked on
    this machine: the one conversion from a user's words to a spec's."""
    resolved_device = resolve_device(device)
    return resolved_device, dtype_name(resolve_dtype(dtype, resolved_device))


@functools.lru_cache(maxsize=32)
def _resolved(device: str, dtype: str) -> TorchSettings:
    import torch

    return TorchSettings(torch.device(resolve_device(device)), resolve_dtype(dtype, device))


def resolve(spec: RunSpec) -> TorchSettings:
    """The torch device and dtype ``spec`` runs on, checked on this machine (one line naming the problem
    otherwise); computed once per (device, dtype) and shared by everything that runs the spec."""
    return _resolved(spec.device, spec.dtype)
