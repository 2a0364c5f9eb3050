"""Kernel sums without an N x N matrix: the pieces of an MMD (KID's, CMMD's), summed tile by tile.

KID (Binkowski et al. 2018, "Demystifying MMD GANs") is the unbiased MMD^2 with the cubic polynomial kernel
k(x, y) = (x.y / D + 1)^3; CMMD (Jayasumana et al. 2024, "Rethinking FID") is an MMD^2 with a Gaussian RBF kernel on
CLIP embeddings. Both need sums of k over pairs of samples, which at N = 50,000 would be a 20 GB float64 matrix (and a
single numpy float32 product with a 30,000 x 30,000 output crashes OpenBLAS 0.3.31 here). So every product is a float32
tile of at most ``TILE`` x ``TILE`` (compute.py), each tile's kernel values summed per row in float32 (at most
``TILE`` terms, pairwise) and accumulated in float64.

Sums are kept per pair of index blocks (``bounds``: block g is rows bounds[g] to bounds[g + 1]): what a grouped
jackknife needs (jackknife.py), and, with ``within_only``, an incomplete U-statistic over the pairs inside each block
(Lee 1990, "U-statistics", ch. 4.3: unbiased, with the same first-order variance as the complete one).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from ddpm_bench.stats.compute import parallel, rows32, tiles


@dataclass(frozen=True)
class Polynomial:
    """k(x, y) = (gamma x.y + coef)^degree; KID's kernel is ``Polynomial.for_kid(D)``: degree 3, gamma 1/D, coef 1."""

    degree: int = 3
    gamma: float = 1.0
    coef: float = 1.0

    @classmethod
    def for_kid(cls, d: int) -> Polynomial:
        return cls(3, 1.0 / d, 1.0)

    def __call__(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """The kernel matrix of two tiles, in their dtype, computed in place on their product."""
        k = x @ y.T
        k *= self.gamma
        k += self.coef
        return k * k * k if self.degree == 3 else k ** self.degree


@dataclass(frozen=True)
class Gaussian:
    """k(x, y) = exp(-|x - y|^2 / (2 sigma^2)), the RBF kernel (CMMD: sigma = 10 on CLIP embeddings times 1000)."""

    sigma: float

    def __call__(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        k = x @ y.T
        k *= 2.0
        k -= (x * x).sum(axis=1)[:, None]
        k -= (y * y).sum(axis=1)[None, :]
        np.minimum(k, 0.0, out=k)  # minus a squared distance, never positive but for rounding
        k *= 1.0 / (2.0 * self.sigma ** 2)
        return np.exp(k, out=k)


Kernel = Callable[[np.ndarray, np.ndarray], np.ndarray]


def tile_sum(k: np.ndarray, diagonal: bool) -> float:
    """A tile's kernel values summed (rows in float32, their sums in float64), less its diagonal where the tile pairs
    its rows with themselves (a U-statistic leaves out i = j)."""
    total = float(k.sum(axis=1).sum(dtype=np.float64))
    return total - float(np.trace(k, dtype=np.float64)) if diagonal else total


def pair_sums(x: np.ndarray, bounds: np.ndarray, kernel: Kernel, within_only: bool = False
              ) -> tuple[np.ndarray, np.ndarray]:
    """G x G sums of k(x_i, x_j) over ordered pairs i != j with i in block g and j in block h, and the count of such
    pairs; ``within_only``: only pairs inside one block (the off-diagonal sums and counts 0). Only tiles on or above
    the diagonal are computed; k is symmetric."""
    parts = tiles(bounds)
    jobs = [(i, j) for i in range(len(parts)) for j in range(i, len(parts))
            if not within_only or parts[i][0] == parts[j][0]]

    def work(job: tuple[int, int]) -> float:
        (_, a, b), (_, c, e) = parts[job[0]], parts[job[1]]
        rows = rows32(x, a, b)
        return tile_sum(kernel(rows, rows if job[0] == job[1] else rows32(x, c, e)), job[0] == job[1])

    blocks = len(bounds) - 1
    sums = np.zeros((blocks, blocks))
    for (i, j), value in zip(jobs, parallel(work, jobs)):
        g, h = parts[i][0], parts[j][0]
        sums[g, h] += value
        if i != j:
            sums[h, g] += value
    sizes = np.diff(bounds).astype(np.float64)
    counts = np.outer(sizes, sizes) - np.diag(sizes)
    if within_only:
        counts = np.diag(np.diag(counts))
    return sums, counts


def cross_sums(x: np.ndarray, bounds: np.ndarray, y: np.ndarray, kernel: Kernel) -> np.ndarray:
    """Per block g, the sum of k(x_i, y_j) over i in block g and every row j of ``y``."""
    parts = tiles(bounds)
    y_parts = tiles(np.array([0, len(y)]))
    jobs = [(i, j) for i in range(len(parts)) for j in range(len(y_parts))]

    def work(job: tuple[int, int]) -> float:
        (_, a, b), (_, c, e) = parts[job[0]], y_parts[job[1]]
        return tile_sum(kernel(rows32(x, a, b), rows32(y, c, e)), False)

    sums = np.zeros(len(bounds) - 1)
    for (i, _), value in zip(jobs, parallel(work, jobs)):
        sums[parts[i][0]] += value
    return sums


def kernel_mean(x: np.ndarray, kernel: Kernel) -> float:
    """The mean of k(x_i, x_j) over i != j: the unbiased estimate of E k(X, X')."""
    sums, counts = pair_sums(x, np.array([0, len(x)]), kernel)
    return float(sums.sum() / counts.sum())


def mmd(x: np.ndarray, y: np.ndarray, kernel: Optional[Kernel] = None) -> float:
    """The unbiased MMD^2 between samples ``x`` and ``y`` (Gretton et al. 2012, eq. 3), in float32 tiles: KID with the
    default kernel (``Polynomial.for_kid``), CMMD with ``Gaussian(10.0)`` on scaled CLIP embeddings."""
    kernel = kernel or Polynomial.for_kid(x.shape[1])
    cross = cross_sums(x, np.array([0, len(x)]), y, kernel).sum() / (len(x) * len(y))
    return kernel_mean(x, kernel) + kernel_mean(y, kernel) - 2 * float(cross)
