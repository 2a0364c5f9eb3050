"""The report's sections on what other commands left in the folder: the target search (target.json), the
verdicts of ``sweep --decide`` (decisions.json), the convergence summary (convergence.json), and the paired
comparisons of the default pairs from the stored features."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ddpm_bench.report.charts import draw_search
from ddpm_bench.report.text import EDGE_VERDICTS, edge_note, flagged, look_text, missed_text, verdict_text
from ddpm_bench.store import records as R
from ddpm_bench.store.folder_files import read_convergence, read_decisions
from ddpm_bench.verdicts import EDGE_REASON, StoredPoints, default_comparisons, ended_out_of_reach, reach_text


def target_section(folder: Path, summary, points: pd.DataFrame) -> list[str]:
    """The answer of a target search: its table, how it was decided, and its search path on the FID-versus-time
    plane. Empty for a sweep folder."""
    if not summary:
        return []
    goal = summary["target"]
    matching = "match" in goal
    what = (f"FID at most {goal['fid']:g}: the upper end of the point's FID interval at most {goal['fid']:g}"
            if not matching else
            f"as good as {goal['match']}: the upper end of the paired FID difference to it at most the margin "
            f"{goal['margin']:.3f}")
    reached = [r for r in summary["results"] if r["met"]]
    lines = ["## The target search",
             f"Target: {what}. For each scheduler the step count was doubled from the first one tried until a point "
             "met the target, then bisected down to the fewest steps that meet it. Each point started with "
             f"{summary['sample_sizes'][0]} samples and got more (N = {', '.join(map(str, summary['sample_sizes']))}) "
             f"while undecided; each look's interval is at {summary['confidence']:.1%} confidence so that all looks "
             "together err at most 5 % of the time (adaptive.py). A point still undecided at the largest N counts as "
             f"not meeting the target. Seed {summary['seed']}, feature network `{summary['backbone']}`, reference "
             f"{summary['reference']}."]
    if reached:
        best = reached[0]
        others = ", ".join(f"{r['scheduler']} at {r['steps']} steps" for r in reached[1:])
        lines.append(f"**{best['scheduler']} at {best['steps']} steps** reaches the target fastest "
                     f"({best['seconds_per_image'] * 1000:.1f} ms per image)"
                     + (f"; then {others}." if others else "."))
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
    head = "FID - matched, interval" if matching else "FID, interval"
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
        chart = draw_search(points, summary, folder / "target_search.svg")
        lines.append("![The search path of each scheduler on the FID-versus-time plane; arrows in the order the "
                     f"points were judged, filled markers met the target, labels: steps]({chart.name})")
    return lines


def decisions_section(folder: Path) -> list[str]:
    """The verdicts of ``sweep --decide`` (decisions.json): each comparison at the N it was decided at."""
    decisions = read_decisions(folder)
    if not decisions:
        return []
    first = decisions[0]
    rows = ["| a | b | FID(a) − FID(b) | interval | N | verdict |", "|---|---|---|---|---|---|"]
    rows += [f"| {d['a']} | {d['b']} | {d['difference']:+.3f} | [{d['low']:+.3f}, {d['high']:+.3f}] | {d['n']} | "
             f"{flagged(d['verdict'], d.get('edge', False))} |" for d in decisions]
    return [f"Decided with adaptive N (`--decide`): each comparison was looked at with N = "
            f"{', '.join(map(str, first['looks']))} until its paired interval excluded 0; each look's interval is at "
            f"{first['confidence']:.1%} confidence, so that all looks together err at most 5 % of the time. Only the "
            "points of comparisons still tied got more samples.", "\n".join(rows),
            EDGE_VERDICTS if any(d.get("edge") for d in decisions) else ""]


def convergence_section(folder: Path) -> list[str]:
    """Each point's distance to the ODE's solution from the same x_T (``ddpm-bench convergence``, convergence.py)."""
    summary = read_convergence(folder)
    if not summary:
        return []
    rows = ["| point | NFE | ms / image | mean distance | 95 % interval | relative |", "|---|---|---|---|---|---|"]
    rows += [f"| {p['label']} | {p['nfe']} | {p['seconds_per_image'] * 1000:.1f} | {p['mean']:.3f} | "
             f"[{p['low']:.3f}, {p['high']:.3f}] | {p['relative']:.3f} |" for p in summary["points"]]
    verdicts = ["| a | b | distance(a) − distance(b) | 95 % interval | verdict |", "|---|---|---|---|---|"]
    verdicts += [f"| {d['a']} | {d['b']} | {d['difference']:+.3f} | [{d['low']:+.3f}, {d['high']:+.3f}] | "
                 f"{d['verdict']} |" for d in summary["comparisons"]]
    return [
        "## Convergence to the solution",
        f"How far each point's sample i lands from sample i of `{summary['solution']}` (the same x_T solved with "
        f"many steps, in `{summary['solution_folder']}`): the mean distance in the `{summary['backbone']}` feature "
        f"space over the first N = {summary['n']} samples (seed {summary['seed']}), with its 95 % Student-t "
        "interval; relative: against the distance between two unrelated samples of the solution "
        f"({summary['scale']:.3f}), so 0 is the solution itself and 1 another digit. For deterministic samplers of "
        "the same ODE (DDIM with eta = 0, PNDM) this is the discretisation error; stochastic ones (DDPM, DDIM with "
        "eta > 0) do not approach it with more steps. It says how close a sampler comes to the exact ODE, not how "
        "real its samples look: read it beside FID.",
        "\n".join(rows),
        "The default pairs, compared sample by sample (the mean of distance(a) − distance(b) over the samples, with "
        "its paired 95 % t interval): a difference is called only when the interval excludes 0.",
        "\n".join(verdicts)]


def comparison_lines(stored: StoredPoints) -> list[str]:
    """The default pairs, each with its verdict, and how much narrower pairing made the intervals."""
    paired, ratio = default_comparisons(stored)
    rows = ["| a | b | FID(a) - FID(b) | 95 % interval | verdict |", "|---|---|---|---|---|"]
    rows += [f"| {d.a} | {d.b} | {d.difference:+.3f} | [{d.low:+.3f}, {d.high:+.3f}] | {verdict_text(d)} |"
             for d in paired]
    first = stored.points[0].record
    return [
        f"Every sample i of every point started from the same initial noise (seed {first.get(R.SEED)}, N = "
        f"{first.get(R.N)}), so two points are compared sample by sample: the bootstrap draws the same sample "
        "indices for both, and what the two samplers share cancels in the difference. A difference is called only "
        "when its 95 % interval excludes 0; otherwise the points are tied. `ddpm-bench compare DIR` prints these, "
        "with KID, and any other pair.",
        "\n".join(rows),
        EDGE_VERDICTS if any(d.at_edge() for d in paired) else "",
        (f"Pairing made the intervals {1 / ratio:.1f} times narrower than unpaired ones (median width ratio "
         f"{ratio:.2f} over {len(paired)} pairs)." if ratio else ""),
    ]
