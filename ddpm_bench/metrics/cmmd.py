"""CMMD (Jayasumana et al. 2024, "Rethinking FID: Towards a Better Evaluation Metric for Image Generation"): the
squared maximum mean discrepancy between generated and reference images' CLIP embeddings (L2-normalised projected
image embeddings, as the ``clip`` backbone gives them) under the Gaussian RBF kernel
k(x, y) = exp(-||x - y||^2 / (2 sigma^2)) with bandwidth sigma = 10, scaled by 1,000.

The estimator is the unbiased MMD^2 (Gretton et al. 2012, eq. 3), ``ddpm_bench.stats``' KID with the kernel swapped
for ``Gaussian(10)``: the means of k(x_i, x_j) and k(y_i, y_j) over i != j. The authors' code (google-research/cmmd,
``distance.mmd``) takes those means over every pair, the diagonal k(x, x) = 1 included: a biased estimator, above the
unbiased one by about 1,000 (1 - mean k(x, x')) (1/N + 1/M) for N samples against M reference images, which does not
vanish for two samples of one distribution and grows as N shrinks. So CMMDs here read lower than the authors' at
small N, and the same at large N.

Intervals are KID's, by the method ``ddpm_bench.stats`` picks for the point's N and D: the basic bootstrap over sample
indices with the reference fixed (the off-diagonal sum under multiplicities w being w^T K w - sum_i w_i K_ii), or the
grouped jackknife from block-pair kernel sums where N x N kernels would not fit; per point (``cmmd``: the value at N;
``cmmd_estimate``: the estimate the interval brackets; ends and estimate below 0 raised to 0, as MMD^2 is never
negative) and between points, paired where they share their initial noise (``cmmd_difference``). Calibrated in
tests/test_backbone_cmmd.py on normalised Gaussian embeddings of known CMMD.
"""

from __future__ import annotations

import functools

import numpy as np

from ddpm_bench.stats import (
    CONFIDENCE,
    JACKKNIFE,
    REPLICATES,
    Difference,
    Gaussian,
    Interval,
    PointFeatures,
    Reference,
    decisive_interval,
    jackknife,
)
from ddpm_bench.stats.bootstrap import basic_interval, bootstrap_weights, end_noise
from ddpm_bench.stats.compute import TILE
from ddpm_bench.stats.kernels import kernel_mean

SIGMA = 10.0  # the kernel bandwidth of the authors' code (_SIGMA)
SCALE = 1000.0  # the authors' scale (_SCALE): CMMD values of order 0.1 to 10
KERNEL = Gaussian(SIGMA)


def reference_kernel_mean(reference: Reference) -> float:
    """The reference's own kernel mean over i != j (over KID's subset of a large reference), computed once per
    reference (``remember``: a sweep's disk cache)."""
    features = reference.kid_features
    name = f"cmmd-reference-kernel-mean-sigma{SIGMA:g}" + (
        "" if len(features) == len(reference.features) else f"-of-{len(features)}")
    return float(reference.remember(name, lambda: np.array(kernel_mean(features, KERNEL))))


class CmmdPoint:
    """One point's CLIP embeddings against the reference's, ready for its interval by the point's method."""

    def __init__(self, point: PointFeatures):
        if point.reference.features is None:
            raise ValueError("CMMD needs the reference's features; imported mu/sigma statistics have none")
        self.point = point
        self.kyy = reference_kernel_mean(point.reference)

    @functools.cached_property
    def kernels(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The bootstrap's N x N kernel matrix, its diagonal, and each sample's mean kernel value with the reference."""
        x, reference = self.point.x, np.asarray(self.point.reference.kid_features, dtype=np.float64)
        kxx = KERNEL(x, x)
        kxy_mean = np.concatenate([KERNEL(x[start : start + TILE], reference).mean(axis=1)
                                   for start in range(0, len(x), TILE)])
        return kxx, np.diag(kxx).copy(), kxy_mean

    def cmmd(self, weights: np.ndarray) -> np.ndarray:
        """1,000 x the unbiased MMD^2 for each row of ``weights`` (R x N multiplicities summing to N)."""
        n = self.point.n
        kxx, diagonal, kxy_mean = self.kernels
        off_diagonal = ((weights @ kxx) * weights).sum(axis=1) - weights @ diagonal
        return SCALE * (off_diagonal / (n * (n - 1)) + self.kyy - 2 * weights @ kxy_mean / n)

    @functools.cached_property
    def jackknifed(self) -> jackknife.Jackknifed:
        """1,000 x the unbiased MMD^2 on all N samples and with each block left out, from block-pair kernel sums."""
        point = self.point
        values = jackknife.kid_jackknife(point.features, point.reference.kid_features, self.kyy, KERNEL,
                                         within_only=point.n > jackknife.ALL_PAIRS_MOST_N)
        return jackknife.Jackknifed(SCALE * values.full, SCALE * values.leave_out)

    @property
    def at_n(self) -> float:
        """The plug-in CMMD of the N samples."""
        if self.point.method == JACKKNIFE:
            return self.jackknifed.full
        return float(self.cmmd(np.ones((1, self.point.n)))[0])

    def interval(self, replicates: int, seed: int, confidence: float) -> Interval:
        """The point's interval, not clipped, and the estimate it brackets."""
        if self.point.method == JACKKNIFE:
            estimate, low, high = jackknife.interval(self.jackknifed, confidence)
            return Interval(low, high, 0.0, 0.0, len(self.jackknifed.leave_out), estimate, JACKKNIFE)
        at_n = self.at_n
        values = self.cmmd(bootstrap_weights(self.point.n, replicates, np.random.default_rng(seed)))
        return Interval(*basic_interval(at_n, values, confidence), *end_noise(values, confidence), replicates,
                        float(2 * at_n - np.median(values)))


def cmmd_scores(point: PointFeatures, *, replicates: int = REPLICATES, seed: int = 0,
                confidence: float = CONFIDENCE) -> dict:
    """A point's CMMD at N, the estimate its interval brackets, and the interval (the bootstrap draws KID's indices:
    the same seed); nothing when the reference has no features (imported statistics)."""
    if point.reference.features is None:
        return {}
    cmmd = CmmdPoint(point)
    interval = cmmd.interval(replicates, seed, confidence)
    return {"cmmd": cmmd.at_n, "cmmd_estimate": max(0.0, interval.estimate), "cmmd_low": max(0.0, interval.low),
            "cmmd_high": max(0.0, interval.high)}


def cmmd_difference(a: PointFeatures, b: PointFeatures, labels: tuple[str, str], *, paired: bool,
                    replicates: int = REPLICATES, seed: int = 0, confidence: float = CONFIDENCE,
                    bound: float | None = 0.0) -> Difference:
    """CMMD(a) - CMMD(b) with its interval, as ``ddpm_bench.stats.compare`` gives FID's and KID's: paired (sample i of
    a weighed with sample i of b; equal N) or unpaired; by the jackknife where either point's method is the jackknife,
    else by the bootstrap, drawn again with more replicates when ``bound`` is at an end (``decisive_interval``)."""
    if paired and a.n != b.n:
        raise ValueError(f"paired comparison needs equal N, got {a.n} and {b.n}")
    ca, cb = CmmdPoint(a), CmmdPoint(b)
    if JACKKNIFE in (a.method, b.method):
        va, vb = ca.jackknifed, cb.jackknifed
        estimate, low, high = jackknife.difference_interval(va, vb, paired, confidence)
        return Difference(*labels, "cmmd", estimate, low, high, paired, min(a.n, b.n), 0.0, 0.0, len(va.leave_out),
                          va.full - vb.full, JACKKNIFE)

    def differences(count: int) -> np.ndarray:
        rng = np.random.default_rng(seed)
        wa = bootstrap_weights(a.n, count, rng)
        return ca.cmmd(wa) - cb.cmmd(wa if paired else bootstrap_weights(b.n, count, rng))

    at_n = ca.at_n - cb.at_n
    interval = decisive_interval(at_n, differences, replicates, confidence, bound)
    return Difference(*labels, "cmmd", interval.estimate, interval.low, interval.high, paired, min(a.n, b.n),
                      interval.low_noise, interval.high_noise, interval.replicates, at_n)
