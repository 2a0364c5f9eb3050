"""How the statistics compute at scale: float32 tiles of the features, one thread per core, and a check that what is
about to be allocated fits in memory.

Features may be memory-mapped float32 (a sweep folder's .npy files): they are read tile by tile, each tile converted
to float32 (a copy of at most ``TILE`` rows), never as a whole float64 copy. Products run on the tiles in float32 and
are accumulated in float64. Tiles run on one thread per core with one BLAS thread each: BLAS threads spinning beside
torch's own thread pool on a 2-core machine made small products 10x slower.
"""

from __future__ import annotations

import functools
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterable, TypeVar

import numpy as np
from threadpoolctl import ThreadpoolController

from ddpm_bench.errors import BenchError
from ddpm_bench.util.memory import available_memory

TILE = 2048  # rows in one product: a 2,048 x 2,048 output at most, far below the 30,000 x 30,000 that crashes OpenBLAS
# the cores this process may use (all of them where the platform cannot say, as macOS and Windows cannot)
WORKERS = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
GIB = 2 ** 30

Job = TypeVar("Job")
Result = TypeVar("Result")


@functools.cache
def blas_threads() -> ThreadpoolController:
    """The thread pools of the BLAS and OpenMP libraries loaded by the first statistic computed (numpy's, torch's),
    found once: ``threadpool_limits`` would look them up again on every call."""
    return ThreadpoolController()


def parallel(work: Callable[[Job], Result], jobs: Iterable[Job]) -> list[Result]:
    """``work`` on every job, in order, on ``WORKERS`` threads with one BLAS thread each (numpy releases the GIL in
    its products and decompositions)."""
    jobs = list(jobs)
    with blas_threads().limit(limits=1):
        if WORKERS == 1 or len(jobs) < 2:
            return [work(job) for job in jobs]
        with ThreadPoolExecutor(min(WORKERS, len(jobs))) as pool:
            return list(pool.map(work, jobs))


def tiles(bounds: np.ndarray) -> list[tuple[int, int, int]]:
    """(block, start, stop) of tiles of at most ``TILE`` rows, each inside one block of ``bounds`` (block g: rows
    bounds[g] to bounds[g + 1]), split evenly."""
    out = []
    for block, (start, stop) in enumerate(zip(bounds[:-1], bounds[1:])):
        count = max(1, -(-(stop - start) // TILE))
        edges = np.linspace(start, stop, count + 1).astype(int)
        out += [(block, int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]
    return out


def rows32(x: np.ndarray, start: int, stop: int) -> np.ndarray:
    """Rows start..stop of ``x`` (an array or a memory map) as float32."""
    return np.ascontiguousarray(x[start:stop], dtype=np.float32)


def ensure_fits(size: float, what: str) -> None:
    """A clear error before allocating ``size`` bytes for ``what`` when they do not fit in the memory available: on
    Linux the OOM killer ends the process before numpy could raise a MemoryError."""
    available = available_memory()
    if size > available:
        raise BenchError(f"the statistics do not fit in memory: {what} needs {size / GIB:.1f} GiB, "
                         f"{available / GIB:.1f} GiB are available")
