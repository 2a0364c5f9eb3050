"""The answer a report opens with: the pick for the best quality, the points tied with the best, and the best
choice for each time budget, phrased from what ``ddpm_bench.verdicts`` decided."""

from __future__ import annotations

from typing import Optional

import pandas as pd

from ddpm_bench.report.text import EDGE_VERDICTS, fid_text, ms_text, point_name
from ddpm_bench.store import records as R
from ddpm_bench.verdicts import Pick, StoredPoint, Tie, equal_nfe_time_spread, set_aside


def pick(choice: Optional[Pick]) -> list[str]:
    """The pick for the best quality (``verdicts.quality_pick``): the top of the budget list, which is the lowest FID
    or tied with it and faster."""
    if choice is None:
        return []
    top, lowest, difference = choice.top, choice.lowest, choice.difference
    if difference is None:
        return [f"For the best quality: **{point_name(top)}** ({ms_text(top)} per image), which has the lowest FID "
                f"({top[R.FID]:.3f})."]
    return [f"For the best quality: **{point_name(top)}** ({ms_text(top)} per image). The lowest FID "
            f"is {point_name(lowest)} ({lowest[R.FID]:.3f}), but the difference to it, "
            f"{difference.difference:+.3f} (paired 95 % interval [{difference.low:+.3f}, {difference.high:+.3f}]), "
            "is not told apart from 0 at this N; each faster choice in the budget list below is decidedly worse."]


def ties(best: StoredPoint, lowest_fid: float, tied: list[Tie], seconds: dict[str, float]) -> list[str]:
    """The best-FID point and the points its paired interval cannot tell from it (``verdicts.best_and_ties``), each
    with its time per image (``seconds``, by label)."""
    lowest = f"**{best.label}** has the lowest FID ({lowest_fid:.3f})"
    if not tied:
        return [f"{lowest} and every other point is worse with 95 % confidence (paired interval of the FID difference "
                "above 0)."]
    listed = "; ".join(f"{t.point.label} ({seconds[t.point.label] * 1000:.1f} ms, FID difference "
                       f"{t.difference.difference:+.3f}, 95 % interval [{t.difference.low:+.3f}, "
                       f"{t.difference.high:+.3f}]{', at the edge' if t.difference.at_edge() else ''})" for t in tied)
    edge = f" {EDGE_VERDICTS}" if any(t.difference.at_edge() for t in tied) else ""
    return [f"{lowest}, but at this N it is tied (the paired 95 % interval of the FID difference includes 0) with: "
            f"{listed}.{edge}"]


def recommendation(points: pd.DataFrame, front: pd.DataFrame, time_tolerance: float,
                   decided: bool = False) -> list[str]:
    """One sentence per budget range of ``front``, then how the front was built: from decided differences
    (``decided``, see ``decided_front``) or, for a sweep without stored features, from FID estimates with timing
    tolerance (what it set aside, and why)."""
    if front.empty:
        return ["No point finished, so there is nothing to recommend."]
    lines = []
    for i, (_, row) in enumerate(front.iterrows()):
        upper = f" up to {ms_text(front.iloc[i + 1])}" if i + 1 < len(front) else " upward"
        budget = f"from {ms_text(row)} per image{upper}"
        lines.append(f"With a budget {budget}: **{point_name(row)}** (NFE {int(row[R.NFE])}, {fid_text(row)}).")
    if decided:
        lines.append("Each step up this list is better than the one before it with 95 % confidence (the paired "
                     "interval of their FID difference excludes 0). A slower point that is tied with a faster one is "
                     f"left off: it buys no quality this sweep can detect. Times within {time_tolerance:.0%} of each "
                     "other count as equal.")
        return lines
    best = front.iloc[-1]
    lines.append(f"The best quality measured is {point_name(best)} (FID {best[R.FID]:.2f}); every point off this "
                 f"front is matched or beaten on FID by another that takes at most {time_tolerance:.0%} more time per "
                 "image. This sweep kept no features, so these are FID estimates without intervals.")
    spread = equal_nfe_time_spread(points)
    if spread is not None:
        ratio, slow, fast = spread
        lines.append(f"Timing noise: points with equal NFE differ in time per image by up to {ratio - 1:.0%} in this "
                     f"sweep ({point_name(slow)} {ms_text(slow)}, {point_name(fast)} {ms_text(fast)}); where the UNet "
                     "dominates, such differences are mostly measurement noise. The front counts times within "
                     f"{time_tolerance:.0%} of each other as equal.")
    removed = set_aside(points, front, time_tolerance)
    if removed:
        lines.append("Set aside for that reason: " + "; ".join(
            f"{point_name(row)} ({ms_text(row)}, FID {row[R.FID]:.2f}) for {point_name(rival)} ({ms_text(rival)}, "
            f"FID {rival[R.FID]:.2f})"
            for row, rival in removed) + ".")
    return lines
