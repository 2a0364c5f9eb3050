"""The grouped jackknife of FID and KID: intervals whose cost does not multiply N x D^2 by a replicate count.

The N samples are split by index into ``BLOCKS`` contiguous blocks (samples are exchangeable in their index: sample i
depends on (seed, i) alone). The statistic T is computed on all N samples and on each of the G leave-one-block-out
sets, T_(g); the pseudo-values G T - (G - 1) T_(g) (Efron & Tibshirani 1993, "An Introduction to the Bootstrap",
ch. 11; Quenouille's bias correction) have a mean that removes the first-order (1/N) bias of T, and a spread that
estimates its variance. The interval is that mean plus and minus the t quantile with G - 1 degrees of freedom times
the standard error. Plug-in FID's bias is a multiple of 1/N to first order (Chong & Forsyth 2020, "Effectively
Unbiased FID and Inception Score and where to find them"), and large at D = 2,048: on Gaussians with a flat spectrum
at N = 50,000 it reads 22 where the Frechet distance is 1.25, the jackknife 1.14. The first-order jackknife estimate
is the line through (1/N, T) and (1/(N - N/G), mean T_(g)) read at 1/N = 0, FD-infinity's extrapolation from two
sizes; where the statistic on the two halves is at hand (FID) the estimate is the quadratic in 1/n through N, N - N/G
and N/2 read at 0 (``Jackknifed.estimate``), since the first order alone missed at D = 2,048; the standard error stays
the pseudo-values'.

Paired comparisons use the same blocks for both points (sample i of both from the same x_T), so the pseudo-values of
the difference are the differences of the pseudo-values, and what both points share cancels; unpaired, the two
variances add. Nothing is drawn at random: the ends carry no Monte Carlo error (``end_noise`` is 0), so an interval is
never "at the edge" and never redrawn.

FID (Heusel et al. 2017) as the Frechet distance of two Gaussians, whose plug-in estimate is asymptotically normal by
the delta method (Rippl, Munk & Sturm 2016, "Limit laws of the empirical Wasserstein distance: Gaussian
distributions"); the jackknife estimates the same variance without differentiating the matrix square root, and
corrects the bias too. Cost: one pass over the features (centred on the reference mean in float32, multiplied by
S_r^1/2 and accumulated per block in float64 Gram matrices) and G + 1 symmetric eigendecompositions of D x D.
KID: the block-pair sums of the kernel (kernels.py), from which every leave-out U-statistic follows exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
import scipy.stats

from ddpm_bench.stats.compute import WORKERS, ensure_fits, parallel, rows32, tiles
from ddpm_bench.stats.kernels import Kernel, cross_sums, pair_sums

BLOCKS = 20
# KID over all pairs of samples up to this N (2 x 10^8 kernel values); above it over the pairs inside each block, an
# incomplete U-statistic (kernels.py) whose cost grows as N, not N^2: 1.25 x 10^8 values at N = 50,000
ALL_PAIRS_MOST_N = 20_000
# the extrapolation in 1/N is trusted from N = this times D; below it (N = 2,000 at D = 2,048 reads below 0, N = 2 D at
# D = 64 far above the distance) a point's FID interval is widened to run from 0 to FID at N (intervals.fid_interval);
# differences, whose biases cancel, are not
TRUSTED_RATIO = 4
METHOD = "jackknife"


def block_bounds(n: int, blocks: int = BLOCKS) -> np.ndarray:
    """The first index of each of ``blocks`` contiguous blocks of near-equal size, and N."""
    return np.linspace(0, n, min(blocks, n) + 1).astype(int)


@dataclass(frozen=True)
class Jackknifed:
    """A statistic on all N samples, with each block left out, and (FID) on each half of the blocks."""

    full: float
    leave_out: np.ndarray
    halves: Optional[np.ndarray] = None

    @property
    def estimate(self) -> float:
        """The bias-corrected estimate: the pseudo-values' mean (first order), or, with ``halves``, the quadratic in
        1/n through the statistic at N, at N - N/G (the leave-outs' mean) and at N/2 (the halves' mean), read at
        1/n = 0 (Richardson extrapolation; Schucany, Gray & Owen 1971's second-order jackknife). FID's bias at
        D = 2,048 is so large (55.9 at N = 20,000 for a distance of 1.64, flat spectrum) that the 1/N^2 term left by
        the first-order correction (0.80 there) is many standard errors."""
        g = len(self.leave_out)
        if self.halves is None:
            return float(g * self.full - (g - 1) * self.leave_out.mean())
        x = np.array([1.0, g / (g - 1), 2.0])  # 1/n in units of 1/N
        values = np.array([self.full, self.leave_out.mean(), self.halves.mean()])
        weights = [np.prod([x[j] / (x[j] - x[i]) for j in range(3) if j != i]) for i in range(3)]
        return float(np.dot(weights, values))

    @property
    def pseudo(self) -> np.ndarray:
        """The pseudo-values G T - (G - 1) T_(g), shifted to have ``estimate`` as their mean: the extrapolation
        changes the estimate by terms of order 1/N, its variance only at higher order."""
        g = len(self.leave_out)
        pseudo = g * self.full - (g - 1) * self.leave_out
        return pseudo + (self.estimate - pseudo.mean())

    def __sub__(self, other: Jackknifed) -> Jackknifed:
        """The statistic's difference between two points over the same blocks (paired)."""
        halves = None if self.halves is None or other.halves is None else self.halves - other.halves
        return Jackknifed(self.full - other.full, self.leave_out - other.leave_out, halves)


def t_interval(pseudo: np.ndarray, variance: float, confidence: float) -> tuple[float, float, float]:
    """(estimate, low, high): the pseudo-values' mean and its t interval with len - 1 degrees of freedom, whose
    standard error is sqrt(``variance``)."""
    estimate = float(pseudo.mean())
    half = float(scipy.stats.t.ppf((1 + confidence) / 2, len(pseudo) - 1) * np.sqrt(variance))
    return estimate, estimate - half, estimate + half


def interval(values: Jackknifed, confidence: float) -> tuple[float, float, float]:
    """(estimate, low, high) of one statistic."""
    pseudo = values.pseudo
    return t_interval(pseudo, pseudo.var(ddof=1) / len(pseudo), confidence)


def difference_interval(a: Jackknifed, b: Jackknifed, paired: bool, confidence: float
                        ) -> tuple[float, float, float]:
    """(estimate, low, high) of statistic(a) - statistic(b): paired, the pseudo-values' differences (the same blocks
    of the same sample indices); unpaired, the two standard errors added in quadrature, with the smaller degrees of
    freedom (conservative beside Welch's)."""
    if paired:
        return interval(a - b, confidence)
    pa, pb = a.pseudo, b.pseudo
    variance = pa.var(ddof=1) / len(pa) + pb.var(ddof=1) / len(pb)
    shorter = pa if len(pa) <= len(pb) else pb
    estimate, low, high = t_interval(shorter, variance, confidence)
    shift = float(pa.mean() - pb.mean()) - estimate
    return estimate + shift, low + shift, high + shift


@dataclass(frozen=True)
class BlockMoments:
    """Per block: sample count, sum and sum of squares of z = x - centre, and the Gram matrix of y = z S_r^1/2."""

    counts: np.ndarray
    sums: np.ndarray
    squares: np.ndarray
    grams: np.ndarray
    centre: np.ndarray  # the float32 centre, as float64


def block_moments(x: np.ndarray, bounds: np.ndarray, centre: np.ndarray, root: np.ndarray) -> BlockMoments:
    """One pass over ``x`` in float32 tiles: centred on ``centre`` (the reference mean: what is left to cancel in the
    covariance is the small mu - mu_r), multiplied by ``root`` (S_r^1/2), Gram matrices accumulated in float64."""
    d, blocks = x.shape[1], len(bounds) - 1
    # the blocks' Gram matrices, their total, and per thread a leave-out's, its covariance and LAPACK's workspace
    ensure_fits((blocks + 1 + 3 * WORKERS) * d * d * 8, f"the jackknife's {blocks} Gram matrices of {d} x {d}")
    centre32, root32 = centre.astype(np.float32), root.astype(np.float32)
    grams, sums, squares = np.zeros((blocks, d, d)), np.zeros((blocks, d)), np.zeros(blocks)

    def work(block: int) -> None:
        for _, start, stop in (t for t in tiles(bounds) if t[0] == block):
            z = rows32(x, start, stop) - centre32
            y = z @ root32
            grams[block] += y.T @ y
            sums[block] += z.sum(axis=0, dtype=np.float64)
            squares[block] += float(np.einsum("ij,ij->", z, z, dtype=np.float64))

    parallel(work, range(blocks))  # each block written by one thread
    return BlockMoments(np.diff(bounds).astype(np.float64), sums, squares, grams, centre32.astype(np.float64))


def fid_of(count: float, z_sum: np.ndarray, squares: float, gram: np.ndarray, centre: np.ndarray,
           reference: tuple[np.ndarray, float, np.ndarray]) -> float:
    """FID of ``count`` samples from their moments (BlockMoments' summed over the blocks kept): ||mu - mu_r||^2 +
    Tr(S) + Tr(S_r) - 2 Tr((S_r^1/2 S S_r^1/2)^1/2), where S_r^1/2 S S_r^1/2 is the covariance of y and the trace of
    its square root the sum of the square roots of its eigenvalues. ``reference``: mu_r, Tr(S_r), float32 S_r^1/2."""
    mu, trace_reference, root32 = reference
    z_mean = z_sum / count
    y_mean = z_mean @ root32.astype(np.float64)
    inner = (gram - count * np.outer(y_mean, y_mean)) / (count - 1)
    trace = (squares - count * z_mean @ z_mean) / (count - 1)
    root_trace = np.sqrt(np.clip(np.linalg.eigvalsh(inner), 0, None)).sum()
    shift = z_mean + centre - mu
    return float(shift @ shift + trace + trace_reference - 2 * root_trace)


def fid_jackknife(x: np.ndarray, mu: np.ndarray, sigma: np.ndarray, root: np.ndarray) -> Jackknifed:
    """FID on all samples, with each block left out (its moments subtracted from the totals) and on each half of the
    blocks; the G + 3 eigendecompositions on one thread per core."""
    bounds = block_bounds(len(x))
    moments = block_moments(x, bounds, mu, root)
    parts = (moments.counts, moments.sums, moments.squares, moments.grams)
    totals = tuple(part.sum(axis=0) for part in parts)
    reference = (mu, float(np.trace(sigma)), root.astype(np.float32))
    blocks = len(bounds) - 1

    def fid(job: tuple[int, int]) -> float:
        """(g, -1): block g left out (-1: none); (start, stop): blocks start..stop-1 alone (sums of views)."""
        start, stop = job
        if stop >= 0:
            kept = tuple(part[start:stop].sum(axis=0) for part in parts)
        else:
            kept = totals if start < 0 else tuple(total - part[start] for total, part in zip(totals, parts))
        return fid_of(*kept, moments.centre, reference)

    jobs = [(g, -1) for g in range(-1, blocks)] + [(0, blocks // 2), (blocks // 2, blocks)]
    values = parallel(fid, jobs)
    return Jackknifed(values[0], np.array(values[1:blocks + 1]), np.array(values[blocks + 1:]))


def kid_jackknife(x: np.ndarray, reference: np.ndarray, reference_mean: float, kernel: Kernel,
                  within_only: bool) -> Jackknifed:
    """KID = mean_{i != j} k(x_i, x_j) + E k(y, y') - 2 mean k(x_i, y_j) on all samples and with each block left out,
    from the block-pair sums of k; ``within_only``: the first term over the pairs inside each block alone."""
    bounds = block_bounds(len(x))
    sums, counts = pair_sums(x, bounds, kernel, within_only)
    cross = cross_sums(x, bounds, reference, kernel)
    sizes = np.diff(bounds).astype(np.float64)

    def kid(keep: np.ndarray) -> float:
        within = sums[np.ix_(keep, keep)].sum() / counts[np.ix_(keep, keep)].sum()
        return float(within + reference_mean - 2 * cross[keep].sum() / (sizes[keep].sum() * len(reference)))

    blocks = len(sizes)
    return Jackknifed(kid(np.ones(blocks, bool)), np.array([kid(np.arange(blocks) != g) for g in range(blocks)]))
