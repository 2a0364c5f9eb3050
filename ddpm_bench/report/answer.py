"""The answer a report opens with, phrased from the data that ``ddpm_bench.verdicts.answer_data`` returns (the same
object ``ddpm-bench report DIR --json`` prints): per time budget, the fastest point shown as good as the best, or
"undecided at this N"; then how it was decided, claim by claim. A folder without intervals gets its FID estimates'
front, said to be estimates and no answer."""

from __future__ import annotations

from typing import Optional

import pandas as pd

from ddpm_bench.report.text import fid_text, ms_text, point_name
from ddpm_bench.store import records as R
from ddpm_bench.verdicts import equal_nfe_time_spread, set_aside

LISTED = 4  # contenders named in an undecided budget's line; the rest are counted
ALONE = "none: the only point within this budget"


def budget_range(budget: dict) -> str:
    start, end = budget["from_ms"], budget["up_to_ms"]
    return f"{start:.1f} ms per image and more" if end is None else f"{start:.1f} to {end:.1f} ms per image"


def named(labels: list[str]) -> str:
    shown = ", ".join(labels[:LISTED])
    return shown + (f" and {len(labels) - LISTED} more" if len(labels) > LISTED else "")


def settle_command(n: int) -> str:
    """The command that narrows the intervals of a sweep folder: four times the samples, about half the width."""
    return f"`ddpm-bench sweep --config DIR/sweep.toml -n {4 * n} --out DIR`"


def budget_line(budget: dict, metric: str, n: int, settle: Optional[str]) -> str:
    """One budget of the answer, on one line."""
    choice = budget["answer"]
    if choice is None:
        text = f"- {budget_range(budget)}: **undecided at N = {n}**: no point is shown as good as all of " \
            f"{named(budget['contenders'])}"
        return text + (f"; more samples narrow it: {settle}" if settle else "")
    return (f"- {budget_range(budget)}: **{choice['point']}** (NFE {choice['nfe']}; {metric} {choice['value']:.2f}, "
            f"95 % interval [{choice['low']:.2f}, {choice['high']:.2f}])")


def answer_lines(data: dict, metric: str, settle: Optional[str]) -> list[str]:
    """The first screen: what was asked, then one line per budget (``settle``: the command that narrows an undecided
    budget's intervals, None where the report cannot name one)."""
    margin = data["margin"]
    if margin["value"] <= 0:  # 10 % of an estimate of 0: nothing is "as good as" but a point shown better
        margin = {**margin, "basis": margin["basis"] + "; give one in FID units with --margin"}
    head = (f"**Per time budget, the fastest point shown as good as the best** at N = {data['n']} ({metric} of the "
            f"samplers' distributions; as good as: at most {margin['value']:.2f} worse, {margin['basis']}; each line "
            "a 95 % claim):")
    lines = [head + "\n\n" + "\n".join(budget_line(b, metric, data["n"], settle) for b in data["budgets"])]
    if data.get("unjudged"):
        lines.append(f"Not judged (they kept no features, so they have no intervals): {', '.join(data['unjudged'])}.")
    return lines


def decided_lines(data: dict, metric: str) -> list[str]:
    """How each budget's answer was decided: its claims against the contenders, with their intervals."""
    rows = [f"| budget | answer | against | {metric}(answer) − {metric}(contender), 95 % interval | verdict |",
            "|---|---|---|---|---|"]
    for budget in data["budgets"]:
        choice = budget["answer"]
        if choice is None:
            rows.append(f"| {budget_range(budget)} | undecided | {named(budget['contenders'])} | | |")
            continue
        for claim in budget["claims"] or [None]:
            against = "" if claim is None else claim["against"]
            interval = "" if claim is None else \
                f"{claim['difference']:+.2f} [{claim['low']:+.2f}, {claim['high']:+.2f}]"
            rows.append(f"| {budget_range(budget)} | {choice['point']} | {against or ALONE} | {interval} | "
                        f"{'' if claim is None else claim['verdict']} |")
    return [
        "A point answers a budget when it is shown as good as every other point within the budget: the upper end of "
        f"each paired 95 % interval of the difference at most the margin {data['margin']['value']:.2f} (a point "
        "shown better than another is as good as it too). Such a claim holds only if each of its parts does, so it "
        "errs at most 5 % of the time however many points there are (an intersection-union test). Each line of "
        "the answer is such a claim on its own; over several lines, the chance that some line is wrong is larger. "
        "Among the points that answer a budget the fastest is named; times within "
        f"{data['time_tolerance']:.0%} of each other count as equal. \"Undecided\" means this N cannot tell: more "
        "samples narrow the intervals.",
        "\n".join(rows)]


def estimates_only(points: pd.DataFrame, front: pd.DataFrame, time_tolerance: float) -> list[str]:
    """For a folder without intervals: the front of the FID estimates, said to be estimates and no answer."""
    if front.empty:
        return ["No point finished, so there is nothing to answer."]
    lines = ["This folder has no intervals, so it makes no claim. The FID estimates alone (each point matched or "
             f"beaten on FID by another that takes at most {time_tolerance:.0%} more time per image is left out):"]
    lines.append("\n".join(f"- {ms_text(row)} per image: {point_name(row)} (NFE {int(row[R.NFE])}, {fid_text(row)})"
                           for _, row in front.iterrows()))
    spread = equal_nfe_time_spread(points)
    if spread is not None:
        ratio, slow, fast = spread
        lines.append(f"Timing noise: points with equal NFE differ in time per image by up to {ratio - 1:.0%} here "
                     f"({point_name(slow)} {ms_text(slow)}, {point_name(fast)} {ms_text(fast)}).")
    removed = set_aside(points, front, time_tolerance)
    if removed:
        lines.append("Left out for that reason: " + "; ".join(
            f"{point_name(row)} ({ms_text(row)}, FID {row[R.FID]:.2f}) for {point_name(rival)} ({ms_text(rival)}, "
            f"FID {rival[R.FID]:.2f})" for row, rival in removed) + ".")
    return lines
