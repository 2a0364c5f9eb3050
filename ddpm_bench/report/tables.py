"""The report's results table, the sample grids it shows, and the times it shows: each point's time measured side
by side where the folder holds such timings (a target search's, or ``ddpm-bench retime``'s)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import pandas as pd

from ddpm_bench.store import records as R
from ddpm_bench.store.folder_files import read_timings
from ddpm_bench.store.records import ok_points, point_label

# columns the tables add to the records (no record fields)
FID_SHOWN = "fid_shown"  # the estimate with the 95 % interval that brackets it: "0.49 [0.00, 1.46]"
KID_SHOWN = "kid_shown"  # KID x 10^3 the same way (the interval alone where the record has no estimate)
CMMD_SHOWN = "cmmd_shown"  # CMMD the same way (the clip backbone's)

MAIN = [
    (R.SCHEDULER, "scheduler", "{}"), (R.STEPS, "steps", "{:.0f}"), (R.NFE, "NFE", "{:.0f}"),
    (R.MS_PER_IMAGE, "ms / image", "{:.1f}"), (FID_SHOWN, "FID, bias-corrected [95 % interval]", "{}"),
    (R.FID, "FID at N", "{:.2f}"), (KID_SHOWN, "KID × 10³ [95 % interval]", "{}"),
]
DETAILS = [
    (R.SCHEDULER, "scheduler", "{}"), (R.STEPS, "steps", "{:.0f}"), (R.FD_INFINITY, "FD∞", "{:.2f}"),
    (R.PRDC_PRECISION, "precision", "{:.2f}"), (R.PRDC_RECALL, "recall", "{:.2f}"),
    (R.PRDC_DENSITY, "density", "{:.2f}"), (R.PRDC_COVERAGE, "coverage", "{:.2f}"),
    (R.NEAR_COPY_RATE, "near copies", "{:.1%}"), (CMMD_SHOWN, "CMMD [95 % interval]", "{}"), (R.STATUS, "status", "{}"),
]


def shown(value: float, low: float, high: float, factor: float = 1.0) -> str:
    """``0.49 [0.00, 1.46]``: an estimate beside the interval that brackets it; the interval alone for a value that
    is not its estimate (NaN); empty without an interval."""
    if low is None or low != low:
        return ""
    interval = f"[{low * factor:.2f}, {high * factor:.2f}]"
    return interval if value is None or value != value else f"{value * factor:.2f} {interval}"


def column(frame: pd.DataFrame, field: str) -> list:
    return list(frame[field]) if field in frame else [None] * len(frame)


def table(frame: pd.DataFrame, fid_n: Optional[int] = None, metric: str = "FID") -> str:
    """The main results table (at most eight columns): cost, the FID estimate with its interval, FID at N as papers
    give it, and KID; ``fid_n``: the N that the FID columns hold, where points have different N (``with_estimates``);
    ``metric``: what the backbone's Frechet distance is called (FID, FD_DINOv2, FD_CLIP)."""
    shown_frame = frame.assign(**{
        FID_SHOWN: [shown(v, a, b) for v, a, b in zip(column(frame, R.FID_ESTIMATE), column(frame, R.FID_LOW),
                                                      column(frame, R.FID_HIGH))],
        KID_SHOWN: [shown(v, a, b, 1000.0) for v, a, b in zip(column(frame, R.KID_ESTIMATE), column(frame, R.KID_LOW),
                                                               column(frame, R.KID_HIGH))],
    })
    columns = [(field, head.replace("FID", metric), form) for field, head, form in MAIN if field in shown_frame]
    if fid_n is not None:
        columns = [(f, head.replace(f"{metric} at N", f"{metric} at N = {fid_n}"), form) for f, head, form in columns]
    if R.N in shown_frame and R.sampled_points(shown_frame)[R.N].nunique() > 1:  # adaptive N: each point's own
        columns.insert(3, (R.N, "N", "{:.0f}"))
    return markdown_table(shown_frame, columns)


def details_table(frame: pd.DataFrame) -> str:
    """The rest of each record: FD∞, precision/recall/density/coverage, near copies, CMMD, status and any error."""
    frame = frame.assign(**{CMMD_SHOWN: [
        shown(v, a, b) for v, a, b in zip(column(frame, R.CMMD_ESTIMATE), column(frame, R.CMMD_LOW),
                                          column(frame, R.CMMD_HIGH))]}) if R.CMMD_LOW in frame else frame
    columns = [(field, head, form) for field, head, form in DETAILS if field in frame]
    if R.ERROR in frame:
        columns.append((R.ERROR, "error", "{}"))
    return markdown_table(frame, columns)


def markdown_table(frame: pd.DataFrame, columns: list[tuple[str, str, str]]) -> str:
    def cell(value, form):
        if value is None or (isinstance(value, float) and value != value):
            return ""
        return form.format(value) if isinstance(value, (int, float)) else str(value)

    rows = ["| " + " | ".join(head for _, head, _ in columns) + " |", "|" + "---|" * len(columns)]
    rows += ["| " + " | ".join(cell(row.get(f), form) for f, _, form in columns) + " |" for _, row in frame.iterrows()]
    return "\n".join(rows)


def subset_kids(frame: pd.DataFrame) -> bool:
    """Whether some record holds torchmetrics' subset KID (with ``kid_std``) rather than the KID over all N."""
    return R.KID_STD in frame and bool(frame[R.KID_STD].notna().any())


def grid_selection(frame: pd.DataFrame, marked: list[str] = (),
                   per_scheduler: int = 3) -> list[tuple[str, list[tuple[int, str]]]]:
    """For each scheduler, the grids at its smallest, a middle and its largest step count, and at every point the
    answer names (``marked``, by label)."""
    chosen = []
    for label, group in ok_points(frame).groupby(R.SCHEDULER):
        group = group.sort_values(R.STEPS).reset_index(drop=True)
        picks = set(sorted({0, len(group) // 2, len(group) - 1})[:per_scheduler])
        picks |= {i for i, steps in enumerate(group[R.STEPS]) if point_label(label, int(steps)) in marked}
        chosen.append((label, [(int(group.iloc[i][R.STEPS]), group.iloc[i][R.GRID]) for i in sorted(picks)]))
    return chosen


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
    unmeasured = sampled + " " + timing_origin(ok_points(frame))
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


def timing_origin(points: pd.DataFrame) -> str:
    """Where the points' own times come from: how many machines and runs (records name both), and that times from
    several compare poorly."""
    devices = sorted({str(d) for d in points[R.DEVICE].dropna()}) if R.DEVICE in points else []
    runs = {str(r) for r in points[R.RUN].dropna()} if R.RUN in points else set()
    retime = "`ddpm-bench retime DIR` times them all again side by side, on one machine."
    if len(devices) > 1:
        return (f"**These points were timed on {len(devices)} different machines** ({'; '.join(devices)}): their "
                f"times do not compare. {retime}")
    if len(runs) > 1:
        return (f"These points were timed in {len(runs)} separate runs, on {devices[0] if devices else 'one machine'}: "
                f"times from separate runs, beside whatever else the machine did, compare poorly. {retime}")
    if runs:
        return f"Every point was timed in one run, on {devices[0] if devices else 'one machine'}."
    return ("Each point was timed while it was sampled (these records do not say in which run): points sampled in "
            f"separate runs, or beside other work, compare poorly. {retime}")


def untimed_points(frame: pd.DataFrame, timings: list[dict]) -> list[str]:
    """The finished points that ``timings`` leaves out, by label."""
    timed = {(t["scheduler"], t["steps"]) for t in timings}
    points = ok_points(frame)
    return [point_label(s, int(k)) for s, k in zip(points[R.SCHEDULER], points[R.STEPS]) if (s, int(k)) not in timed]


def _with_times(frame: pd.DataFrame, timings: list[dict]) -> pd.DataFrame:
    timed = {(t["scheduler"], t["steps"]): t["seconds_per_image"] for t in timings}
    frame = frame.copy()
    keys = list(zip(frame[R.SCHEDULER], frame[R.STEPS].fillna(0).astype(int)))
    frame[R.SECONDS_PER_IMAGE] = [timed.get(key, value) for key, value in zip(keys, frame[R.SECONDS_PER_IMAGE])]
    frame[R.MS_PER_IMAGE] = frame[R.SECONDS_PER_IMAGE] * 1000
    return frame
