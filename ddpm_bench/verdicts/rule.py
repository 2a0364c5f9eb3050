"""The one place that turns intervals into answers. The report, ``compare``, ``target``, ``sweep --decide`` and the
expectations print what these functions return; none of them decides.

The rule (``verdict``): a claim about two points A and B reads the 95 % interval [low, high] of the difference A - B
of their Frechet distances (the paired interval of ``ddpm_bench.stats`` where the points pair; both ends estimate the
Frechet distance of the samplers' distributions, not the N-sample FID) against 0 and a margin m >= 0:

- ``better``: high < 0;
- ``as good as``: high <= m (non-inferiority: A is at most m worse, as ``target --match`` tests);
- ``worse, within the margin``: 0 < low and high <= m (worse, but still as good as within m);
- ``worse``: low > 0 and high > m; ``worse by more than the margin``: low > m;
- ``undecided``: everything else (the interval holds 0 and reaches past m). Never "equal": an interval that holds 0
  says only that this N cannot tell.

The margin is fixed before any verdict is read (``Margin``): given in metric units (``--margin``), or by default 10 %
of the estimate of the reference point, the lowest estimate of a sweep. It is stated with every answer. A target
folder is answered with its search's own margin (target.json), fixed by the search before its first look: by default
10 % of the matched point's FID at N, which keeps the finite-N bias, so it is larger (more lenient) than 10 % of the
bias-corrected estimate would be; ``target --margin`` and ``report --margin`` take the same value in FID units where
both should read alike.

Timings on a shared machine are noisy: points that make the same number of model calls, nearly all of their time
spent in the same UNet, differ by several percent from one point to the next, so times within ``TIME_TOLERANCE`` of
each other count as equal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import pandas as pd

from ddpm_bench.stats import Difference
from ddpm_bench.stats.adaptive import OUT_OF_REACH
from ddpm_bench.store import records as R
from ddpm_bench.verdicts.comparisons import StoredPoints, default_pairs, width_ratio

Judge = Callable[[pd.Series, pd.Series], Optional[Difference]]  # two points -> their FID difference, or None

TIME_TOLERANCE = 0.10
RELATIVE_MARGIN = 0.10  # the default margin: this fraction of the reference point's estimate

BETTER, AS_GOOD, WORSE_WITHIN = "better", "as good as", "worse, within the margin"
WORSE, WORSE_BEYOND, UNDECIDED = "worse", "worse by more than the margin", "undecided"
AS_GOOD_VERDICTS = (BETTER, AS_GOOD, WORSE_WITHIN)  # the verdicts under which A is shown as good as B


def verdict(low: float, high: float, margin: float) -> str:
    """What the interval [low, high] of A - B (lower is better) says of A against B with margin ``margin``."""
    if high < 0:
        return BETTER
    if low > margin:
        return WORSE_BEYOND
    if high <= margin:
        return WORSE_WITHIN if low > 0 else AS_GOOD
    return WORSE if low > 0 else UNDECIDED


@dataclass(frozen=True)
class Margin:
    """The margin of "as good as" in the metric's units, and where it came from, in words."""

    value: float
    basis: str

    @classmethod
    def of(cls, given: Optional[float], reference_label: str, reference_estimate: float) -> "Margin":
        """``given`` (``--margin``) when set, else ``RELATIVE_MARGIN`` of the reference point's estimate."""
        if given is not None:
            return cls(float(given), "set with --margin")
        value = RELATIVE_MARGIN * max(0.0, float(reference_estimate))
        return cls(value, f"{RELATIVE_MARGIN:.0%} of the lowest estimate, {reference_label}'s {reference_estimate:.2f}")


def dominates(rival: pd.Series, point: pd.Series, time_tolerance: float) -> bool:
    """True when ``rival`` is at least as good on FID, at most ``time_tolerance`` slower, and strictly better on one."""
    within_time = rival[R.SECONDS_PER_IMAGE] <= point[R.SECONDS_PER_IMAGE] * (1 + time_tolerance)
    no_worse = rival[R.FID] <= point[R.FID]
    better = rival[R.FID] < point[R.FID] or rival[R.SECONDS_PER_IMAGE] < point[R.SECONDS_PER_IMAGE]
    return bool(within_time and no_worse and better)


def pareto_front(points: pd.DataFrame, time_tolerance: float = TIME_TOLERANCE) -> pd.DataFrame:
    """The finished points that no other point dominates, fastest first; FID falls strictly along it (were a kept point
    no better on FID than a faster kept one, the faster would dominate it, being less than any tolerance slower).

    With ``time_tolerance`` 0 this is the plain Pareto front; a larger tolerance treats times that close as equal.
    """
    rows = [row for _, row in points.iterrows()]
    kept = [row for row in rows if not any(dominates(rival, row, time_tolerance) for rival in rows if rival is not row)]
    columns = points.columns
    return pd.DataFrame(kept, columns=columns).sort_values(R.SECONDS_PER_IMAGE) if kept else points.iloc[0:0]


def set_aside(points: pd.DataFrame, front: pd.DataFrame, time_tolerance: float) -> list[tuple[pd.Series, pd.Series]]:
    """Points on the plain front that are not on ``front`` (``points``' front under ``time_tolerance``), each with a
    point that beats it on FID in at most ``time_tolerance`` more time (one on the front where there is one, the
    fastest such)."""
    plain = pareto_front(points, 0.0)
    pairs = []
    for label, row in plain.iterrows():
        if label in front.index:
            continue
        rivals = points[[dominates(rival, row, time_tolerance) for _, rival in points.iterrows()]].assign(
            off_front=lambda frame: ~frame.index.isin(front.index))
        pairs.append((row, rivals.sort_values(["off_front", R.SECONDS_PER_IMAGE]).iloc[0]))
    return pairs


def equal_nfe_time_spread(points: pd.DataFrame) -> tuple[float, pd.Series, pd.Series] | None:
    """The largest ratio of slower to faster time per image between two points with the same NFE, with the two
    points; None when no two points share an NFE."""
    widest = None
    for _, group in points.groupby(R.NFE):
        if len(group) < 2:
            continue
        fast = group.loc[group[R.SECONDS_PER_IMAGE].idxmin()]
        slow = group.loc[group[R.SECONDS_PER_IMAGE].idxmax()]
        ratio = slow[R.SECONDS_PER_IMAGE] / fast[R.SECONDS_PER_IMAGE]
        if widest is None or ratio > widest[0]:
            widest = (ratio, slow, fast)
    return widest


def default_comparisons(stored: StoredPoints) -> tuple[list[Difference], Optional[float]]:
    """The default pairs' differences (``default_pairs``), which the report reads by ``verdict`` at the answer's
    margin, and how much narrower pairing made their FID intervals (the median paired / unpaired width,
    ``width_ratio``)."""
    paired, unpaired = [], []
    for a, b in default_pairs(stored.points):
        paired += stored.compare(a, b)
        unpaired += stored.compare(a, b, paired=False, bound=None)
    return paired, width_ratio(paired, unpaired)


def kid_noise(a: pd.Series, b: pd.Series) -> float:
    """Standard deviation of the difference of two independent subset-KID estimates (records without features);
    infinite where the records hold no such spread (a folder without its reference statistics), so that nothing is
    told apart without a measure of noise."""
    spreads = [row.get(R.KID_STD) for row in (a, b)]
    if any(spread is None or spread != spread for spread in spreads):
        return float("inf")
    return (spreads[0] ** 2 + spreads[1] ** 2) ** 0.5


def order(judge: Judge, a: pd.Series, b: pd.Series) -> str:
    """"a better", "b better" or "tied" (the interval holds 0: ``verdict``'s undecided at margin 0, which the
    expectations print as "undecided"): by the FID interval when there is one, else by KID beyond its noise."""
    difference = judge(a, b)
    if difference is not None:
        return difference.verdict
    if abs(a[R.KID] - b[R.KID]) <= kid_noise(a, b):
        return "tied"
    return "a better" if a[R.FID] < b[R.FID] else "b better"


def ended_out_of_reach(result: dict) -> bool:
    """Whether a scheduler's search (a result of target.json) stopped at a point out of reach."""
    return bool(result["path"]) and result["path"][-1]["outcome"] == OUT_OF_REACH


def chosen_at_edge(result: dict) -> bool:
    """Whether the look a scheduler's answer rests on (its fewest steps met, or its last look) is at the edge."""
    return any(look.get("edge") for look in result["path"] if look["steps"] == result["steps"])
