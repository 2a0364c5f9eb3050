"""The best choice for each time budget: the Pareto front of a sweep's finished points in (time per image, FID), and
its plain-language recommendation.

Timings on a shared machine are noisy: points that make the same number of model calls, nearly all of their time
spent in the same UNet, differ by several percent from one point to the next. A front that trusted every
millisecond would recommend a worse sampler for a budget range that is only noise wide. So a point is set aside when
another reaches a better FID in at most ``time_tolerance`` more time, and the report says which points were set
aside and how far apart equal-NFE timings fell in this sweep.
"""

from __future__ import annotations

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


def _name(row: pd.Series) -> str:
    return f"{row['scheduler']} at {int(row['steps'])} steps"


def _ms(row: pd.Series) -> str:
    return f"{row['seconds_per_image'] * 1000:.1f} ms"


def recommendation(points: pd.DataFrame, front: pd.DataFrame, time_tolerance: float) -> list[str]:
    """One sentence per budget range of ``front`` (``points``' front under ``time_tolerance``), then what the
    tolerance set aside and why."""
    if front.empty:
        return ["No point finished, so there is nothing to recommend."]
    lines = []
    for i, (_, row) in enumerate(front.iterrows()):
        budget = f"from {_ms(row)} per image" + (f" up to {_ms(front.iloc[i + 1])}" if i + 1 < len(front) else " upward")
        lines.append(f"With a budget {budget}: **{_name(row)}** (NFE {int(row['nfe'])}, FID {row['fid']:.2f}).")
    best = front.iloc[-1]
    lines.append(f"The best quality measured is {_name(best)} (FID {best['fid']:.2f}); every point off this front is "
                 f"matched or beaten on FID by another that takes at most {time_tolerance:.0%} more time per image.")
    spread = equal_nfe_time_spread(points)
    if spread is not None:
        ratio, slow, fast = spread
        lines.append(f"Timing noise: points with equal NFE differ in time per image by up to {ratio - 1:.0%} in this "
                     f"sweep ({_name(slow)} {_ms(slow)}, {_name(fast)} {_ms(fast)}); where the UNet dominates, such differences are "
                     f"mostly measurement noise. The front counts times within {time_tolerance:.0%} of each other as equal.")
    removed = set_aside(points, front, time_tolerance)
    if removed:
        lines.append("Set aside for that reason: " + "; ".join(
            f"{_name(row)} ({_ms(row)}, FID {row['fid']:.2f}) for {_name(rival)} ({_ms(rival)}, FID {rival['fid']:.2f})"
            for row, rival in removed) + ".")
    return lines
