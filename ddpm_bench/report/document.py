"""The comparison report of a results folder, for a reader: the answer first (the tie-aware pick and the best choice
for each time budget, with intervals), then the charts, the table, how to read it, the paired comparisons, what the
papers lead one to expect, the sample grids, and provenance. Written as ``report.md`` and a self-contained
``report.html``; ``ddpm-bench report DIR`` rebuilds both from the folder's files alone (records, stored features,
the reference statistics it keeps, and what other commands left there).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import pandas as pd

from ddpm_bench.report.answer import pick, recommendation, ties
from ddpm_bench.report.charts import draw
from ddpm_bench.report.html import to_html
from ddpm_bench.report.sections import comparison_lines, convergence_section, decisions_section, target_section
from ddpm_bench.report.tables import grid_selection, subset_kids, table, with_side_by_side_times
from ddpm_bench.report.text import (
    BELOW_THE_FLOOR,
    COLUMNS,
    NO_FEATURES,
    NO_REFERENCE,
    SUBSET_KID,
    intervals_text,
    sample_count_text,
)
from ddpm_bench.store import records as R
from ddpm_bench.store.folder_files import read_target_summary
from ddpm_bench.store.records import REPORT, load_frame, ok_points, point_label
from ddpm_bench.verdicts import (
    TIME_TOLERANCE,
    StoredPoints,
    best_and_ties,
    budget_front,
    expectations,
    quality_pick,
    stored_points,
)


def floor_row(frame: pd.DataFrame):
    rows = frame[frame[R.STATUS] == R.FLOOR] if R.STATUS in frame else frame.iloc[0:0]
    return rows.iloc[0] if len(rows) else None


def floor_sentence(floor, frame: pd.DataFrame) -> str:
    """What the floor (its record, or None) is and how to read it."""
    if floor is None:
        unavailable = frame[frame[R.STATUS] == R.FLOOR_UNAVAILABLE] if R.STATUS in frame else frame.iloc[0:0]
        if len(unavailable):
            return f"No real-data floor was measured: {unavailable.iloc[0].get(R.ERROR)}."
        return ("No real-data floor was measured: a target search measures none (a sweep at one N does, e.g. "
                "`ddpm-bench sweep -n 512`).")
    source = floor.get(R.FLOOR_DATA) if isinstance(floor.get(R.FLOOR_DATA), str) else floor.get(R.REFERENCE_SOURCE)
    interval = ""
    if R.FID_LOW in floor and floor[R.FID_LOW] == floor[R.FID_LOW]:
        interval = f" (95 % interval [{floor[R.FID_LOW]:.2f}, {floor[R.FID_HIGH]:.2f}], the grey band)"
    text = (f"The grey line is the real-data floor: {int(floor[R.N])} real images from {source} score FID "
            f"{floor[R.FID]:.2f}{interval}. A perfect sampler would score about this at N = {int(floor[R.N])}.")
    if source == floor.get(R.REFERENCE_SOURCE):
        text += (" These images come from the reference set itself (and, for the embedded model, from its training "
                 "data), so the floor is optimistic; `--floor-data` names held-out real images instead.")
    elif source == R.EMBEDDED_MNIST_TEST:
        text += (" They are MNIST test digits: none of them is in the reference, nor in the embedded model's or the "
                 "mnist-cnn backbone's training data.")
    return text


def times_of(points: pd.DataFrame) -> dict[str, float]:
    """Each point's seconds per image as this report shows them, by the label ``compare`` gives it."""
    return {point_label(r[R.SCHEDULER], int(r[R.STEPS])): r[R.SECONDS_PER_IMAGE] for _, r in points.iterrows()}


def at_common_n(frame: pd.DataFrame, stored) -> tuple[pd.DataFrame, Optional[int]]:
    """Where points have different N, each finished point's FID and interval over the first samples that every
    point has (``StoredPoints.common_n``), and that N: FID is biased upward by about a constant over N (Chong &
    Forsyth 2020), so FIDs at N = 256 and 512 side by side would rank points by their N. Unchanged (and None) when
    every point has the same N, or some finished point kept no features."""
    if stored is None or stored.common_n is None:
        return frame, None
    labels = [point_label(s, int(k)) if status == R.OK else None
              for s, k, status in zip(frame[R.SCHEDULER], frame[R.STEPS].fillna(0), frame[R.STATUS])]
    if any(label is not None and label not in stored.by_label for label in labels):
        return frame, None
    frame = frame.copy()
    for index, label in zip(frame.index, labels):
        if label is not None:
            for key, value in stored.fid_scores(stored.by_label[label]).items():
                frame.at[index, key] = value
    return frame, stored.common_n


def fewest_samples(frame: pd.DataFrame, fid_n: Optional[int]) -> int:
    """The N that the report's FIDs and intervals are over: the common N where points differ, else the points' N."""
    counts = R.sampled_points(frame)[R.N].dropna() if R.N in frame else []
    return fid_n if fid_n is not None else int(min(counts, default=0))


def feature_dimension(stored: Optional[StoredPoints]) -> Optional[int]:
    """The feature network's dimension D, from the reference the folder keeps (None without stored features)."""
    return None if stored is None else len(stored.reference.mu)


def paired_sections(stored: Optional[StoredPoints], seconds: dict[str, float],
                    kept_features: bool) -> tuple[list[str], list[str]]:
    """The report's paired comparisons, and the points tied with the best (``seconds``: each point's time per image
    as the report shows it, by label; ``kept_features``: whether any point kept its features, to say why there are
    no intervals where there are none)."""
    if stored is None:
        return ([NO_REFERENCE if kept_features else NO_FEATURES], [])
    best, tied = best_and_ties(stored)
    return comparison_lines(stored), ties(best, stored.fid_scores(best)[R.FID], tied, seconds)


def write_report(folder: str | Path, time_tolerance: float = TIME_TOLERANCE) -> Path:
    folder = Path(folder)
    summary = read_target_summary(folder)
    recorded, time_sentence = with_side_by_side_times(load_frame(folder), folder, summary)
    stored = stored_points(folder)
    frame, fid_n = at_common_n(recorded, stored)
    points = ok_points(frame)
    floor = floor_row(frame)
    judge = stored.fid_difference if stored is not None else None
    front, decided = budget_front(points, judge, time_tolerance)
    kept_features = R.FEATURES in points and bool(points[R.FEATURES].map(lambda f: isinstance(f, str)).any())
    comparisons, tie_lines = paired_sections(stored, times_of(points), kept_features)
    first = frame.iloc[0]
    setting = (f"{sample_count_text(frame, fid_n)}, seed {first.get(R.SEED)}, scored with the "
               f"`{first.get(R.BACKBONE)}` feature network against {first.get(R.REFERENCE)}")
    sections = ["# ddpm-bench sweep report", f"Model `{first.get(R.MODEL)}`; {setting}.",
                *target_section(folder, summary, ok_points(recorded)), "## The answer",
                *pick(quality_pick(points, front, judge)), *tie_lines,
                *recommendation(points, front, time_tolerance, decided)]
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
        intervals_text(fewest_samples(frame, fid_n), feature_dimension(stored)), COLUMNS,
        SUBSET_KID if subset_kids(frame) else "", BELOW_THE_FLOOR,
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
    versions = first.get(R.VERSIONS) if isinstance(first.get(R.VERSIONS), dict) else {}
    sections += [
        "## Provenance",
        f"Model `{first.get(R.MODEL)}`, weights sha256 `{str(first.get(R.MODEL_SHA256))[:16]}`; {setting}; batch size "
        f"{first.get(R.BATCH_SIZE)}, precision {first.get(R.PRECISION)}, device "
        f"{points.iloc[0][R.DEVICE] if len(points) else '?'}. Images meet the feature network as follows: "
        f"{first.get(R.PREPROCESSING)}.",
        "Schedulers: " + "; ".join(
            f"`{r[R.SCHEDULER]}` from plugin {r.get(R.PLUGIN)} ({r.get(R.PLUGIN_PACKAGE)} {r.get(R.PLUGIN_VERSION)})"
            for _, r in R.sampled_points(frame).drop_duplicates(R.SCHEDULER).iterrows()
        ),
        "Libraries: " + ", ".join(f"{k} {v}" for k, v in versions.items()),
        "Reproduce: `ddpm-bench sweep --config sweep.toml --out DIR` (the config beside this report).",
    ]
    markdown = "\n\n".join(str(s) for s in sections if s) + "\n"  # a section with nothing to say is left out
    (folder / REPORT).write_text(markdown)
    (folder / REPORT).with_suffix(".html").write_text(to_html(markdown, folder))
    return folder / REPORT
