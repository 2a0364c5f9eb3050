"""Adaptive N: as many samples as a decision needs, and no false verdicts gained by looking more than once.

A point starts with ``start`` samples. While its test (a quality target, a comparison) is undecided, its sample range
is extended to the next size (indices N..2N-1: sample i depends on (seed, i) alone, so the earlier samples are part
of the larger sample and nothing is drawn twice), up to ``most``. Each look at the data is one more chance of a false
verdict: with K looks planned, each look's interval is taken at confidence 1 - alpha / K (Bonferroni over the looks),
so the chance that any look errs is at most alpha whatever the dependence between looks. Group-sequential boundaries
(Pocock 1977; O'Brien & Fleming 1979) spend less at the early looks, but they assume normal test statistics; the
union bound assumes nothing about the bootstrap, and with K = 3 it costs little (98.3 % intervals instead of 95 %).
A verdict at the edge (its bound within the bootstrap's Monte Carlo error of an interval's end even when drawn again:
``stats.at_edge``) rests on the bootstrap's draws rather than on the samples, so while a larger N remains it counts as
undecided and the point gets more samples (``looks_again``); the union bound holds whatever decides when to stop.
Calibrated in tests/test_adaptive.py: two identical samplers compared with adaptive N are called different in at
most 5 % of trials, where looking three times at 95 % would call them different more often.
"""

from __future__ import annotations

import math
from typing import Callable, Optional

from ddpm_bench.stats.bootstrap import CONFIDENCE, REFINE, PointFeatures, Reference
from ddpm_bench.stats.intervals import Difference, compare
from ddpm_bench.stats.regime import REPLICATES

ALPHA = 1 - CONFIDENCE
MET, NOT_MET, UNDECIDED, FAILED = "met", "not met", "undecided", "failed"
OUT_OF_REACH = "out of reach"  # undecided at the largest N, and more steps cannot narrow the interval (target.py)
EDGE_REASON = ("the bound is within the bootstrap's Monte Carlo error of the interval's end even with the interval "
               f"drawn again from {REFINE} times the replicates, so another bootstrap seed could decide otherwise")
EDGE_TEXT = f"at the edge: {EDGE_REASON}"
# a paired interval narrower than this share of the unpaired one: the pairing is doing work, and a match is not out of
# reach. Samples that do not follow their x_T pair as unpaired ones do (DDPM-1000 with DDIM or PNDM: 0.93 to 0.95);
# a poor candidate paired with a deterministic point narrows less than a good one (PNDM-5 with DDIM-100 at N = 512:
# 0.52, which 0.5 took for out of reach, ending a search that reaches the target at 14: target-match-ddim100-n512)
PAIRING_HELPS = 0.8
# bootstrap replicates beyond each end of an interval (7.5): as many as a 95 % interval's 300 have, so that a look at
# 95 % draws the very replicates (and gives the very interval) of the point's record, and a look at higher
# confidence has as many replicates in its tails
TAIL_REPLICATES = REPLICATES * ALPHA / 2


def sample_sizes(start: int, most: int) -> list[int]:
    """The N of each look: ``start``, doubling, the last one ``most`` itself."""
    if start > most:
        raise ValueError(f"the first sample size {start} is larger than the largest {most}")
    sizes = [start]
    while sizes[-1] < most:
        sizes.append(min(2 * sizes[-1], most))
    return sizes


def look_confidence(looks: int, alpha: float = ALPHA) -> float:
    """The confidence of each look's interval when ``looks`` looks share the error rate ``alpha`` (Bonferroni)."""
    return 1 - alpha / looks


def replicates_for(confidence: float) -> int:
    """Bootstrap replicates enough for an interval at ``confidence``: at least ``TAIL_REPLICATES`` beyond each end
    (rounded first, so that float error does not add a replicate: 95 % gives exactly 300)."""
    return max(REPLICATES, math.ceil(round(TAIL_REPLICATES / ((1 - confidence) / 2), 6)))


def decide(test: Callable[[int, float], str], sizes: list[int], alpha: float = ALPHA) -> tuple[str, int]:
    """Run ``test(n, confidence)`` at each size until it returns something other than ``UNDECIDED``; returns that
    outcome (``UNDECIDED`` when even the largest size did not decide) and the N it was reached at."""
    confidence = look_confidence(len(sizes), alpha)
    for n in sizes:
        outcome = test(n, confidence)
        if outcome != UNDECIDED:
            return outcome, n
    return UNDECIDED, sizes[-1]


def looks_again(edge: bool, n: int, sizes: list[int]) -> bool:
    """Whether a verdict reached at ``n`` samples is left for a larger N: it is at the edge and a larger N remains."""
    return edge and n < sizes[-1]


def interval_outcome(low: float, high: float, bound: float) -> str:
    """A quantity with interval [low, high] against the most it may be: ``MET`` when the whole interval is at most
    ``bound``, ``NOT_MET`` when the whole interval is above it, else ``UNDECIDED``."""
    if high <= bound:
        return MET
    if low > bound:
        return NOT_MET
    return UNDECIDED


def paired_fid_look(a, b, n: int, reference: Reference, confidence: float, labels=("a", "b"), *,
                    paired: bool = True, bound: Optional[float] = 0.0) -> Difference:
    """One look at FID(a) - FID(b) over the first ``n`` samples of both (sample i of both from the same x_T), its
    interval at ``confidence`` with ``replicates_for`` it, drawn again with more where ``bound`` (0, or a match's
    margin) is at its edge (stats.decisive_interval); ``paired=False``: the same look with independent resampling of
    a and b, the interval the pairing is measured against."""
    (difference,) = compare(PointFeatures(a[:n], reference, with_kid=False),
                            PointFeatures(b[:n], reference, with_kid=False), labels, paired=paired,
                            confidence=confidence, replicates=replicates_for(confidence), metrics=("fid",),
                            bound=bound)
    return difference


def samples_for_margin(n: int, half_width: float, margin: float) -> Optional[int]:
    """About the N at which an interval of ``half_width`` at ``n`` samples shrinks to ``margin`` (widths go as
    1/sqrt(N)): the fewest samples at which a point exactly as good as the one it is compared with could be shown to
    be within ``margin`` of it; None for a zero margin, which no N reaches."""
    return None if margin <= 0 else math.ceil(n * (half_width / margin) ** 2)


def reach_text(unpaired_half_width: float, needed_n: Optional[int]) -> str:
    """Why a match is out of reach, for the log and the report."""
    needed = f"about N = {needed_n:,}" if needed_n is not None else "more samples than any N"
    return (f"the pairing does not narrow the interval, unpaired it is +-{unpaired_half_width:.3f}; more steps leave "
            f"it as wide, and showing a match within the margin would take {needed}")
