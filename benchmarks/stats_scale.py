"""The statistics at the literature's scale (issue 33): one point's FID and KID with intervals, and one paired
comparison, on synthetic Inception-sized features (D = 2,048) at N = 2,000, 10,000 and 50,000 against a reference of
50,000, timed on this machine's CPU, with the peak resident memory beyond the features.

The features are Gaussian with a decaying spectrum (variance 1/k for the k-th axis), written to float32 .npy files and
read memory-mapped, as a sweep folder's are. The reference's statistics (mean, covariance and its square root, KID's
kernel mean) are computed once before the clock starts, as a sweep's disk cache holds them. ``seconds_per_pair``
compares two points from scratch (both points' statistics and their difference); ``seconds_per_pair_given_points``
is what a pair adds once its points' statistics are computed (a sweep's case). Peak memory is the process's high-water
mark (VmHWM, reset before each measurement) less its resident memory before it and less the features' bytes.
``--old FILE`` times a bootstrap.py of an earlier commit instead (``git show 2772fa7:ddpm_bench/stats/bootstrap.py``),
its KID against a 10,000-feature subset of the reference (the whole one needs a 50,000 x 50,000 float64 matrix).

    .venv/bin/python benchmarks/stats_scale.py > results/benchmarks/stats-scale-2026-12-06-xeon-amx.json
    .venv/bin/python benchmarks/stats_scale.py --quick
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from ddpm_bench import stats
from ddpm_bench.stats.compute import WORKERS
from ddpm_bench.util.provenance import cpu_model

D, N_REFERENCE, SIZES = 2048, 50_000, (2_000, 10_000, 50_000)
GIB = 2 ** 30


def write_features(path: Path, n: int, seed: int, shift: float = 0.0, scale: float = 1.0, twin_of=None) -> np.ndarray:
    """n x D float32 Gaussian features (variance 1/k on axis k, times ``scale``, mean ``shift``) written to ``path``
    and opened memory-mapped; ``twin_of``: sample i close to that file's sample i (what one x_T does)."""
    rng = np.random.default_rng(seed)
    scales = (scale / np.sqrt(np.arange(1, D + 1))).astype(np.float32)
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, D))
    for start in range(0, n, 5_000):
        rows = rng.standard_normal((min(5_000, n - start), D), dtype=np.float32) * scales + np.float32(shift)
        if twin_of is not None:
            rows = 0.9 * twin_of[start:start + len(rows)] + np.float32(np.sqrt(0.19)) * rows
        out[start:start + len(rows)] = rows
    out.flush()
    return np.load(path, mmap_mode="r")


def reference_statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance of the reference, in float64 from float32 tiles."""
    mu = np.zeros(D)
    gram = np.zeros((D, D))
    for start in range(0, len(features), 5_000):
        rows = np.asarray(features[start:start + 5_000], dtype=np.float32)
        mu += rows.sum(axis=0, dtype=np.float64)
        gram += rows.T @ rows
    mu /= len(features)
    return mu, (gram - len(features) * np.outer(mu, mu)) / (len(features) - 1)


def resident() -> tuple[int, int]:
    """(VmRSS, VmHWM) of this process, in bytes."""
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
    return tuple(int(fields[name].split()[0]) * 1024 for name in ("VmRSS", "VmHWM"))


def measured(run, feature_bytes: int) -> tuple[object, float, float]:
    """``run()``'s result, seconds, and peak memory beyond what was resident before it and the features' bytes."""
    Path("/proc/self/clear_refs").write_text("5")  # resets the high-water mark to the current resident size
    before, _ = resident()
    started = time.perf_counter()
    result = run()
    seconds = time.perf_counter() - started
    return result, seconds, (resident()[1] - before - feature_bytes) / GIB


def one_size(module, reference, folder: Path, n: int) -> dict:
    """A point's and a pair's statistics at N = n, timed."""
    a = write_features(folder / f"a{n}.npy", n, 1, shift=0.01, scale=1.02)
    b = write_features(folder / f"b{n}.npy", n, 2, shift=0.01, scale=1.02, twin_of=a)
    point, point_seconds, point_memory = measured(
        lambda: module.point_intervals(module.PointFeatures(a, reference)), a.nbytes)
    pair_points = module.PointFeatures(a, reference), module.PointFeatures(b, reference)
    pair, pair_seconds, pair_memory = measured(
        lambda: module.compare(*pair_points, ("a", "b"), paired=True), a.nbytes + b.nbytes)
    _, again_seconds, _ = measured(lambda: module.compare(*pair_points, ("a", "b"), paired=True), 0)
    return {"n": n, "seconds_per_point": round(point_seconds, 1), "seconds_per_pair": round(pair_seconds, 1),
            "seconds_per_pair_given_points": round(again_seconds, 2),
            "peak_gib_beyond_features_point": round(point_memory, 2),
            "peak_gib_beyond_features_pair": round(pair_memory, 2),
            "point": {k: v for k, v in point.items() if "noise" not in k},
            "pair": [{k: d.to_dict().get(k) for k in ("metric", "difference", "at_n", "low", "high", "method")}
                     for d in pair]}


def old_module(path: str):
    """An earlier commit's bootstrap.py, loaded as a module of its own."""
    spec = importlib.util.spec_from_file_location("old_bootstrap", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="N = 2,000 and 10,000 only (CI's smoke test)")
    parser.add_argument("--sizes", help="comma-separated N, instead of 2,000, 10,000 and 50,000")
    parser.add_argument("--old", help="an earlier bootstrap.py to time instead of ddpm_bench.stats")
    args = parser.parse_args()
    sizes = [int(n) for n in args.sizes.split(",")] if args.sizes else SIZES[:2] if args.quick else SIZES
    module = old_module(args.old) if args.old else stats
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        features = write_features(folder / "reference.npy", N_REFERENCE, 0)
        mu, sigma = reference_statistics(features)
        kid_features = features[:: N_REFERENCE // 10_000] if args.old else features
        reference = module.Reference(mu, sigma, kid_features)
        reference.kyy  # cached once, not counted: a sweep's disk cache holds it
        rows = [one_size(module, reference, folder, n) for n in sizes]
    print(json.dumps({"code": args.old or "ddpm_bench.stats", "cpu": cpu_model(), "workers": WORKERS, "d": D,
                      "n_reference": N_REFERENCE, "note": "other processes shared the 2 cores during the run",
                      "sizes": rows}, indent=1))


if __name__ == "__main__":
    main()
