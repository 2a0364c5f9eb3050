"""``ddpm-bench compare``: differences in FID and KID (and CMMD, for points the clip backbone scored) between points of
one or two results folders, each with a 95 % interval and a verdict, from the features the folders kept (nothing is
sampled again).

KID needs the reference's features, which a folder does not keep: they come from the statistics cache, through the
backbone the points were scored with (built again on a cache miss).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

from ddpm_bench.errors import BenchError
from ddpm_bench.metrics.backbones import get_backbone
from ddpm_bench.metrics.cmmd import cmmd_difference
from ddpm_bench.metrics.reference import ReferenceStats, resolve_reference
from ddpm_bench.stats import REPLICATES, Difference, Reference
from ddpm_bench.store import records as R
from ddpm_bench.store.folder_files import has_reference_stats, write_reference_stats
from ddpm_bench.verdicts.comparisons import StoredPoint, StoredPoints, default_pairs, load_points, named_pairs


def cached_reference(point: StoredPoint) -> ReferenceStats:
    """The reference statistics a point was scored against, from the statistics cache (computed on a miss)."""
    record = point.record
    if not record.get(R.REFERENCE_SOURCE):
        raise BenchError(f"{point.label} does not name its reference source (recorded by an older ddpm-bench)")
    channels, height, _ = record[R.SAMPLE_SHAPE]
    return resolve_reference(record[R.REFERENCE_SOURCE], get_backbone(record[R.BACKBONE]), height, channels)


def reference_for(point: StoredPoint) -> Reference:
    """The whole reference (mean, covariance and features, for FID and KID) a point was scored against."""
    return cached_reference(point).for_statistics()


def add_missing_reference(folder: Path) -> bool:
    """Write the folder's ``reference.npz`` from the statistics cache where a folder with stored features lacks it
    (written by an older ddpm-bench), so that its report judges from the folder alone; whether it wrote one."""
    if has_reference_stats(folder):
        return False
    try:
        points = load_points([folder])
    except BenchError:  # no stored features: the report has nothing to judge with a reference
        return False
    stats = cached_reference(points[0])
    write_reference_stats(folder, stats.key, stats.mu, stats.sigma)
    return True


def frechet_name(folder: str | Path) -> str:
    """What the folder's backbone calls its Frechet distance (FID, FD_DINOv2, FD_CLIP), as its records say."""
    names = [r.get(R.FRECHET_NAME) for r in R.load_frame(Path(folder)).to_dict("records")]
    return next((name for name in names if isinstance(name, str)), "FID")


def run_compare(folders: Sequence[str | Path], pair_texts: Optional[Sequence[str]] = None, *,
                replicates: int = REPLICATES) -> list[Difference]:
    """Every requested (or default) pair's FID and KID differences with 95 % intervals."""
    points = load_points([Path(f) for f in folders])
    bench = StoredPoints(points, reference_for(points[0]))
    pairs = named_pairs(bench.points, pair_texts) if pair_texts else default_pairs(bench.points)
    metrics = {(p.record[R.BACKBONE], p.record.get(R.REFERENCE_SOURCE)) for pair in pairs for p in pair}
    if len(metrics) > 1:
        raise BenchError(f"these points were scored with different backbones or references ({sorted(metrics)}); "
                         "their FIDs cannot be compared")
    return [d for a, b in pairs for d in [*bench.compare(a, b, replicates=replicates),
                                          *cmmd_differences(bench, a, b, replicates)]]


def cmmd_differences(bench: StoredPoints, a: StoredPoint, b: StoredPoint, replicates: int) -> list[Difference]:
    """CMMD(a) - CMMD(b) with its interval where both points were scored with CMMD (the clip backbone): from the same
    stored features, paired where the points pair."""
    if not all(isinstance(p.record.get(R.CMMD), float) and p.record[R.CMMD] == p.record[R.CMMD] for p in (a, b)):
        return []
    paired = a.pairs_with(b)
    n = min(int(a.record[R.N]), int(b.record[R.N])) if paired else None
    return [cmmd_difference(bench.features(a, n), bench.features(b, n), (a.label, b.label), paired=paired,
                            replicates=replicates)]
