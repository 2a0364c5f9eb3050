"""The one place that turns intervals into answers: which points are tied with the best, the pick for the best
quality, the best choice for each time budget, which of two points is better, and how a target search's answer stands.
The report and the CLI print what these functions return; neither decides.

The rule: a point is better than another only when the 95 % interval of their FID difference excludes 0 (the paired
interval of ``ddpm_bench.stats`` where the points pair); otherwise they are tied. A sweep that kept no features has no
such intervals: there the budget list is built from FID estimates with a timing tolerance, and two points are told
apart by KID beyond its noise over subsets, unpaired and cruder.

Timings on a shared machine are noisy: points that make the same number of model calls, nearly all of their time
spent in the same UNet, differ by several percent from one point to the next. A budget list that trusted every
millisecond would recommend a worse sampler for a budget range that is only noise wide, so times within
``TIME_TOLERANCE`` of each other count as equal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import pandas as pd

from ddpm_bench.stats import Difference
from ddpm_bench.stats.adaptive import OUT_OF_REACH
from ddpm_bench.store import records as R
from ddpm_bench.verdicts.comparisons import StoredPoint, StoredPoints, default_pairs, width_ratio

Judge = Callable[[pd.Series, pd.Series], Optional[Difference]]  # two points -> their FID difference, or None

TIME_TOLERANCE = 0.10


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


def decided_front(points: pd.DataFrame, better: Callable[[pd.Series, pd.Series], Optional[bool]],
                  time_tolerance: float = TIME_TOLERANCE) -> Optional[pd.DataFrame]:
    """The front that only decided differences build: from the fastest point up, a slower point joins when it is
    ``better`` than the last one kept (the 95 % interval of their FID difference excludes 0); one within
    ``time_tolerance`` of the last one's time replaces it. A slower point tied with a faster one stays off: at this N
    the sweep cannot say it buys anything. None when ``better`` cannot judge some pair (no stored features)."""
    front: list[pd.Series] = []
    for _, row in points.sort_values(R.SECONDS_PER_IMAGE).iterrows():
        if not front:
            front.append(row)
            continue
        verdict = better(row, front[-1])
        if verdict is None:
            return None
        if verdict:
            if row[R.SECONDS_PER_IMAGE] <= front[-1][R.SECONDS_PER_IMAGE] * (1 + time_tolerance):
                front[-1] = row
            else:
                front.append(row)
    return pd.DataFrame(front, columns=points.columns) if front else points.iloc[0:0]


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


@dataclass(frozen=True)
class Tie:
    """A point that the paired interval cannot tell from the best one."""

    point: StoredPoint
    difference: Difference  # FID(point) - FID(best)


def best_and_ties(stored: StoredPoints) -> tuple[StoredPoint, list[Tie]]:
    """The lowest-FID point (FIDs at the common N where points have different N) and the points tied with it."""
    best = min(stored.points, key=lambda p: stored.fid_scores(p)[R.FID])
    ties = [Tie(other, fid) for other in stored.points if other is not best
            for fid in stored.compare(other, best) if fid.verdict == "tied"]
    return best, ties


@dataclass(frozen=True)
class Pick:
    """The pick for the best quality: the top of the budget list, and the lowest-FID point with the difference to
    it where the two differ (None when the top is the lowest-FID point)."""

    top: pd.Series
    lowest: pd.Series
    difference: Optional[Difference]


def quality_pick(points: pd.DataFrame, front: pd.DataFrame, judge: Optional[Judge]) -> Optional[Pick]:
    """The top of the decided budget list when it is the lowest FID or tied with it; None without intervals, or when
    the top is decidedly worse than the lowest FID."""
    if front.empty or judge is None:
        return None
    top, lowest = front.iloc[-1], points.loc[points[R.FID].idxmin()]
    if top[R.SCHEDULER] == lowest[R.SCHEDULER] and top[R.STEPS] == lowest[R.STEPS]:
        return Pick(top, lowest, None)
    difference = judge(top, lowest)
    if difference is None or difference.verdict != "tied":
        return None
    return Pick(top, lowest, difference)


def budget_front(points: pd.DataFrame, judge: Optional[Judge],
                 time_tolerance: float = TIME_TOLERANCE) -> tuple[pd.DataFrame, bool]:
    """The budget list (fastest first) and whether it was built from decided differences: ``decided_front`` where
    every pair can be judged, else ``pareto_front`` from FID estimates."""
    if judge is not None:
        front = decided_front(points, lambda a, b: None if (d := judge(a, b)) is None else d.verdict == "a better",
                              time_tolerance)
        if front is not None:
            return front, True
    return pareto_front(points, time_tolerance), False


def default_comparisons(stored: StoredPoints) -> tuple[list[Difference], Optional[float]]:
    """The default pairs' differences (``default_pairs``), each with its verdict by the one rule, and how much
    narrower pairing made their FID intervals (the median paired / unpaired width, ``width_ratio``)."""
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
    """"a better", "b better" or "tied": by the FID interval when there is one, else by KID beyond its noise."""
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
