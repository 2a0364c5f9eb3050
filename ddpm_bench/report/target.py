"""A target folder's report: its answer (the search's own, at the search's confidence and edge rules: the first
screen can say nothing else), and the search itself: its table, how it was decided, its path on the chart."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ddpm_bench.report.charts import draw_search
from ddpm_bench.report.text import edge_note, look_text, missed_text
from ddpm_bench.store.records import point_label
from ddpm_bench.verdicts import EDGE_REASON, ended_out_of_reach, reach_text


def goal_text(goal: dict) -> str:
    if "match" in goal:
        return (f"as good as {goal['match']}: the upper end of the paired interval of the FID difference to it at most "
                f"the margin {goal['margin']:.3f}")
    return f"FID at most {goal['fid']:g}: the upper end of the point's FID interval at most {goal['fid']:g}"


def target_data(summary: dict) -> dict:
    """The search's answer as data: per scheduler the fewest steps that met the target (or that none did), fastest
    first; the pick is the fastest that met it."""
    results = sorted(summary["results"], key=lambda r: (not r["met"], r["seconds_per_image"] or float("inf")))
    rows = [{"point": point_label(r["scheduler"], r["steps"]), "scheduler": r["scheduler"], "steps": r["steps"],
             "nfe": r["nfe"], "met": r["met"], "n": r["n"],
             "ms_per_image": None if r["seconds_per_image"] is None else r["seconds_per_image"] * 1000}
            for r in results]
    met = [row for row in rows if row["met"]]
    goal = summary["target"]
    margin = ({"value": goal["margin"], "basis": "the search's margin"} if "match" in goal else
              {"value": 0.0, "basis": "an FID bound has no margin"})
    return {"target": goal, "target_text": goal_text(goal), "margin": margin,
            "confidence": summary["confidence"], "sample_sizes": summary["sample_sizes"],
            "pick": met[0]["point"] if met else None, "results": rows}


def target_answer_lines(data: dict) -> list[str]:
    """The first screen of a target folder: what was searched for, and each scheduler's fewest steps that met it."""
    lines = []
    for i, row in enumerate(data["results"]):
        ms = "" if row["ms_per_image"] is None else f", {row['ms_per_image']:.1f} ms per image"
        if row["met"]:
            lines.append(f"- {'**' if i == 0 else ''}{row['scheduler']} at {row['steps']} steps"
                         f"{'**' if i == 0 else ''} (NFE {row['nfe']}{ms})" + (": the fastest to reach it" if i == 0
                                                                               else ""))
        else:
            lines.append(f"- {row['scheduler']}: not reached (last tried: {row['steps']} steps)")
    head = (f"Target: {data['target_text']}. The fewest steps that meet it, per scheduler (each search's looks "
            f"together err at most 5 % of the time; N grew from {data['sample_sizes'][0]} to at most "
            f"{data['sample_sizes'][-1]} while undecided):")
    return [head + "\n\n" + "\n".join(lines)]


def target_section(folder: Path, summary, points: pd.DataFrame, marked: list[str], n) -> list[str]:
    """The answer of a target search: its table, how it was decided, and its search path on the FID-versus-time
    plane. Empty for a sweep folder."""
    if not summary:
        return []
    matching = "match" in summary["target"]
    reached = [r for r in summary["results"] if r["met"]]
    lines = ["## The target search",
             f"Target: {goal_text(summary['target'])}. For each scheduler the step count was doubled from the first "
             "one tried until a point met the target, then bisected down to the fewest steps that meet it. Each point "
             f"started with {summary['sample_sizes'][0]} samples and got more "
             f"(N = {', '.join(map(str, summary['sample_sizes']))}) "
             f"while undecided; each look's interval is at {summary['confidence']:.1%} confidence so that all looks "
             "together err at most 5 % of the time (adaptive.py). A point still undecided at the largest N counts as "
             f"not meeting the target. Seed {summary['seed']}, feature network `{summary['backbone']}`, reference "
             f"{summary['reference']}."]
    if summary.get("timings"):
        rounds = max(t["rounds"] for t in summary["timings"])
        lines.append("The time of every point in the folder (tables, charts, budgets) was measured again side by side "
                     "at the end of the search, one batch of each in turn, so that points are compared under the same "
                     "conditions: the points themselves were sampled minutes or hours apart, some by earlier searches, "
                     "under whatever else the machine was doing. " + (
                         f"The points that reached the target got {rounds} rounds (their median), the others one."
                         if reached else "One round each."))
    missed = [r for r in summary["results"] if not r["met"]]
    if missed:
        lines.append("Not reached within the steps allowed: " + "; ".join(
            f"{r['scheduler']} ({missed_text(r)} {r['steps']} steps, {look_text(r, matching)})" for r in missed) + ".")
    edges = [f"{r['scheduler']} at {look['steps']} steps ({look['outcome']})" for r in summary["results"]
             for look in r["path"] if look.get("edge")]
    if edges:
        lines.append(f"Verdicts at the edge, where {EDGE_REASON}: {', '.join(edges)}. "
                     "Where the fewest steps rests on one of them, read it as tied with its neighbours on the path "
                     "(the table then gives the fewest steps that met the target clear of the edge, and fewer "
                     "steps that missed it at the edge, where the answer could lie; "
                     "benchmarks/bootstrap_noise.py measures that error for a pair).")
    for r in filter(ended_out_of_reach, missed):
        last = r["path"][-1]
        lines.append(f"The search for {r['scheduler']} stopped at {last['steps']} steps, out of reach: "
                     f"{reach_text(last['unpaired_half_width'], last['needed_n'])}.")
    head = "FID − matched, 95 % interval" if matching else "FID, 95 % interval"
    rows = [f"| scheduler | steps | NFE | ms / image | {head} | N | met | steps judged, in order |", "|" + "---|" * 8]
    for r in summary["results"]:
        ms = "" if r["seconds_per_image"] is None else f"{r['seconds_per_image'] * 1000:.1f}"
        path = ", ".join(f"{k['steps']} ({k['outcome']}{' at the edge' if k.get('edge') else ''}, N = {k['n']})"
                         for k in r["path"])
        met = ("yes" if r["met"] else "no") + edge_note(r)
        rows.append(f"| {r['scheduler']} | {r['steps']} | {r['nfe'] or ''} | {ms} | {look_text(r, matching)} | "
                    f"{r['n']} | {met} | {path} |")
    lines.append("\n".join(rows))
    if len(points):
        chart = draw_search(points, summary, folder / "target_search.svg", marked=marked, n=n)
        lines.append("![The search path of each scheduler on the FID-versus-time plane; arrows in the order the "
                     "points were judged, filled markers met the target (as the search decided it: on the paired "
                     "difference to the matched point, for a match; the bars are each point's own interval), labels: "
                     f"steps]({chart.name})")
    return lines


