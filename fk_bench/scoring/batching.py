"""Batches of rows: built in a worker thread while the previous batch runs, and ``auto``'s batch size
from the device's free memory (see :mod:`fk_bench.scoring`)."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import torch

from fk_bench.scoring.forward import ForwardRunner
from fk_bench.scoring.plan import Group
from fk_bench.spec import DEFAULT_BATCH_SIZE

MAX_AUTO_BATCH_SIZE = 4096
"""The largest batch ``auto`` picks: beyond it a GPU gains nothing on rows of ~20 tokens."""
AUTO_MEMORY_FRACTION = 0.8
"""Share of the device's free memory ``auto`` plans to use (the rest for the allocator's fragmentation)."""


def batches(groups: Sequence[Group], batch_size: int, device: str) -> Iterator[tuple[int, int, torch.Tensor]]:
    """(group, first row, input ids on the device) for every batch; on CUDA from pinned memory, copied
    without blocking (the copy overlaps the running batch)."""
    pin = device.startswith("cuda")
    for key, group in enumerate(groups):
        for start in range(0, len(group.questions), batch_size):
            ids = torch.from_numpy(group.tokens[start : start + batch_size])
            if pin:
                ids = ids.pin_memory()
            yield key, start, ids.to(device, non_blocking=pin)


def prefetched(items: Iterator[Any]) -> Iterator[Any]:
    """``items``, each built by a worker thread while the consumer works on the previous one."""
    with ThreadPoolExecutor(1, thread_name_prefix="fk-bench-batches") as pool:
        done = object()
        future = pool.submit(next, items, done)
        while (item := future.result()) is not done:
            future = pool.submit(next, items, done)
            yield item


def is_out_of_memory(error: BaseException) -> bool:
    return isinstance(error, torch.OutOfMemoryError) or "out of memory" in str(error).lower()


def largest_batch_that_runs(candidate: int, run: Callable[[int], None], is_out_of_memory: Callable[[BaseException], bool] = is_out_of_memory) -> int:
    """``candidate`` halved until ``run(batch size)`` fits in memory (as lm-eval's ``auto``), at least 1."""
    while True:
        try:
            run(candidate)
            return candidate
        except Exception as error:
            if candidate == 1 or not is_out_of_memory(error):
                raise
        candidate //= 2
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


def batch_size_from_memory(free_bytes: int, bytes_per_row: float, rows: int) -> int:
    """The power of two of rows that fits :data:`AUTO_MEMORY_FRACTION` of ``free_bytes`` at ``bytes_per_row``,
    between 1 and :data:`MAX_AUTO_BATCH_SIZE` (and no more than the next power of two of ``rows``)."""
    fits = int(free_bytes * AUTO_MEMORY_FRACTION // max(bytes_per_row, 1.0))
    limit = min(MAX_AUTO_BATCH_SIZE, 1 << max(rows - 1, 0).bit_length())
    return max(1, 1 << (max(min(fits, limit), 1).bit_length() - 1))


def auto_batch_size(runner: ForwardRunner, groups: Sequence[Group], device: str) -> int:
    """``auto``: on CUDA, the rows that fit in free memory, from the peak memory of a probe batch of the
    longest rows, confirmed by a trial batch at that size (halved until it fits); elsewhere the default."""
    if not device.startswith("cuda"):
        return DEFAULT_BATCH_SIZE
    key = max(range(len(groups)), key=lambda k: (len(groups[k].positions) + groups[k].with_prefix * runner.prefix_length, groups[k].keep))
    group = groups[key]
    rows = sum(len(g.questions) for g in groups)

    def run(batch: int) -> None:
        ids = torch.from_numpy(group.tokens[:1]).to(device).expand(batch, -1).contiguous()
        runner.log_probs(runner.prepare(key, group, batch), group, ids)
        torch.cuda.synchronize(device)

    probe = 8
    torch.cuda.synchronize(device)
    torch.cuda.empty_cache()
    free, _ = torch.cuda.mem_get_info(device)
    torch.cuda.reset_peak_memory_stats(device)
    before = torch.cuda.memory_allocated(device)
    run(probe)
    per_row = (torch.cuda.max_memory_allocated(device) - before) / probe
    return largest_batch_that_runs(batch_size_from_memory(free, per_row, rows), run)


@contextlib.contextmanager
def garbage_collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off while the token lists are built (none of them is a cycle): a
    full collection over a process's objects (a loaded tokenizer holds 400,000) cost 0.3 s of 2.4 s on
    4,096 questions of the host-overhead benchmark."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
