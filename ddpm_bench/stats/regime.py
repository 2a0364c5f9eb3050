"""Which method gives a point's intervals, by a stated rule on its N and feature dimension D.

- ``bootstrap`` (bootstrap.py): the basic bootstrap over sample indices, 300 replicates (3,000 at the edge), each
  paying one N x D x D product and one D x D eigendecomposition, and KID over the N x N kernel matrix in memory. It is
  calibrated where few samples meet many features (N near 2 D: the default sweep's N = 256 with D = 128, whose FID is
  several times the true distance and whose bias is not linear in 1/N), so it is kept wherever it is affordable:
  when its ``REPLICATES`` replicates cost at most ``BOOTSTRAP_FLOPS`` (N D^2 + 10 D^3 floating-point operations each,
  the product and the eigendecomposition) and N is at most ``BOOTSTRAP_MOST_N`` (its KID holds an N x N float64
  matrix: 800 MB at 10,000). At D = 128 that is every N up to 10,000 (results/default, results/n1000: their
  intervals and verdicts are unchanged); at D = 2,048 no N (one replicate's eigendecomposition alone is 0.4 s here).
- ``jackknife`` (jackknife.py): the grouped jackknife over 20 blocks of sample indices everywhere else: one pass over
  the features and 23 eigendecompositions whatever the N, and KID from tiled kernel sums. Its bias correction removes
  the 1/N and 1/N^2 terms of FID's bias, which is right when N is large against D (calibrated at N / D = 80 for
  D = 128 and at N / D = 10 for D = 2,048: tests/test_stats_scale.py), not at N near D, where the bootstrap is kept
  wherever it is affordable; where it is not (N < 4 D at D = 2,048), a point's FID interval runs from 0 to FID at N
  (jackknife.TRUSTED_RATIO), honest but wide, while paired differences, whose biases cancel, keep the jackknife's.
  Figures: results/benchmarks/stats-scale-*.json.

The delta method (Rippl, Munk & Sturm 2016) would give the same first-order variance from one eigendecomposition,
but no bias correction, and its normal limit degenerates where two samplers are nearly equal, which is where
"as good as" is decided; the jackknife's variance comes from the data at every order.
"""

from __future__ import annotations

BOOTSTRAP, JACKKNIFE = "bootstrap", "jackknife"
METHODS = (BOOTSTRAP, JACKKNIFE)
BOOTSTRAP_FLOPS = 1e12  # about a minute of one core's eigendecompositions and products
BOOTSTRAP_MOST_N = 10_000
REPLICATES = 300


def method_for(n: int, d: int, replicates: int = REPLICATES) -> str:
    """The rule above: ``bootstrap`` or ``jackknife`` for N samples of D features."""
    cost = replicates * (n * d * d + 10 * d ** 3)
    return BOOTSTRAP if n <= BOOTSTRAP_MOST_N and cost <= BOOTSTRAP_FLOPS else JACKKNIFE
