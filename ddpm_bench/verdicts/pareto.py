"""The best choice for each time budget: the Pareto front of a sweep's finished points in (time per image, FID), and
its plain-language recommendation.

Timings on a shared machine are noisy: points that make the same number of model calls, nearly all of their time
spent in the same UNet, differ by several percent from one point to the next. A front that trusted every
millisecond would recommend a worse sampler for a budget range that is only noise wide. So a point is set aside when
another reaches a better FID in at most ``time_tolerance`` more time, and the report says which points were set
aside and how far apart equal-NFE timings fell in this sweep.
"""

from __future__ import annotations

from typing import Callable, Optional

import pandas as pd

TIME_TOLERANCE = 0.10


def _dominates(rival: pd.Series, point: pd.Series, time_tolerance: float) -> bool:
    """True when ``rival`` is at least as good on FID, at most ``time_tolerance`` slower, and strictly better on one."""
    within_time = rival["seconds_per_image"] <= point["seconds_per_image"] * (1 + time_tolerance)
    no_worse = rival["fid"] <= point["fid"]
    better = rival["fid"] < point["fid"] or rival["seconds_per_image"] < point["seconds_per_image"]
    return bool(within_time and no_worse and better)


def pareto_front(points: pd.DataFrame, time_tolerance: float = TIME_TOLERANCE) -> pd.DataFrame:
    """The finished points that no other point dominates, fastest first; FID falls strictly along it (were a kept point
    no better on FID than a faster kept one, the faster would dominate it, being less than any tolerance slower).

    With ``time_tolerance`` 0 this is the plain Pareto front; a larger tolerance treats times that close as equal.
    """
    rows = [row for _, row in points.iterrows()]
    kept = [row for row in rows if not any(_dominates(rival, row, time_tolerance) for rival in rows if rival is not row)]
    columns = points.columns
    return pd.DataFrame(kept, columns=columns).sort_values("seconds_per_image") if kept else points.iloc[0:0]


def decided_front(points: pd.DataFrame, better: Callable[[pd.Series, pd.Series], Optional[bool]],
                  time_tolerance: float = TIME_TOLERANCE) -> Optional[pd.DataFrame]:
    """The front that only decided differences build: from the fastest point up, a slower point joins when it is
    ``better`` than the last one kept (the 95 % interval of their FID difference excludes 0); one within
    ``time_tolerance`` of the last one's time replaces it. A slower point tied with a faster one stays off: at this N
    the sweep cannot say it buys anything. None when ``better`` cannot judge some pair (no stored features)."""
    front: list[pd.Series] = []
    for _, row in points.sort_values("seconds_per_image").iterrows():
        if not front:
            front.append(row)
            continue
        verdict = better(row, front[-1])
        if verdict is None:
            return None
        if verdict:
            if row["seconds_per_image"] <= front[-1]["seconds_per_image"] * (1 + time_tolerance):
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
        rivals = points[[_dominates(rival, row, time_tolerance) for _, rival in points.iterrows()]].assign(
            off_front=lambda frame: ~frame.index.isin(front.index))
        pairs.append((row, rivals.sort_values(["off_front", "seconds_per_image"]).iloc[0]))
    return pairs


def equal_nfe_time_spread(points: pd.DataFrame) -> tuple[float, pd.Series, pd.Series] | None:
    """The largest ratio of slower to faster time per image between two points with the same NFE, with the two
    points; None when no two points share an NFE."""
    widest = None
    for _, group in points.groupby("nfe"):
        if len(group) < 2:
            continue
        fast = group.loc[group["seconds_per_image"].idxmin()]
        slow = group.loc[group["seconds_per_image"].idxmax()]
        ratio = slow["seconds_per_image"] / fast["seconds_per_image"]
        if widest is None or ratio > widest[0]:
            widest = (ratio, slow, fast)
    return widest


def point_name(row: pd.Series) -> str:
    """``ddim at 20 steps``."""
    return f"{row['scheduler']} at {int(row['steps'])} steps"


def ms_text(row: pd.Series) -> str:
    """``118.3 ms``: the point's time per image."""
    return f"{row['seconds_per_image'] * 1000:.1f} ms"


def _fid(row: pd.Series) -> str:
    interval = ""
    if "fid_low" in row and row["fid_low"] == row["fid_low"]:
        interval = f", 95 % interval [{row['fid_low']:.2f}, {row['fid_high']:.2f}]"
    return f"FID {row['fid']:.2f}{interval}"


def recommendation(points: pd.DataFrame, front: pd.DataFrame, time_tolerance: float, decided: bool = False) -> list[str]:
    """One sentence per budget range of ``front``, then how the front was built: from decided differences
    (``decided``, see ``decided_front``) or, for a sweep without stored features, from FID estimates with timing
    tolerance (what it set aside, and why)."""
    if front.empty:
        return ["No point finished, so there is nothing to recommend."]
    lines = []
    for i, (_, row) in enumerate(front.iterrows()):
        budget = f"from {ms_text(row)} per image" + (f" up to {ms_text(front.iloc[i + 1])}" if i + 1 < len(front) else " upward")
        lines.append(f"With a budget {budget}: **{point_name(row)}** (NFE {int(row['nfe'])}, {_fid(row)}).")
    if decided:
        lines.append("Each step up this list is better than the one before it with 95 % confidence (the paired "
                     "interval of their FID difference excludes 0). A slower point that is tied with a faster one is "
                     f"left off: it buys no quality this sweep can detect. Times within {time_tolerance:.0%} of each "
                     "other count as equal.")
        return lines
    best = front.iloc[-1]
    lines.append(f"The best quality measured is {point_name(best)} (FID {best['fid']:.2f}); every point off this front is "
                 f"matched or beaten on FID by another that takes at most {time_tolerance:.0%} more time per image. "
                 "This sweep kept no features, so these are FID estimates without intervals.")
    spread = equal_nfe_time_spread(points)
    if spread is not None:
        ratio, slow, fast = spread
        lines.append(f"Timing noise: points with equal NFE differ in time per image by up to {ratio - 1:.0%} in this "
                     f"sweep ({point_name(slow)} {ms_text(slow)}, {point_name(fast)} {ms_text(fast)}); where the UNet dominates, such differences are "
                     f"mostly measurement noise. The front counts times within {time_tolerance:.0%} of each other as equal.")
    removed = set_aside(points, front, time_tolerance)
    if removed:
        lines.append("Set aside for that reason: " + "; ".join(
            f"{point_name(row)} ({ms_text(row)}, FID {row['fid']:.2f}) for {point_name(rival)} ({ms_text(rival)}, FID {rival['fid']:.2f})"
            for row, rival in removed) + ".")
    return lines
