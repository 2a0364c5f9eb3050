"""Precision, recall, density and coverage (Naeem et al. 2020, "Reliable Fidelity and Diversity Metrics for
Generative Models", section 3): k-nearest-neighbour balls in the backbone's feature space, so that a low FID bought
with low diversity shows (high precision and density, low recall and coverage).

Real features X (the reference, M of them) and generated features Y (N), NND_k(x) the distance from x to its k-th
nearest neighbour within its own set, B(x, r) the closed ball:
- precision = (1/N) sum_j 1[exists i: Y_j in B(X_i, NND_k(X_i))]              (eq. 1, Kynkaanniemi et al. 2019)
- recall    = (1/M) sum_i 1[exists j: X_i in B(Y_j, NND_k(Y_j))]              (eq. 2)
- density   = (1/(k N)) sum_j sum_i 1[Y_j in B(X_i, NND_k(X_i))]              (eq. 3)
- coverage  = (1/M) sum_i 1[exists j: Y_j in B(X_i, NND_k(X_i))]              (eq. 4)
with k = 5, the paper's choice. The reference's radii come from the authors' ``prdc`` package, once per reference
(cached) rather than once per point; a point's distances are computed here as prdc's (scikit-learn's) are, without
importing scikit-learn (its import costs more than a small sweep's PRDC). tests/test_manifold.py checks the four values
against ``prdc.compute_prdc`` and the distances against scikit-learn's. Recall and coverage depend on N: compare them
between points of the same N.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from ddpm_bench.store import records as R

NEAREST_K = 5


class RealManifold:
    """The reference's features and their k-NN radii, ready to score any number of points."""

    def __init__(self, real_features: np.ndarray, nearest_k: int = NEAREST_K,
                 remember: Callable = lambda compute: compute()):
        """``remember(compute)``: where the radii (all pairs of reference features: seconds) may be cached."""
        self.real = np.asarray(real_features, dtype=np.float32)
        self.k = nearest_k
        self.radii = remember(self._radii)

    def _radii(self) -> np.ndarray:
        from prdc.prdc import compute_nearest_neighbour_distances

        return compute_nearest_neighbour_distances(self.real, self.k)

    def scores(self, fake_features: np.ndarray) -> dict:
        """The four values (eqs. 1-4) for one point's features, under their record field names; none for fewer
        than k + 2 samples (a sample's k-th neighbour among the others needs k others besides itself)."""
        fake = np.asarray(fake_features, dtype=np.float32)
        if len(fake) < self.k + 2:
            return {}
        # the k-th nearest other sample: the (k+1)-th smallest distance, the sample itself (0) the first, as prdc's
        # get_kth_value(distances, k + 1) takes it
        fake_radii = np.partition(pairwise_distances(fake, fake), self.k, axis=-1)[:, self.k]
        distance = pairwise_distances(self.real, fake)  # M x N
        inside_real_balls = distance < self.radii[:, None]
        return {
            R.PRDC_PRECISION: float(inside_real_balls.any(axis=0).mean()),
            R.PRDC_RECALL: float((distance < fake_radii[None, :]).any(axis=1).mean()),
            R.PRDC_DENSITY: float(inside_real_balls.sum(axis=0).mean() / self.k),
            R.PRDC_COVERAGE: float((distance.min(axis=1) < self.radii).mean()),
            "prdc_k": self.k,
        }


def pairwise_distances(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Euclidean distances between the rows of float32 ``x`` and ``y`` as ``prdc`` computes them, through
    scikit-learn's ``pairwise_distances`` (float32 inputs): ||x||^2 + ||y||^2 - 2 x.y in float64, rounded to float32,
    clipped at 0, square root; a row's distance to itself is 0 when ``x`` is ``y``. Computed here rather than by prdc,
    which asks for 8 parallel jobs whose start-up costs several times a point's distances, for the same numbers."""
    x64, y64 = x.astype(np.float64), y.astype(np.float64)
    squared = -2 * (x64 @ y64.T)
    squared += np.einsum("ij,ij->i", x64, x64)[:, None]
    squared += np.einsum("ij,ij->i", y64, y64)[None, :]
    distances = np.sqrt(np.maximum(squared.astype(np.float32), 0))
    if x is y:
        np.fill_diagonal(distances, 0)
    return distances
