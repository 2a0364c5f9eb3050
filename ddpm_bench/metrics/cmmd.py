"""CMMD (Jayasumana et al. 2024, "Rethinking FID: Towards a Better Evaluation Metric for Image Generation"): the
squared maximum mean discrepancy between generated and reference images' CLIP embeddings (L2-normalised projected
image embeddings, as the ``clip`` backbone gives them) under the Gaussian RBF kernel
k(x, y) = exp(-||x - y||^2 / (2 sigma^2)) with bandwidth sigma = 10, scaled by 1,000.

The estimator is the unbiased MMD^2 (Gretton et al. 2012, eq. 3): the means of k(x_i, x_j) and k(y_i, y_j) over
i != j. The authors' code (google-research/cmmd, ``distance.mmd``) takes those means over every pair, the diagonal
k(x, x) = 1 included: a biased estimator, above the unbiased one by about 1,000 (1 - mean k(x, x')) / N + the same for
the reference, which does not vanish for two samples of one distribution and grows as N shrinks. So CMMDs here read
lower than the authors' at small N, and the same at large N.

Intervals are KID's (ddpm_bench.stats): the basic bootstrap over sample indices with the reference fixed, the unbiased
off-diagonal sum under multiplicities w being w^T K w - sum_i w_i K_ii; per point (ends below 0 raised to 0, as for
KID: MMD^2 is never negative) and paired between points that share their initial noise (``cmmd_difference``).
Calibrated in tests/test_backbone_cmmd.py on Gaussian features of known shift.
"""

from __future__ import annotations

import numpy as np

from ddpm_bench.stats import CONFIDENCE, REPLICATES, Difference, PointFeatures, decisive_interval
from ddpm_bench.stats.bootstrap import basic_interval, bootstrap_weights

SIGMA = 10.0  # the kernel bandwidth of the authors' code (_SIGMA)
SCALE = 1000.0  # the authors' scale (_SCALE): CMMD values of order 0.1 to 10


def rbf_kernel(x: np.ndarray, y: np.ndarray, sigma: float = SIGMA) -> np.ndarray:
    """exp(-||x - y||^2 / (2 sigma^2)) for every row pair of x and y."""
    squared = (x ** 2).sum(axis=1)[:, None] + (y ** 2).sum(axis=1)[None, :] - 2 * x @ y.T
    return np.exp(-np.clip(squared, 0, None) / (2 * sigma ** 2))


class CmmdPoint:
    """One point's CLIP embeddings against the reference's, ready for weighted recomputation (bootstrap replicates)."""

    def __init__(self, point: PointFeatures):
        reference = point.reference
        if reference.features is None:
            raise ValueError("CMMD needs the reference's features; imported mu/sigma statistics have none")
        self.n = point.n
        self.kxx = rbf_kernel(point.x, point.x)
        self.kxx_diagonal = np.diag(self.kxx).copy()
        self.kxy_mean = rbf_kernel(point.x, reference.features).mean(axis=1)

        def reference_mean() -> np.ndarray:
            k = rbf_kernel(reference.features, reference.features)
            m = len(k)
            return np.array((k.sum() - np.trace(k)) / (m * (m - 1)))

        self.kyy = float(reference.remember(f"cmmd-reference-kernel-mean-sigma{SIGMA:g}", reference_mean))

    def cmmd(self, weights: np.ndarray) -> np.ndarray:
        """1,000 x the unbiased MMD^2 for each row of ``weights`` (R x N multiplicities summing to N)."""
        off_diagonal = ((weights @ self.kxx) * weights).sum(axis=1) - weights @ self.kxx_diagonal
        mmd = off_diagonal / (self.n * (self.n - 1)) + self.kyy - 2 * weights @ self.kxy_mean / self.n
        return SCALE * mmd

    def estimate(self) -> float:
        return float(self.cmmd(np.ones((1, self.n)))[0])


def cmmd_scores(point: PointFeatures, *, replicates: int = REPLICATES, seed: int = 0,
                confidence: float = CONFIDENCE) -> dict:
    """A point's CMMD and its basic bootstrap interval (the same seed, and so the same index draws, as its KID's);
    nothing when the reference has no features."""
    if point.reference.features is None:
        return {}
    cmmd = CmmdPoint(point)
    estimate = cmmd.estimate()
    low, high = basic_interval(estimate, cmmd.cmmd(bootstrap_weights(point.n, replicates, np.random.default_rng(seed))),
                               confidence)
    return {"cmmd": estimate, "cmmd_low": max(0.0, low), "cmmd_high": max(0.0, high)}


def cmmd_difference(a: PointFeatures, b: PointFeatures, labels: tuple[str, str], *, paired: bool,
                    replicates: int = REPLICATES, seed: int = 0, confidence: float = CONFIDENCE,
                    bound: float | None = 0.0) -> Difference:
    """CMMD(a) - CMMD(b) with its interval, as ``ddpm_bench.stats.compare`` gives FID's and KID's: paired (one set of
    indices for both points, sample i of a weighed with sample i of b; equal N) or unpaired, drawn again with more
    replicates when ``bound`` is at an end (``decisive_interval``)."""
    if paired and a.n != b.n:
        raise ValueError(f"paired comparison needs equal N, got {a.n} and {b.n}")
    ca, cb = CmmdPoint(a), CmmdPoint(b)

    def differences(count: int) -> np.ndarray:
        rng = np.random.default_rng(seed)
        wa = bootstrap_weights(a.n, count, rng)
        wb = wa if paired else bootstrap_weights(b.n, count, rng)
        return ca.cmmd(wa) - cb.cmmd(wb)

    estimate = ca.estimate() - cb.estimate()
    interval = decisive_interval(estimate, differences, replicates, confidence, bound)
    return Difference(*labels, "cmmd", estimate, interval.low, interval.high, paired, min(a.n, b.n),
                      interval.low_noise, interval.high_noise, interval.replicates)
