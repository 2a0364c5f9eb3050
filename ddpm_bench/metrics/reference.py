"""Reference statistics of a real data set under a backbone, computed once and cached on disk.

The cache key holds everything that determines the value: the data set's identity (its source and a hash of its
pixels) and size, the backbone and its weights, the image resolution and the backbone's preprocessing. Files are
written atomically and carry a checksum; a truncated or corrupt file is detected, reported and rebuilt.

A reference keeps the mean and covariance (for FID) and, when it was computed here, the features (for KID).
Published ``mu``/``sigma`` files (pytorch-fid, torch-fidelity) can be imported; they give FID only.
"""

from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from ddpm_bench.errors import BenchError
from ddpm_bench.metrics.backbones import Backbone, batched_features
from ddpm_bench.model.data import EMBEDDED_DATA, is_data_source, load_dataset
from ddpm_bench.stats import Reference
from ddpm_bench.store.disk_cache import cache_dir, checksum, remembered, slug
from ddpm_bench.util.atomic import atomic_file
from ddpm_bench.util.hashing import text_sha256
from ddpm_bench.util.progress import RunProgress

FORMAT = 1


@dataclass
class ReferenceStats:
    name: str
    key: str
    n: int
    mu: np.ndarray
    sigma: np.ndarray
    features: Optional[np.ndarray] = None

    @property
    def description(self) -> str:
        return f"{self.name} ({self.n} images)"

    def for_statistics(self):
        """This reference as ``ddpm_bench.stats.Reference`` (the fixed side of every FID and KID and their intervals),
        with what it derives from them (KID's reference kernel mean) remembered in the disk cache under this key."""
        return Reference(self.mu, self.sigma, self.features,
                         lambda name, compute: remembered(name, self.key, compute))


def cache_key(source: str, images: torch.Tensor, backbone: Backbone) -> str:
    pixels = hashlib.sha256(images.numpy().tobytes()).hexdigest()[:16]
    parts = {
        "source": source if source in EMBEDDED_DATA else str(Path(source).resolve()),
        "pixels_sha256": pixels,
        "n": len(images),
        "shape": list(images.shape[1:]),
        "backbone": backbone.identity(),
        "preprocessing": backbone.preprocessing,
        "format": FORMAT,
    }
    return json.dumps(parts, sort_keys=True)


def cache_path(name: str, backbone_name: str, resolution: str, key: str) -> Path:
    digest = text_sha256(key)[:16]
    return cache_dir() / f"{slug(name)}-{backbone_name}-{resolution}-{digest}.npz"


def write_stats(path: Path, stats: ReferenceStats) -> None:
    """Atomic write: a temporary file in the same folder, fsync, then rename over the target."""
    arrays = {"mu": stats.mu, "sigma": stats.sigma}
    if stats.features is not None:
        arrays["features"] = stats.features
    meta = json.dumps({"name": stats.name, "key": stats.key, "n": stats.n, "checksum": checksum(arrays)})
    with atomic_file(path) as handle:
        np.savez(handle, meta=np.array(meta), **arrays)


def read_stats(path: Path, key: Optional[str] = None) -> Optional[ReferenceStats]:
    """The cached statistics at ``path``, or None (with a warning) when missing, corrupt or for another key."""
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as archive:
            meta = json.loads(str(archive["meta"]))
            arrays = {name: archive[name] for name in archive.files if name != "meta"}
        if checksum(arrays) != meta["checksum"]:
            raise ValueError("checksum mismatch")
    except Exception as error:
        print(f"ddpm-bench: warning: cached statistics {path} are unreadable ({error}); rebuilding", file=sys.stderr)
        return None
    if key is not None and meta["key"] != key:
        return None
    return ReferenceStats(meta["name"], meta["key"], meta["n"], arrays["mu"], arrays["sigma"], arrays.get("features"))


def stats_from_features(name: str, key: str, features: np.ndarray) -> ReferenceStats:
    features = features.astype(np.float64)
    return ReferenceStats(name, key, len(features), features.mean(0), np.cov(features, rowvar=False), features)


def reference_stats(source: str, backbone: Backbone, size: int = 28, channels: int = 1) -> ReferenceStats:
    """Statistics of ``source`` under ``backbone``: from the cache when present and intact, else computed and cached."""
    images = load_dataset(source, size, channels)
    key = cache_key(source, images, backbone)
    path = cache_path(source, backbone.name, "x".join(map(str, images.shape[2:])), key)
    cached = read_stats(path, key)
    if cached is not None:
        return cached
    stats = stats_from_features(source, key, features_with_progress(backbone, images, source).double().numpy())
    write_stats(path, stats)
    return stats


def features_with_progress(backbone: Backbone, images: torch.Tensor, source: str) -> torch.Tensor:
    """The backbone's features of every image, with a progress line (stderr) every 10 s when that takes long (50,000
    images through Inception on a CPU)."""
    tracker = RunProgress([len(images)], mode="lines")
    tracker.point(f"reference statistics of {source}", len(images), 1)

    def done(rows: int) -> None:
        tracker.call(rows)
        tracker.batch(rows)

    return batched_features(backbone, images, on_chunk=done)


def import_published_stats(file: str | Path, name: str, backbone_name: str) -> Path:
    """Store a published ``mu``/``sigma`` .npz (pytorch-fid / torch-fidelity format) as reference ``name``."""
    file = Path(file)
    try:
        with np.load(file, allow_pickle=False) as archive:
            mu, sigma = archive["mu"].astype(np.float64), archive["sigma"].astype(np.float64)
    except Exception as error:
        raise BenchError(f"{file} is not a statistics file with 'mu' and 'sigma' arrays: {error}") from error
    if mu.ndim != 1 or sigma.shape != (len(mu), len(mu)):
        raise BenchError(f"{file}: mu {mu.shape} and sigma {sigma.shape} do not fit together")
    key = json.dumps(
        {"imported": str(file.name), "sha256": checksum({"mu": mu, "sigma": sigma}), "backbone": backbone_name}
    )
    path = imported_path(name, backbone_name)
    write_stats(path, ReferenceStats(name, key, 0, mu, sigma))
    return path


def imported_path(name: str, backbone_name: str) -> Path:
    """Where statistics imported for a backbone are kept: under its registered name, its options (``weights=FILE``)
    aside, since they name where weights lie rather than another network."""
    return cache_dir() / f"imported-{slug(name)}-{backbone_name.split(':')[0]}.npz"


def real_subset(source: str, n: int, seed: int, size: int, channels: int) -> torch.Tensor:
    """``n`` images drawn without replacement from a data set (seeded): the real-data floor of a metric at that N."""
    pool = load_dataset(source, size, channels)
    if n > len(pool):
        raise BenchError(f"the real-data floor needs {n} images but {source} has {len(pool)}")
    return pool[torch.randperm(len(pool), generator=torch.Generator().manual_seed(seed))[:n]]


def check_reference(name: str, backbone_name: str) -> None:
    """A one-line error unless ``name`` is an imported reference for this backbone or a data set that exists."""
    if imported_path(name, backbone_name).exists() or is_data_source(name):
        return
    raise BenchError(
        f"reference {name!r} not found: it is neither {', '.join(EMBEDDED_DATA)}, a folder of images, an .npz of "
        f"images, nor statistics imported for backbone {backbone_name} (ddpm-bench stats --import)"
    )


def resolve_reference(name: str, backbone: Backbone, size: int, channels: int) -> ReferenceStats:
    """An imported reference called ``name`` if there is one, else the statistics of the data set source ``name``."""
    imported = read_stats(imported_path(name, backbone.name))
    if imported is not None:
        return imported
    return reference_stats(name, backbone, size, channels)
