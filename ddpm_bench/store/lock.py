"""One run at a time per output folder: an advisory lock on ``OUT/.lock`` that names its holder.

The kernel releases an ``flock`` when its process dies, however it dies, so a lock left by a killed run is never
stale: the next run takes it over, and the file's old contents (the dead holder) are simply overwritten.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sys
from pathlib import Path
from typing import Iterator

from ddpm_bench.errors import BenchError

LOCK = ".lock"


@contextlib.contextmanager
def folder_lock(folder: Path) -> Iterator[None]:
    """Hold ``folder``'s lock for the block; a one-line BenchError naming the holding process when another has it."""
    path = Path(folder) / LOCK
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(descriptor, 4096, 0).decode(errors="replace").strip() or "a process that did not say"
            raise BenchError(f"{folder} is in use by another run ({holder}); wait for it to finish or use another "
                             "--out") from None
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, f"process {os.getpid()}: {' '.join(sys.argv)[:300]}\n".encode(), 0)
        yield
    finally:
        os.close(descriptor)  # closing releases the lock
