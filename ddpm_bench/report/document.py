"""The comparison report of a sweep, for a reader: the answer first (the tie-aware pick and the best choice for
each time budget, with intervals), then the charts, the table, how to read it, the paired comparisons, what the
papers lead one to expect, the sample grids, and provenance. Written as ``report.md`` and a self-contained
``report.html`` (charts as inline SVG, grids embedded); ``ddpm-bench report DIR`` rebuilds both from the records.
"""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path
from typing import Optional

import pandas as pd

from ddpm_bench.stats.adaptive import EDGE_REASON, OUT_OF_REACH, reach_text
from ddpm_bench.report.charts import draw
from ddpm_bench.verdicts.comparisons import report_sections, stored_points
from ddpm_bench.model.data import EMBEDDED_MNIST_TEST
from ddpm_bench.report.expectations import expectations
from ddpm_bench.verdicts.pareto import TIME_TOLERANCE, decided_front, ms_text, pareto_front, point_name, recommendation
from ddpm_bench.store.records import (FLOOR, FLOOR_UNAVAILABLE, OK, REPORT, STATUS, load_frame, ok_points, point_label,
                                read_target_summary)
from ddpm_bench.runs.retime import read_timings
from ddpm_bench.stats import REFINE, REPLICATES

# the table: (record field, header a reader understands, format)
TABLE = [
    ("scheduler", "scheduler", "{}"), ("steps", "steps", "{:.0f}"), ("nfe", "model calls (NFE)", "{:.0f}"),
    ("ms_per_image", "ms / image", "{:.1f}"), ("fid", "FID", "{:.3f}"), ("fid_interval", "FID (95 % CI)", "{}"),
    ("fd_infinity", "FD∞", "{:.3f}"), ("kid_milli", "KID × 10³", "{:.2f}"),
    ("kid_interval", "KID × 10³ (95 % CI)", "{}"), ("prdc_precision", "precision", "{:.2f}"),
    ("prdc_recall", "recall", "{:.2f}"), ("prdc_density", "density", "{:.2f}"), ("prdc_coverage", "coverage", "{:.2f}"), ("near_copy_rate", "near copies", "{:.1%}"),
    ("status", "status", "{}"),
]

INTERVALS = (
    f"Intervals: 95 %, from the basic bootstrap over sample indices with the reference fixed ({REPLICATES} replicates, "
    f"{REFINE * REPLICATES:,} for a comparison whose interval ends within Monte Carlo error of 0; "
    "ddpm_bench/stats.py). Resampling repeats samples, which raises FID; the basic interval subtracts that rise, so "
    "it brackets the FID of the sampler's distribution rather than the N-sample value, and may lie below the "
    "table's FID. A lower end below 0 is shown as 0. With N near twice the feature dimension (256 samples of 128 "
    "features by default) the intervals are conservative, so \"tied\" is called more often than a larger N would."
)
SUBSET_KID = ("The KID of a point without a KID interval (recorded by an older ddpm-bench) is torchmetrics' mean over "
              "100 random subsets of its samples, not the KID over all N.")
COLUMNS = (
    "FD∞ (Chong & Forsyth 2020) is FID with the finite-N bias removed (FID on subsets of N/2 to N samples, "
    "extrapolated to infinitely many). KID is over all N samples, unbiased. Precision and density (how much of the "
    "samples lies on the real data) and recall and coverage (how much of the real data the samples reach) are "
    "Naeem et al. 2020's k-NN measures (k = 5) in the backbone's feature space: a low FID bought with low diversity "
    "shows as high precision with low recall and coverage. Near copies: the share of samples closer (pixel L2) to "
    "a reference image than any two reference images are to each other."
)
BELOW_THE_FLOOR = (
    "A point below the floor, or a negative KID, is noise, not a better-than-real sampler. The floor is N real "
    "images scored the same way. Samples a little less diverse than real data, or copies of training images, get "
    "a smaller finite-N FID than real data can. KID is unbiased, so when the true value is near 0 about half of its "
    "estimates fall below 0. Judge such points by their intervals and the paired comparisons, not by their order."
)


def sampled_points(frame: pd.DataFrame) -> pd.DataFrame:
    """Every point a scheduler was run for, finished or failed: all records but the real-data floor."""
    return frame[frame[STATUS] != FLOOR] if STATUS in frame else frame


def floor_row(frame: pd.DataFrame):
    rows = frame[frame[STATUS] == FLOOR] if STATUS in frame else frame.iloc[0:0]
    return rows.iloc[0] if len(rows) else None


def floor_sentence(floor, frame: pd.DataFrame) -> str:
    """What the floor (its record, or None) is and how to read it."""
    if floor is None:
        unavailable = frame[frame[STATUS] == FLOOR_UNAVAILABLE] if STATUS in frame else frame.iloc[0:0]
        if len(unavailable):
            return f"No real-data floor was measured: {unavailable.iloc[0].get('error')}."
        return ("No real-data floor was measured: a target search measures none (a sweep at one N does, e.g. "
                "`ddpm-bench sweep -n 512`).")
    source = floor.get("floor_data") if isinstance(floor.get("floor_data"), str) else floor.get("reference_source")
    interval = ""
    if "fid_low" in floor and floor["fid_low"] == floor["fid_low"]:
        interval = f" (95 % interval [{floor['fid_low']:.2f}, {floor['fid_high']:.2f}], the grey band)"
    text = (f"The grey line is the real-data floor: {int(floor['n'])} real images from {source} score FID "
            f"{floor['fid']:.2f}{interval}. A perfect sampler would score about this at N = {int(floor['n'])}.")
    if source == floor.get("reference_source"):
        text += (" These images come from the reference set itself (and, for the embedded model, from its training "
                 "data), so the floor is optimistic; `--floor-data` names held-out real images instead.")
    elif source == EMBEDDED_MNIST_TEST:
        text += (" They are MNIST test digits: none of them is in the reference, nor in the embedded model's or the "
                 "mnist-cnn backbone's training data.")
    return text


def pick(points: pd.DataFrame, front: pd.DataFrame, judge) -> list[str]:
    """The pick for the best quality: the top of the front, which is the lowest FID or tied with it and faster."""
    if front.empty or judge is None:
        return []
    top, best = front.iloc[-1], points.loc[points["fid"].idxmin()]
    if top["scheduler"] == best["scheduler"] and top["steps"] == best["steps"]:
        return [f"For the best quality: **{point_name(top)}** ({ms_text(top)} per image), which has the lowest FID "
                f"({top['fid']:.3f})."]
    difference = judge(top, best)
    if difference is None or difference.verdict != "tied":
        return []
    return [f"For the best quality: **{point_name(top)}** ({ms_text(top)} per image). The lowest FID "
            f"is {point_name(best)} ({best['fid']:.3f}), but the difference to it, "
            f"{difference.difference:+.3f} (paired 95 % interval [{difference.low:+.3f}, {difference.high:+.3f}]), "
            "is not told apart from 0 at this N; each faster choice in the budget list below is decidedly worse."]


def table(frame: pd.DataFrame, fid_n: Optional[int] = None) -> str:
    """The results as a markdown table with a reader's headers and numbers rounded for reading; ``fid_n``: the N
    that the FID columns hold, where points have different N (``at_common_n``)."""
    shown = frame.assign(
        fid_interval=_intervals(frame, "fid_low", "fid_high", 1.0, "{:.2f}"),
        kid_milli=frame["kid"] * 1000,
        kid_interval=_intervals(frame, "kid_low", "kid_high", 1000.0, "{:.2f}"),
    )
    columns = [(field, head, form) for field, head, form in TABLE if field in shown]
    if fid_n is not None:
        columns = [(field, head.replace("FID", f"FID at N = {fid_n}", 1) if field.startswith("fid") else head, form)
                   for field, head, form in columns]
    if "n" in shown and sampled_points(shown)["n"].nunique() > 1:  # adaptive N: each point's own
        columns.insert(3, ("n", "N", "{:.0f}"))
    if "error" in shown:
        columns.append(("error", "error", "{}"))

    def cell(value, form):
        if value is None or (isinstance(value, float) and value != value):
            return ""
        return form.format(value) if isinstance(value, (int, float)) else str(value)

    rows = ["| " + " | ".join(head for _, head, _ in columns) + " |", "|" + "---|" * len(columns)]
    rows += ["| " + " | ".join(cell(row.get(f), form) for f, _, form in columns) + " |" for _, row in shown.iterrows()]
    return "\n".join(rows)


def _intervals(frame: pd.DataFrame, low: str, high: str, factor: float, form: str) -> list[str]:
    if low not in frame:
        return [""] * len(frame)
    return [f"[{form.format(a * factor)}, {form.format(b * factor)}]" if a == a else ""
            for a, b in zip(frame[low], frame[high])]


def subset_kids(frame: pd.DataFrame) -> bool:
    """Whether some record holds torchmetrics' subset KID (with ``kid_std``) rather than the KID over all N."""
    return "kid_std" in frame and bool(frame["kid_std"].notna().any())


def grid_selection(frame: pd.DataFrame, per_scheduler: int = 3) -> list[tuple[str, list[tuple[int, str]]]]:
    """For each scheduler, the grids at its smallest, a middle and its largest step count."""
    chosen = []
    for label, group in ok_points(frame).groupby("scheduler"):
        group = group.sort_values("steps")
        picks = sorted({0, len(group) // 2, len(group) - 1})[:per_scheduler]
        chosen.append((label, [(int(group.iloc[i]["steps"]), group.iloc[i]["grid"]) for i in picks]))
    return chosen


def times_of(points: pd.DataFrame) -> dict[str, float]:
    """Each point's seconds per image as this report shows them, by the label ``compare`` gives it."""
    return {point_label(r["scheduler"], int(r["steps"])): r["seconds_per_image"] for _, r in points.iterrows()}


def with_side_by_side_times(frame: pd.DataFrame, folder: Path, summary) -> tuple[pd.DataFrame, str]:
    """The records with each point's time measured side by side in place of the time taken while it was sampled,
    so that every section compares like with like, and the sentence that says which times the report shows. The
    times: a target search's own (``timings`` in target.json), else ``ddpm-bench retime``'s (timings.json) while
    they cover every finished point."""
    sampled = ("Time is the median over batches of the sampling loop's wall time per image (initial noise, model "
               "calls, scheduler steps), after an untimed warm-up; NFE is counted in the loop.")
    if summary and summary.get("timings"):
        untimed = untimed_points(frame, summary["timings"])
        return _with_times(frame, summary["timings"]), (
            sampled + " Here each point the search judged was measured again side by side at the end of the search "
            "(above)" + (f"; {', '.join(untimed)} keep the times of their own sampling." if untimed else "."))
    retimed = read_timings(folder)
    unmeasured = sampled + (" Each point was timed while it was sampled: points sampled in separate runs, or beside "
                            "other work, compare poorly; `ddpm-bench retime DIR` times them all again side by side.")
    if not retimed:
        return frame, unmeasured
    missing = untimed_points(frame, retimed["timings"])
    if missing:
        return frame, unmeasured + (f" (timings.json is older than {', '.join(missing)}, so the times it holds are "
                                    "not used.)")
    return _with_times(frame, retimed["timings"]), (
        sampled + f" Here every point was timed again side by side by `ddpm-bench retime`: {retimed['rounds']} rounds, "
        f"each one batch of {retimed['batch_size']} images of every point in turn, the median of each point's "
        f"rounds ({retimed['device']}); the times taken while sampling are in records.jsonl.")


def untimed_points(frame: pd.DataFrame, timings: list[dict]) -> list[str]:
    """The finished points that ``timings`` leaves out, by label."""
    timed = {(t["scheduler"], t["steps"]) for t in timings}
    points = ok_points(frame)
    return [point_label(s, int(k)) for s, k in zip(points["scheduler"], points["steps"]) if (s, int(k)) not in timed]


def _with_times(frame: pd.DataFrame, timings: list[dict]) -> pd.DataFrame:
    timed = {(t["scheduler"], t["steps"]): t["seconds_per_image"] for t in timings}
    frame = frame.copy()
    keys = list(zip(frame["scheduler"], frame["steps"].fillna(0).astype(int)))
    frame["seconds_per_image"] = [timed.get(key, value) for key, value in zip(keys, frame["seconds_per_image"])]
    frame["ms_per_image"] = frame["seconds_per_image"] * 1000
    return frame


def target_section(folder: Path, summary, points: pd.DataFrame) -> list[str]:
    """The answer of a target search: its table, how it was decided, and its search path on the FID-versus-time
    plane. Empty for a sweep folder."""
    from ddpm_bench.report.charts import draw_search

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
                     f"({best['seconds_per_image'] * 1000:.1f} ms per image)" + (f"; then {others}." if others else "."))
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
        lines.append(f"![The search path of each scheduler on the FID-versus-time plane; arrows in the order the points "
                     f"were judged, filled markers met the target, labels: steps]({chart.name})")
    return lines


def ended_out_of_reach(result: dict) -> bool:
    """Whether a scheduler's search (a result of target.json) stopped at a point out of reach."""
    return bool(result["path"]) and result["path"][-1]["outcome"] == OUT_OF_REACH


def chosen_at_edge(result: dict) -> bool:
    """Whether the look a scheduler's answer rests on (its fewest steps met, or its last look) is at the edge."""
    return any(look.get("edge") for look in result["path"] if look["steps"] == result["steps"])


def edge_note(result: dict) -> str:
    """How the tables mark a scheduler's answer that verdicts at the edge could move (target.fewest_met): one that
    rests on such a verdict, with the fewest steps that met the target clear of the edge (where the answer would be
    should that verdict go the other way), and fewer steps that missed the target at the edge (where it could be)."""
    notes = []
    if chosen_at_edge(result):
        notes.append("at the edge")
        if result["met"] and "firm_steps" in result:  # a target.json from before firm_steps has not got it
            firm = result["firm_steps"]
            notes.append(f"{firm} steps clear of it" if firm is not None else
                         "no step count tried met it clear of the edge")
    if result.get("edge_below") is not None:
        notes.append(f"{result['edge_below']} steps missed it at the edge")
    return f" ({'; '.join(notes)})" if notes else ""


def missed_text(result: dict) -> str:
    """How a scheduler's search ended without meeting the target, before its last step count."""
    return "out of reach at" if ended_out_of_reach(result) else "best tried:"


def look_text(result: dict, matching: bool) -> str:
    value = result["difference"] if matching else result["fid"]
    if value is None:
        return "failed"
    return f"{value:+.3f} [{result['low']:+.3f}, {result['high']:+.3f}]" if matching else \
        f"{value:.3f} [{result['low']:.3f}, {result['high']:.3f}]"


def decisions_section(folder: Path) -> list[str]:
    """The verdicts of ``sweep --decide`` (decisions.json): each comparison at the N it was decided at."""
    from ddpm_bench.verdicts.comparisons import EDGE_VERDICTS, flagged
    from ddpm_bench.runs.decide import read_decisions

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
    from ddpm_bench.runs.convergence import read_convergence

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


def sample_count_text(frame: pd.DataFrame, fid_n: Optional[int] = None) -> str:
    """N, or its range when points have different N (a target search's adaptive N), and then the N that their FIDs
    are compared at (``fid_n``)."""
    counts = sorted({int(n) for n in sampled_points(frame)["n"].dropna()}) if "n" in frame else []
    if len(counts) > 1:
        compared = (f"; FIDs are over each point's first {fid_n} samples, so that all carry the same finite-N bias"
                    if fid_n is not None else "")
        return f"N = {counts[0]} to {counts[-1]} samples per point (each point's N is in the table{compared})"
    return f"N = {counts[0] if counts else frame.iloc[0].get('n')} samples per point"


def at_common_n(frame: pd.DataFrame, stored) -> tuple[pd.DataFrame, Optional[int]]:
    """Where points have different N, each finished point's FID and interval over the first samples that every
    point has (``StoredPoints.common_n``), and that N: FID is biased upward by about a constant over N (Chong &
    Forsyth 2020), so FIDs at N = 256 and 512 side by side would rank points by their N. Unchanged (and None) when
    every point has the same N, or some finished point kept no features."""
    if stored is None or stored.common_n is None:
        return frame, None
    labels = [point_label(s, int(k)) if status == OK else None
              for s, k, status in zip(frame["scheduler"], frame["steps"].fillna(0), frame[STATUS])]
    if any(label is not None and label not in stored.by_label for label in labels):
        return frame, None
    frame = frame.copy()
    for index, label in zip(frame.index, labels):
        if label is not None:
            for key, value in stored.fid_scores(stored.by_label[label]).items():
                frame.at[index, key] = value
    return frame, stored.common_n


def write_report(folder: str | Path, time_tolerance: float = TIME_TOLERANCE) -> Path:
    folder = Path(folder)
    summary = read_target_summary(folder)
    recorded, time_sentence = with_side_by_side_times(load_frame(folder), folder, summary)
    stored = stored_points(folder)
    frame, fid_n = at_common_n(recorded, stored)
    points = ok_points(frame)
    floor = floor_row(frame)
    judge = stored.fid_difference if stored is not None else None
    front = None
    if judge is not None:
        front = decided_front(points, lambda a, b: None if (d := judge(a, b)) is None else d.verdict == "a better",
                              time_tolerance)
    decided = front is not None
    if front is None:
        front = pareto_front(points, time_tolerance)
    comparisons, ties = report_sections(stored, times_of(points))
    first = frame.iloc[0]
    setting = (f"{sample_count_text(frame, fid_n)}, seed {first.get('seed')}, scored with the "
               f"`{first.get('backbone')}` feature network against {first.get('reference')}")
    sections = ["# ddpm-bench sweep report", f"Model `{first.get('model')}`; {setting}.",
                *target_section(folder, summary, ok_points(recorded)), "## The answer",
                *pick(points, front, judge), *ties, *recommendation(points, front, time_tolerance, decided)]
    if len(points):
        sections.append("## Charts")
        for axis, caption in (("time", "FID and KID against time per image"),
                              ("nfe", "FID and KID against model calls per image")):
            chart = draw(points, floor, axis, folder / f"fid_vs_{axis}.svg")
            sections.append(f"![{caption}; labels: steps; {setting}]({chart.name})")
        sections.append(floor_sentence(floor, frame))
    sections += [
        "## Results",
        table(frame, fid_n),
        "## How to read these numbers",
        INTERVALS, COLUMNS, SUBSET_KID if subset_kids(frame) else "", BELOW_THE_FLOOR,
        time_sentence,
        "## Paired comparisons",
        *decisions_section(folder),
        *comparisons,
        *convergence_section(folder),
        "## What the papers lead one to expect, and whether this sweep shows it",
        *(expectations(points, judge) or ["(this sweep holds none of the schedulers that the papers' claims compare)"]),
        "## Samples",
        "The first samples of each point; sample i of every point started from the same noise.",
    ]
    for label, grids in grid_selection(frame):
        sections.append("\n".join(f"![{label} at {steps} steps]({path})" for steps, path in grids))
    versions = first.get("versions") if isinstance(first.get("versions"), dict) else {}
    sections += [
        "## Provenance",
        f"Model `{first.get('model')}`, weights sha256 `{str(first.get('model_sha256'))[:16]}`; {setting}; batch size "
        f"{first.get('batch_size')}, precision {first.get('precision')}, device "
        f"{points.iloc[0]['device'] if len(points) else '?'}. Images meet the feature network as follows: "
        f"{first.get('preprocessing')}.",
        "Schedulers: " + "; ".join(
            f"`{r['scheduler']}` from plugin {r.get('plugin')} ({r.get('plugin_package')} {r.get('plugin_version')})"
            for _, r in sampled_points(frame).drop_duplicates("scheduler").iterrows()
        ),
        "Libraries: " + ", ".join(f"{k} {v}" for k, v in versions.items()),
        "Reproduce: `ddpm-bench sweep --config sweep.toml --out DIR` (the config beside this report).",
    ]
    markdown = "\n\n".join(str(s) for s in sections if s) + "\n"  # a section with nothing to say is left out
    (folder / REPORT).write_text(markdown)
    (folder / REPORT).with_suffix(".html").write_text(to_html(markdown, folder))
    return folder / REPORT


def to_html(markdown: str, folder: Path) -> str:
    """A self-contained HTML page from the report's markdown: tables, headings, paragraphs; a block of image lines
    becomes a row of figures, each captioned (its alt text) underneath; SVG charts are inlined, grids embedded."""
    def figure(alt: str, name: str) -> str:
        path = folder / name
        caption = f"<figcaption>{html.escape(alt.replace('`', ''))}</figcaption>"
        if path.suffix == ".svg" and path.exists():
            svg = re.sub(r"^.*?(?=<svg)", "", path.read_text(), flags=re.S)
            svg = re.sub(r'<svg([^>]*?) width="[^"]*" height="[^"]*"', r'<svg\1 style="width:100%;height:auto"', svg, count=1)
            return f'<figure class="chart" role="img" aria-label="{html.escape(alt)}">{svg}{caption}</figure>'
        data = base64.b64encode(path.read_bytes()).decode() if path.exists() else ""
        return f'<figure class="grid"><img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">{caption}</figure>'

    def inline(text):
        text = html.escape(text)
        text = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", text)
        return re.sub(r"`([^`]+)`", r"<code>\1</code>", text)

    body = []
    for block in markdown.split("\n\n"):
        lines = block.strip().splitlines()
        if not lines:
            continue
        images = [re.fullmatch(r"!\[([^\]]*)\]\(([^)]+)\)", line) for line in lines]
        if all(images):
            body.append('<div class="figures">' + "".join(figure(m.group(1), m.group(2)) for m in images) + "</div>")
        elif lines[0].startswith("#"):
            level = len(lines[0]) - len(lines[0].lstrip("#"))
            body.append(f"<h{level}>{inline(lines[0].lstrip('# '))}</h{level}>")
        elif lines[0].startswith("|"):
            rows = [[c.strip() for c in line.strip("|").split("|")] for line in lines if not line.startswith("|---")]
            head = "".join(f"<th>{inline(c)}</th>" for c in rows[0])
            cells = "".join("<tr>" + "".join(f"<td>{inline(c)}</td>" for c in row) + "</tr>" for row in rows[1:])
            body.append(f'<div class="table"><table><tr>{head}</tr>{cells}</table></div>')
        else:
            body.append(f"<p>{inline(' '.join(lines))}</p>")
    style = ("body{font-family:system-ui,sans-serif;max-width:1180px;margin:auto;padding:0 16px;line-height:1.45}"
             "table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 7px;"
             "text-align:right}th{background:#f3f3f3}.table{overflow-x:auto}figure{margin:8px 0}"
             ".figures{display:flex;flex-wrap:wrap;gap:16px}.chart{width:100%}.grid img{image-rendering:pixelated;"
             "width:252px}figcaption{font-size:13px;color:#444;text-align:center}")
    return ("<!doctype html><html><head><meta charset='utf-8'><title>ddpm-bench report</title>"
            f"<style>{style}</style></head><body>{''.join(body)}</body></html>\n")
