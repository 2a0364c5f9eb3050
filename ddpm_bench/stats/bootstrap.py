"""Uncertainty for FID and KID from a point's stored per-sample features where N x D is small (regime.py says where):
the basic (pivotal) bootstrap over sample indices, the reference statistics held fixed; and the features themselves
(``PointFeatures``), with the reference they are scored against (``Reference``), whatever the method.

- A replicate draws N sample indices with replacement, as multiplicities ``w`` (``w_i`` copies of sample i), and
  recomputes the metric from the weighted features. Duplicated samples make a replicate less diverse than real
  samples and bias FID upward, so the *percentile* interval (the replicates' own quantiles) would sit too high. The
  basic interval reflects the replicates about the estimate, ``[2 T - q_97.5, 2 T - q_2.5]``: the shift that
  resampling adds is subtracted once more, which removes the duplication bias to first order and targets the metric
  of the samplers' distributions rather than its finite-N expectation (calibrated on Gaussians of known Frechet
  distance in tests/test_stats.py). The estimate of that same quantity is ``2 T - median(replicates)``, which the
  basic interval always brackets (``Interval.estimate``).
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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from ddpm_bench.errors import BenchError
from ddpm_bench.stats import jackknife
from ddpm_bench.stats.compute import TILE, WORKERS, blas_threads, ensure_fits
from ddpm_bench.stats.kernels import Polynomial, kernel_mean
from ddpm_bench.stats.regime import BOOTSTRAP, JACKKNIFE, METHODS, method_for

CONFIDENCE = 0.95
EDGE_SDS = 2.0  # a bound this many Monte Carlo standard deviations from an interval's end: the verdict is at the edge
REFINE = 10  # an interval at the edge is drawn again with this many times the replicates
CHUNK = 25  # replicates per batched matrix product (memory: CHUNK x N x D floats)
# KID's cross term and the reference's kernel mean use at most this many reference features (an evenly strided, fixed
# subset of a larger reference): the cross term costs N times this many kernel values
KID_REFERENCE = 10_000


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
    def kid_features(self) -> Optional[np.ndarray]:
        """The reference features KID compares with: all of them up to ``KID_REFERENCE``, else every k-th."""
        if self.features is None:
            return None
        return self.features[:: -(-len(self.features) // KID_REFERENCE)]

    @functools.cached_property
    def kyy(self) -> float:
        """The reference's own kernel mean (off the diagonal) over ``kid_features``, in float32 tiles, built when KID
        first needs it: FID-only uses (the report's comparisons, the target search) never pay for it, and a sweep
        computes it once per reference (``remember``)."""
        features = self.kid_features
        name = "kid-reference-kernel-mean" + ("" if len(features) == len(self.features) else f"-of-{len(features)}")
        kernel = Polynomial.for_kid(features.shape[1])
        return float(self.remember(name, lambda: np.array(kernel_mean(features, kernel))))


class PointFeatures:
    """One point's features (N x D, sample-index order; an array or a memory map, kept as given, never copied whole
    to float64 but by the bootstrap) against a reference, and the method of its intervals: regime.py's rule for its
    N and D unless ``method`` names one (``bootstrap`` or ``jackknife``)."""

    def __init__(self, features: np.ndarray, reference: Reference, with_kid: bool = True,
                 method: Optional[str] = None):
        floating = getattr(features, "dtype", None) in (np.float32, np.float64)
        self.features = features if floating else np.asarray(features, dtype=np.float32)
        self.reference = reference
        self.n, self.d = self.features.shape
        if self.n < 2:
            raise BenchError(f"FID needs at least 2 generated images, got {self.n}")
        self.method = method or method_for(self.n, self.d)
        if self.method not in METHODS:
            raise ValueError(f"method {self.method!r} is not one of {', '.join(METHODS)}")
        self.with_kid = with_kid and reference.features is not None
        self._fid_replicates: dict[str, np.ndarray] = {}

    @functools.cached_property
    def x(self) -> np.ndarray:
        """The features in float64, for the bootstrap's weighted products (a small N x D: regime.py)."""
        ensure_fits(self.n * self.d * 8 * (CHUNK * WORKERS + 3), "the bootstrap's float64 copies of the features")
        return np.asarray(self.features, dtype=np.float64)

    @functools.cached_property
    def kernels(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The bootstrap's KID: the N x N kernel matrix, its diagonal, and each sample's mean kernel value with the
        reference's KID features."""
        ensure_fits(2 * self.n ** 2 * 8, f"the bootstrap's {self.n} x {self.n} kernel matrix")
        kernel, reference = Polynomial.for_kid(self.d), np.asarray(self.reference.kid_features, dtype=np.float64)
        kxx = kernel(self.x, self.x)
        kxy_mean = np.concatenate([kernel(self.x[start:start + TILE], reference).mean(axis=1)
                                   for start in range(0, self.n, TILE)])
        return kxx, np.diag(kxx).copy(), kxy_mean

    @functools.cached_property
    def fid_jackknife(self) -> jackknife.Jackknifed:
        """FID on all N samples and with each of the jackknife's blocks left out (jackknife.py)."""
        ref = self.reference
        return jackknife.fid_jackknife(self.features, ref.mu, ref.sigma, ref.sigma_sqrt)

    @functools.cached_property
    def kid_jackknife(self) -> Optional[jackknife.Jackknifed]:
        """KID likewise; None without reference features."""
        if not self.with_kid:
            return None
        ref = self.reference
        return jackknife.kid_jackknife(self.features, ref.kid_features, ref.kyy, Polynomial.for_kid(self.d),
                                       within_only=self.n > jackknife.ALL_PAIRS_MOST_N)

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
        kxx, kxx_diagonal, kxy_mean = self.kernels
        off_diagonal = ((weights @ kxx) * weights).sum(axis=1) - weights @ kxx_diagonal
        return off_diagonal / (self.n * (self.n - 1)) + self.reference.kyy - 2 * weights @ kxy_mean / self.n

    def estimates(self) -> dict:
        """FID and KID of the samples themselves (plug-in, at N): every weight 1, or the jackknife's full sample."""
        if self.method == JACKKNIFE:
            kid = self.kid_jackknife
            return {"fid": self.fid_jackknife.full, "kid": None if kid is None else kid.full}
        ones = np.ones((1, self.n))
        kid = self.kid(ones)
        return {"fid": float(self.fid(ones)[0]), "kid": None if kid is None else float(kid[0])}




def fd_infinity(point: PointFeatures, *, sizes: int = 8, repeats: int = 4, seed: int = 0) -> dict:
    """FD-infinity (Chong & Forsyth 2020, "Effectively Unbiased FID and Inception Score and where to find them",
    section 3): FID is, to first order, linear in 1/N, so FID is computed on random subsets (drawn without
    replacement) at ``sizes`` sizes from N/2 to N, ``repeats`` times each, a line is fitted to FID against 1/N,
    and its value at 1/N = 0 estimates the FID of infinitely many samples: the bias of finite N removed. Where the
    point's intervals come from the jackknife (regime.py), no subsets are drawn: the jackknife's estimate is that
    extrapolation from FID at N, at N - N/G and at N/2 (jackknife.py), and the slope is that of the line through the
    first two."""
    if point.method == JACKKNIFE:
        values = point.fid_jackknife
        kept = point.n - point.n / len(values.leave_out)
        slope = (values.leave_out.mean() - values.full) / (1 / kept - 1 / point.n)
        return {"fd_infinity": values.estimate, "fd_infinity_slope": float(slope)}
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
    """An interval, the Monte Carlo standard deviation of each end, the replicates drawn (the jackknife: its blocks,
    its ends exact), the estimate it brackets (the bootstrap: 2 T - median of the replicates), and the method."""

    low: float
    high: float
    low_noise: float
    high_noise: float
    replicates: int
    estimate: float
    method: str = BOOTSTRAP

    def at_edge(self, bound: float) -> bool:
        return at_edge(self.low, self.high, bound, self.low_noise, self.high_noise)


def decisive_interval(estimate: float, replicates_of: Callable[[int], np.ndarray], replicates: int,
                      confidence: float, bound: Optional[float]) -> Interval:
    """The basic interval of ``estimate`` from ``replicates_of(replicates)``, with 2 ``estimate`` - their median as the
    estimate it brackets; drawn again from ``replicates_of(REFINE * replicates)`` when ``bound`` (what the interval's
    verdict compares it with; None: no verdict) is at its edge. ``replicates_of(count)`` draws from the same seed
    whatever the count, so a point's interval does not depend on anything but its samples, the seed, and whether it
    was at the edge."""
    for count in (replicates, REFINE * replicates):
        values = replicates_of(count)
        interval = Interval(*basic_interval(estimate, values, confidence), *end_noise(values, confidence), count,
                            float(2 * estimate - np.median(values)))
        if bound is None or not interval.at_edge(bound):
            break
    return interval
