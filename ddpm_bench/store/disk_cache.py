"""The on-disk cache beside the reference statistics: arrays computed once and kept under a key that names what they
were computed from, written atomically with a checksum, computed again when missing, damaged or of another key.

Location: ``$DDPM_BENCH_CACHE/stats``, else ``~/.cache/ddpm-bench/stats``. Files are read with ``allow_pickle=False``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Callable

import numpy as np

from ddpm_bench.util.atomic import atomic_file
from ddpm_bench.util.hashing import text_sha256

CACHE_ENV = "DDPM_BENCH_CACHE"


def cache_dir() -> Path:
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "ddpm-bench") / "stats"


def slug(text: str) -> str:
    """``text`` as a short file-name part."""
    return re.sub(r"[^A-Za-z0-9.-]+", "_", text).strip("_")[-60:]


def checksum(arrays: dict[str, np.ndarray]) -> str:
    """SHA-256 over named arrays, in name order."""
    digest = hashlib.sha256()
    for name in sorted(arrays):
        digest.update(name.encode())
        digest.update(np.ascontiguousarray(arrays[name]).tobytes())
    return digest.hexdigest()


def remembered(name: str, key: str, compute: Callable[[], np.ndarray]) -> np.ndarray:
    """The array ``compute()`` gives, computed once and cached under ``name`` and ``key`` (what it was computed from:
    a reference's cache key, a file's path, size and modification time). Saves seconds on every run that needs it."""
    path = cache_dir() / f"derived-{slug(name)}-{text_sha256(key + name)[:16]}.npz"
    try:
        with np.load(path, allow_pickle=False) as archive:
            meta, value = json.loads(str(archive["meta"])), archive["value"]
        if meta["key"] == key and meta["checksum"] == checksum({"value": value}):
            return value
    except Exception:  # missing, truncated, not a zip, a bad CRC: computed again below
        pass
    value = np.asarray(compute())
    meta = json.dumps({"name": name, "key": key, "checksum": checksum({"value": value})})
    with atomic_file(path) as handle:
        np.savez(handle, meta=np.array(meta), value=value)
    return value
