"""Whether this machine can hold a run of N samples, checked before any file is written: an N too large to plan is one
line naming the limit it breaks, not a MemoryError part-way through with records already written.

What grows with N is counted: each rank's list of sample indices (a Python int per sample), and, where the backbone
states its feature dimension D, every point's features (float32, N x D): held in memory while a point is scored, and
kept on disk beside the records. Memory available and free disk are read from the operating system.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Optional

from ddpm_bench.errors import BenchError
from ddpm_bench.metrics.backbones import stated_feature_dim, warn_if_few_samples
from ddpm_bench.util.memory import available_memory

INDEX_BYTES = 36  # a Python int in a list: its 8-byte slot and the 28-byte int object
FEATURE_BYTES = 4  # float32


def free_disk(folder: Path) -> int:
    """Free bytes on the file system that holds ``folder`` (or its nearest existing parent)."""
    folder = Path(folder).absolute()
    while not folder.exists():
        folder = folder.parent
    return shutil.disk_usage(folder).free


def size_text(count: float) -> str:
    """``12.5 GiB``: a byte count in binary units."""
    units = ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")
    power = 0
    while count >= 1024 and power < len(units) - 1:
        count, power = count / 1024, power + 1
    return f"{count:,.0f} bytes" if power == 0 else f"{count:,.1f} {units[power]}"


def check_capacity(n: int, folder: Path, *, points: int = 1, backbone: Optional[str] = None,
                   keep_features: bool = False) -> None:
    """A one-line error when N samples per point cannot be planned on this machine: the index list and one point's
    features in memory against the memory available, and ``points`` points' kept features against the free disk;
    and a warning when N is below twice the backbone's feature dimension (``warn_if_few_samples``)."""
    dim = stated_feature_dim(backbone) if backbone is not None else None
    if backbone is not None:
        warn_if_few_samples(backbone, n)
    in_memory = n * INDEX_BYTES + (n * dim * FEATURE_BYTES if dim else 0)
    memory = available_memory()
    if in_memory > memory:
        what = f"its sample indices{f' and its {n:,} x {dim} float32 features' if dim else ''}"
        raise BenchError(f"n={n:,} samples do not fit in this machine's memory: {what} need "
                         f"{size_text(in_memory)}, {size_text(memory)} is available; use a smaller -n")
    if keep_features and dim:
        on_disk, disk = points * n * dim * FEATURE_BYTES, free_disk(folder)
        if on_disk > disk:
            raise BenchError(f"the features of {points} point(s) of n={n:,} samples ({dim} float32 each) need "
                             f"{size_text(on_disk)} on disk and {folder} has {size_text(disk)} free; use a smaller -n, "
                             "fewer points, or --no-features")
