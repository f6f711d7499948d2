"""Timing shared by the benchmarks: the best wall time of repeated runs, and peak memory."""

from __future__ import annotations

import math
import time
import tracemalloc
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def best(fn: Callable[[], T], repeat: int, *, patience: float = math.inf) -> tuple[float, T]:
    """Best wall time (s) of ``repeat`` runs of ``fn`` and the last result; after two runs,
    stop early when even the best run took over ``patience`` seconds (slow peers)."""
    times: list[float] = []
    for i in range(max(repeat, 1)):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
        if i >= 1 and min(times) > patience:
            break
    return min(times), out


def peak_mib(fn: Callable[[], T]) -> tuple[float, T]:
    """Peak memory (MiB) ``tracemalloc`` sees during one run of ``fn`` (numpy buffers
    included), and its result."""
    tracemalloc.start()
    try:
        out = fn()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return peak / 2**20, out
