"""Statistics of a point's features: FID and KID with their intervals, paired and unpaired differences with
verdicts, FD-infinity (``bootstrap``), adaptive N (``adaptive``), and MMD kernel sums in bounded memory
(``kernels``: ``mmd`` with KID's ``Polynomial`` kernel by default or a ``Gaussian`` RBF one). The intervals come from
the basic bootstrap where N x D is small and from a grouped jackknife elsewhere, by the rule in ``regime``; both
estimate the metric of the sampler's distribution, not its value at N. The names below are the public API."""

from ddpm_bench.stats.bootstrap import (
                                        CONFIDENCE,
                                        REFINE,
                                        Interval,
                                        PointFeatures,
                                        Reference,
                                        at_edge,
                                        decisive_interval,
                                        fd_infinity,
)
from ddpm_bench.stats.intervals import Difference, compare, fid_interval, point_intervals
from ddpm_bench.stats.kernels import Gaussian, Kernel, Polynomial, mmd
from ddpm_bench.stats.regime import BOOTSTRAP, JACKKNIFE, REPLICATES, method_for

__all__ = [
    "BOOTSTRAP", "CONFIDENCE", "JACKKNIFE", "REFINE", "REPLICATES", "Difference", "Gaussian", "Interval", "Kernel",
    "PointFeatures", "Polynomial", "Reference", "at_edge", "compare", "decisive_interval", "fd_infinity",
    "fid_interval", "method_for", "mmd", "point_intervals",
]
