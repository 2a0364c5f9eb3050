"""Statistics of a point's features: FID and KID with their bootstrap intervals, paired and unpaired differences with
verdicts, FD-infinity (``bootstrap``), and adaptive N (``adaptive``). The names below are the public API."""

from ddpm_bench.stats.bootstrap import (
                                        CONFIDENCE,
                                        REFINE,
                                        REPLICATES,
                                        Difference,
                                        Interval,
                                        PointFeatures,
                                        Reference,
                                        at_edge,
                                        compare,
                                        decisive_interval,
                                        fd_infinity,
                                        fid_interval,
                                        point_intervals,
)

__all__ = [
    "CONFIDENCE", "REFINE", "REPLICATES", "Difference", "Interval", "PointFeatures", "Reference", "at_edge", "compare",
    "decisive_interval", "fd_infinity", "fid_interval", "point_intervals",
]
