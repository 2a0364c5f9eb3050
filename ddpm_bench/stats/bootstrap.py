"""Uncertainty for FID and KID from a point's stored per-sample features: 95 % intervals per point, and paired
comparisons between points whose sample i started from the same initial noise x_T.

Method: the basic (pivotal) bootstrap over sample indices, the reference statistics held fixed.

- A replicate draws N sample indices with replacement, as multiplicities ``w`` (``w_i`` copies of sample i), and
  recomputes the metric from the weighted features. Duplicated samples make a replicate less diverse than real
  samples and bias FID upward, so the *percentile* interval (the replicates' own quantiles) would sit too high. The
  basic interval reflects the replicates about the estimate, ``[2 T - q_97.5, 2 T - q_2.5]``: the shift that
  resampling adds is subtracted once more, which removes the duplication bias to first order and targets the metric
  of the samplers' distributions rather than its finite-N expectation (calibrated on Gaussians of known Frechet
  distance in tests/test_stats.py).
- Paired: one set of indices serves both points of a replicate, so sample i of A is always weighed with sample i of
  B. What both points share (the same x_T leads both samplers to nearly the same digit) cancels in the difference,
  and the interval narrows. Unpaired: each point draws its own indices (points of different seeds, N or models).
- A verdict follows from the interval of the difference: ``a better`` or ``b better`` when it excludes 0 (lower is
  better for both metrics), else ``tied``.
- Verdicts at the edge: B replicates place an interval's ends with a Monte Carlo error (``end_noise``). When the
  value a verdict reads the interval against (0 for a comparison, a target's bound) lies within ``EDGE_SDS`` such
  errors of an end, the verdict rests on the bootstrap's draws rather than on the samples, so the interval is drawn
  again with ``REFINE`` times the replicates, from the same seed (``decisive_interval``): the ends' error shrinks by
  sqrt(REFINE), and the verdict is that of the exact bootstrap interval unless the bound is closer still to its end;
  such a verdict stays flagged (``Difference.at_edge``).

FID per replicate (Heusel et al. 2017): ||mu - mu_r||^2 + Tr(S) + Tr(S_r) - 2 Tr((S_r^1/2 S S_r^1/2)^1/2), the last
trace from the eigenvalues of a symmetric matrix. KID (Binkowski et al. 2018) is computed over the whole sample
rather than torchmetrics' random subsets, as the unbiased MMD^2 with the cubic kernel k(x, y) = (x.y / d + 1)^3;
under weights the off-diagonal sum is w^T K w - sum_i w_i K_ii.
"""

from __future__ import annotations

import functools
import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np
from threadpoolctl import ThreadpoolController

from ddpm_bench.errors import BenchError

CONFIDENCE = 0.95
REPLICATES = 300
EDGE_SDS = 2.0  # a bound this many Monte Carlo standard deviations from an interval's end: the verdict is at the edge
REFINE = 10  # an interval at the edge is drawn again with this many times the replicates
CHUNK = 25  # replicates per batched matrix product (memory: CHUNK x N x D floats)
# chunks of replicates in parallel, one BLAS thread each: the cores this process may use (all of them where the
# platform cannot say, as macOS and Windows cannot)
WORKERS = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@dataclass(frozen=True)
class Reference:
    """The fixed side of every FID and KID: mean, covariance (and its square root), and the features for KID."""

    mu: np.ndarray
    sigma: np.ndarray
    features: Optional[np.ndarray] = None
    # remember(name, compute): where values derived from the reference may be cached (runs/scoring.py: the disk
    # cache, under the reference's key)
    remember: Callable[[str, Callable[[], np.ndarray]], np.ndarray] = lambda name, compute: compute()

    def __post_init__(self):
        values, vectors = np.linalg.eigh(self.sigma)
        object.__setattr__(self, "sigma_sqrt", (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T)

    @functools.cached_property
    def kyy(self) -> float:
        """The reference's own kernel mean (off the diagonal), built when KID first needs it: a 5,000 x 5,000 kernel
        that FID-only uses (the report's comparisons, the target search) never pay for, and that a sweep
        computes once per reference (``remember``)."""
        def compute() -> np.ndarray:
            k = kernel(self.features, self.features, self.features.shape[1])
            n = len(k)
            return np.array((k.sum() - np.trace(k)) / (n * (n - 1)))

        return float(self.remember("kid-reference-kernel-mean", compute))


def kernel(x: np.ndarray, y: np.ndarray, d: int) -> np.ndarray:
    """KID's cubic polynomial kernel, as torchmetrics and the KID paper use it."""
    return (x @ y.T / d + 1.0) ** 3


@functools.cache
def blas_threads() -> ThreadpoolController:
    """The thread pools of the BLAS and OpenMP libraries loaded by the first FID computed (numpy's, torch's), found
    once: ``threadpool_limits`` would look them up again on every call."""
    return ThreadpoolController()


class PointFeatures:
    """One point's features (N x D, sample-index order) against a reference, ready for weighted recomputation."""

    def __init__(self, features: np.ndarray, reference: Reference, with_kid: bool = True):
        self.x = np.asarray(features, dtype=np.float64)
        self.reference = reference
        self.n, self.d = self.x.shape
        if self.n < 2:
            raise BenchError(f"FID needs at least 2 generated images, got {self.n}")
        self.with_kid = with_kid and reference.features is not None
        self._fid_replicates: dict[str, np.ndarray] = {}
        if self.with_kid:
            self.kxx = kernel(self.x, self.x, self.d)
            self.kxx_diagonal = np.diag(self.kxx).copy()
            self.kxy_mean = kernel(self.x, reference.features, self.d).mean(axis=1)

    def fid(self, weights: np.ndarray) -> np.ndarray:
        """FID for each row of ``weights``: R x N multiplicities, each row summing to the size of the sample it stands
        for (N for a bootstrap replicate, m for a subset of m samples given as 0/1). Remembered per weight matrix: every
        paired comparison of a sweep draws the same indices (same seed), so a point's replicates are computed once
        however many points it is compared with."""
        key = hashlib.sha1(np.ascontiguousarray(weights).tobytes()).hexdigest() + str(weights.shape)
        if key not in self._fid_replicates:
            # one BLAS thread: the matrices are small (D x D), and BLAS threads spinning beside torch's own thread
            # pool on a 2-core machine made this 10x slower
            with blas_threads().limit(limits=1):
                self._fid_replicates[key] = self._fid(weights)
        return self._fid_replicates[key]

    def _fid(self, weights: np.ndarray) -> np.ndarray:
        """With Y = X S_r^1/2 computed once, S_r^1/2 S S_r^1/2 is the weighted covariance of Y, and Tr(S) the
        weighted mean squared distance to the mean: per replicate one N x D x D product and one eigendecomposition,
        instead of a centred copy of X and two D x D x D products. Chunks of replicates run on one thread per core
        (numpy releases the GIL in both)."""
        ref = self.reference
        y = self.x @ ref.sigma_sqrt
        squares = (self.x ** 2).sum(axis=1)
        trace_reference = np.trace(ref.sigma)

        def chunk(w: np.ndarray) -> np.ndarray:
            m = w.sum(axis=1)
            mu, mu_y = w @ self.x / m[:, None], w @ y / m[:, None]
            inner = (np.matmul((y[None] * w[:, :, None]).transpose(0, 2, 1), y)
                     - m[:, None, None] * mu_y[:, :, None] * mu_y[:, None, :]) / (m - 1)[:, None, None]
            trace = (w @ squares - m * (mu ** 2).sum(axis=1)) / (m - 1)
            root_trace = np.sqrt(np.clip(np.linalg.eigvalsh(inner), 0, None)).sum(axis=1)
            return ((mu - ref.mu) ** 2).sum(axis=1) + trace + trace_reference - 2 * root_trace

        parts = [weights[start : start + CHUNK] for start in range(0, len(weights), CHUNK)]
        if len(parts) == 1 or WORKERS == 1:
            return np.concatenate([chunk(w) for w in parts])
        with ThreadPoolExecutor(min(WORKERS, len(parts))) as pool:
            return np.concatenate(list(pool.map(chunk, parts)))

    def kid(self, weights: np.ndarray) -> Optional[np.ndarray]:
        """The unbiased MMD^2 over all N samples, for each row of ``weights`` (None without reference features)."""
        if not self.with_kid:
            return None
        off_diagonal = ((weights @ self.kxx) * weights).sum(axis=1) - weights @ self.kxx_diagonal
        return off_diagonal / (self.n * (self.n - 1)) + self.reference.kyy - 2 * weights @ self.kxy_mean / self.n

    def estimates(self) -> dict:
        """FID and KID of the samples themselves (every weight 1)."""
        ones = np.ones((1, self.n))
        kid = self.kid(ones)
        return {"fid": float(self.fid(ones)[0]), "kid": None if kid is None else float(kid[0])}


def fd_infinity(point: PointFeatures, *, sizes: int = 8, repeats: int = 4, seed: int = 0) -> dict:
    """FD-infinity (Chong & Forsyth 2020, "Effectively Unbiased FID and Inception Score and where to find them",
    section 3): FID is, to first order, linear in 1/N, so FID is computed on random subsets (drawn without
    replacement) at ``sizes`` sizes from N/2 to N, ``repeats`` times each, a line is fitted to FID against 1/N,
    and its value at 1/N = 0 estimates the FID of infinitely many samples: the bias of finite N removed."""
    rng = np.random.default_rng(seed)
    counts = np.unique(np.linspace(max(2, point.n // 2), point.n, sizes).astype(int))
    subsets = []
    for m in counts:
        for _ in range(repeats if m < point.n else 1):
            subset = np.zeros(point.n)
            subset[rng.choice(point.n, size=m, replace=False)] = 1.0
            subsets.append(subset)
    subsets = np.array(subsets)  # every subset as 0/1 weights: their FIDs in one batched computation
    slope, intercept = np.polyfit(1.0 / subsets.sum(axis=1), point.fid(subsets), 1)
    return {"fd_infinity": float(intercept), "fd_infinity_slope": float(slope)}


def bootstrap_weights(n: int, replicates: int, rng: np.random.Generator) -> np.ndarray:
    """R x N multiplicities of N indices drawn with replacement."""
    draws = rng.integers(0, n, size=(replicates, n))
    rows = np.arange(replicates)[:, None] * n  # one bincount over all rows: row r counts into r*n .. r*n+n-1
    return np.bincount((draws + rows).ravel(), minlength=replicates * n).reshape(replicates, n).astype(np.float64)


def basic_interval(estimate: float, replicates: np.ndarray, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """The basic bootstrap interval: the replicates' spread reflected about the estimate."""
    alpha = (1 - confidence) / 2
    low_q, high_q = np.quantile(replicates, [alpha, 1 - alpha])
    return float(2 * estimate - high_q), float(2 * estimate - low_q)


def end_noise(replicates: np.ndarray, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """The Monte Carlo standard deviation of the basic interval's (low, high) ends, from its B replicates: the
    p-quantile of B draws sits at a rank that varies as Binomial(B, p), one standard deviation sqrt(p (1 - p) / B) in
    probability, so an end moves by about half the spread of the replicates' quantiles one such step either side of
    its own (the order-statistic estimate). The low end comes from the upper quantile and the high end from the lower
    one. Checked against the spread over bootstrap seeds in tests/test_stats.py."""
    alpha = (1 - confidence) / 2
    step = np.sqrt(alpha * (1 - alpha) / len(replicates))
    below = np.quantile(replicates, [max(0.0, alpha - step), alpha + step])
    above = np.quantile(replicates, [1 - alpha - step, min(1.0, 1 - alpha + step)])
    return float(above[1] - above[0]) / 2, float(below[1] - below[0]) / 2


def at_edge(low: float, high: float, bound: float, low_noise: float, high_noise: float) -> bool:
    """Whether ``bound`` lies within ``EDGE_SDS`` Monte Carlo standard deviations (``end_noise``) of an end of the
    interval [low, high]: there a verdict that compares the interval with ``bound`` rests on the bootstrap's draws as
    much as on the samples, and another bootstrap seed could give another one. An end without Monte Carlo error (every
    replicate equal, as for two labels of one sampler, whose paired difference is 0 in every replicate) is exact
    wherever the bound lies: no seed can move it."""
    return abs(high - bound) < EDGE_SDS * high_noise or abs(low - bound) < EDGE_SDS * low_noise


@dataclass(frozen=True)
class Interval:
    """A basic bootstrap interval, the Monte Carlo standard deviation of each end, and the replicates drawn."""

    low: float
    high: float
    low_noise: float
    high_noise: float
    replicates: int

    def at_edge(self, bound: float) -> bool:
        return at_edge(self.low, self.high, bound, self.low_noise, self.high_noise)


def decisive_interval(estimate: float, replicates_of: Callable[[int], np.ndarray], replicates: int,
                      confidence: float, bound: Optional[float]) -> Interval:
    """The basic interval of ``estimate`` from ``replicates_of(replicates)``; drawn again from
    ``replicates_of(REFINE * replicates)`` when ``bound`` (what the interval's verdict compares it with; None: no
    verdict) is at its edge. ``replicates_of(count)`` draws from the same seed whatever the count, so a point's
    interval does not depend on anything but its samples, the seed, and whether it was at the edge."""
    for count in (replicates, REFINE * replicates):
        values = replicates_of(count)
        interval = Interval(*basic_interval(estimate, values, confidence), *end_noise(values, confidence), count)
        if bound is None or not interval.at_edge(bound):
            break
    return interval


def fid_interval(point: PointFeatures, *, replicates: int = REPLICATES, seed: int = 0,
                 confidence: float = CONFIDENCE, bound: Optional[float] = None) -> Interval:
    """The basic bootstrap interval of the point's FID, not clipped; ``bound``: the FID it will be read against (a
    target), where it is drawn again with more replicates when at its edge (``decisive_interval``)."""
    def replicates_of(count: int) -> np.ndarray:
        return point.fid(bootstrap_weights(point.n, count, np.random.default_rng(seed)))

    return decisive_interval(point.estimates()["fid"], replicates_of, replicates, confidence, bound)


def point_intervals(point: PointFeatures, *, replicates: int = REPLICATES, seed: int = 0,
                    confidence: float = CONFIDENCE) -> dict:
    """FID and KID of one point with their 95 % intervals. Both metrics estimate a squared distance, which is never
    negative, so an end below 0 is raised to 0 (coverage is kept): the unbiased KID of real data is as often below 0
    as above, and its interval is then [0, 0] or [0, high] rather than an upper end below the lower. ``confidence``
    above 95 % serves adaptive N (adaptive.py), which splits its error rate over several looks. Calibration
    (tests/test_stats.py): at the stated rate when N is large against the feature dimension D; conservative (wider
    than needed, covering more often than 95 %) when N is near 2 D, as in the default sweep (N = 256, D = 128)."""
    estimate = point.estimates()
    fid = fid_interval(point, replicates=replicates, seed=seed, confidence=confidence)
    result = {"fid": estimate["fid"], "fid_low": max(0.0, fid.low), "fid_high": max(0.0, fid.high),
              "fid_low_noise": fid.low_noise, "fid_high_noise": fid.high_noise,
              "kid": estimate["kid"], "kid_low": None, "kid_high": None}
    if estimate["kid"] is not None:
        weights = bootstrap_weights(point.n, replicates, np.random.default_rng(seed))
        low, high = basic_interval(estimate["kid"], point.kid(weights), confidence)
        result["kid_low"], result["kid_high"] = max(0.0, low), max(0.0, high)
    return result


@dataclass(frozen=True)
class Difference:
    """metric(a) - metric(b), its interval, and what it says."""

    a: str
    b: str
    metric: str
    difference: float
    low: float
    high: float
    paired: bool
    n: int
    low_noise: float = 0.0  # the Monte Carlo standard deviation of each end (end_noise)
    high_noise: float = 0.0
    replicates: int = REPLICATES

    @property
    def verdict(self) -> str:
        if self.high < 0:
            return "a better"
        if self.low > 0:
            return "b better"
        return "tied"

    def at_edge(self, bound: float = 0.0) -> bool:
        """Whether ``bound`` (0: the verdict's) lies within Monte Carlo error of an end even after the interval was
        drawn again: a verdict against it could go either way with another bootstrap seed."""
        return at_edge(self.low, self.high, bound, self.low_noise, self.high_noise)

    @property
    def width(self) -> float:
        return self.high - self.low

    def to_dict(self) -> dict:
        return {"a": self.a, "b": self.b, "metric": self.metric, "difference": self.difference, "low": self.low,
                "high": self.high, "paired": self.paired, "n": self.n, "verdict": self.verdict,
                "low_noise": self.low_noise, "high_noise": self.high_noise, "replicates": self.replicates,
                "edge": self.at_edge()}


def compare(a: PointFeatures, b: PointFeatures, labels: tuple[str, str], *, paired: bool,
            replicates: int = REPLICATES, seed: int = 0, confidence: float = CONFIDENCE,
            metrics: tuple[str, ...] = ("fid", "kid"), bound: Optional[float] = 0.0) -> list[Difference]:
    """FID(a) - FID(b) and KID(a) - KID(b) with intervals at ``confidence`` (95 %); paired resampling needs equal N
    (sample i of a matched with sample i of b). ``bound``: what the verdict compares the interval with (0; a target
    search's margin), where an interval at its edge is drawn again with more replicates (``decisive_interval``);
    None for an interval no verdict is read from."""
    if paired and a.n != b.n:
        raise ValueError(f"paired comparison needs equal N, got {a.n} and {b.n}")

    @functools.lru_cache(maxsize=None)
    def weights(count: int) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng(seed)
        wa = bootstrap_weights(a.n, count, rng)
        return wa, wa if paired else bootstrap_weights(b.n, count, rng)

    ea, eb = a.estimates(), b.estimates()
    out = []
    for metric, compute in (("fid", lambda p, w: p.fid(w)), ("kid", lambda p, w: p.kid(w))):
        if metric not in metrics or ea[metric] is None or eb[metric] is None:
            continue

        def differences(count: int, compute=compute) -> np.ndarray:
            wa, wb = weights(count)
            return compute(a, wa) - compute(b, wb)

        estimate = ea[metric] - eb[metric]
        interval = decisive_interval(estimate, differences, replicates, confidence, bound)
        out.append(Difference(*labels, metric, estimate, interval.low, interval.high, paired, min(a.n, b.n),
                              interval.low_noise, interval.high_noise, interval.replicates))
    return out
