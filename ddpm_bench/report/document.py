"""The comparison report of a results folder, for a reader: the answer first (per time budget, the fastest point
shown as good as the best, or a target search's answer), then the charts, the results, how to read them, how the
answer was decided, the paired comparisons, what the papers lead one to expect, the sample grids, the rest of each
record, provenance and how to reproduce the folder. Written as ``report.md`` and a self-contained ``report.html``;
``ddpm-bench report DIR`` rebuilds both from the folder's files alone (records, stored features, the reference
statistics it keeps, and what other commands left there), and ``--json`` prints the answer as data.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import pandas as pd

from ddpm_bench.report.answer import answer_lines, decided_lines, estimates_only, settle_command
from ddpm_bench.report.charts import ANSWER as ANSWER_MARK
from ddpm_bench.report.charts import SEARCH_ANSWER, draw
from ddpm_bench.report.html import to_html
from ddpm_bench.report.reproduce import reproduce_section
from ddpm_bench.report.sections import comparison_lines, convergence_section, decisions_section
from ddpm_bench.report.tables import details_table, grid_selection, subset_kids, table, with_side_by_side_times
from ddpm_bench.report.target import target_answer_lines, target_data, target_section
from ddpm_bench.report.text import (
    BELOW_THE_FLOOR,
    COLUMNS,
    NO_FEATURES,
    NO_REFERENCE,
    SUBSET_KID,
    intervals_text,
    sample_count_text,
    small_n_warning,
)
from ddpm_bench.store import records as R
from ddpm_bench.store.folder_files import read_target_summary, read_timings
from ddpm_bench.store.records import ANSWER, REPORT, load_frame, ok_points, point_label
from ddpm_bench.verdicts import (
    TIME_TOLERANCE,
    Margin,
    StoredPoints,
    answer,
    answer_data,
    expectations,
    pareto_front,
    reference_point,
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
    n = int(floor[R.N])
    has_interval = R.FID_LOW in floor and floor[R.FID_LOW] == floor[R.FID_LOW]
    estimate = floor.get(R.FID_ESTIMATE)
    if has_interval and estimate is not None and estimate == estimate:
        score = (f"FID {estimate:.2f} (95 % interval [{floor[R.FID_LOW]:.2f}, {floor[R.FID_HIGH]:.2f}], the grey "
                 f"band; {floor[R.FID]:.2f} at N)")
    elif has_interval:  # a floor recorded before its estimate was: the interval, and the value at N labelled
        score = (f"an FID whose 95 % interval is [{floor[R.FID_LOW]:.2f}, {floor[R.FID_HIGH]:.2f}] (the grey band; "
                 f"{floor[R.FID]:.2f} at N)")
    else:
        score = f"FID {floor[R.FID]:.2f} at N"
    text = (f"The grey line is the real-data floor: {n} real images from {source} score {score}. A perfect sampler "
            f"would score about this at N = {n}.")
    if source == floor.get(R.REFERENCE_SOURCE):
        text += (" These images come from the reference set itself (and, for the embedded model, from its training "
                 "data), so the floor is optimistic; `--floor-data` names held-out real images instead.")
    elif source == R.EMBEDDED_MNIST_TEST:
        text += (" They are MNIST test digits: none of them is in the reference, nor in the embedded model's or the "
                 "mnist-cnn backbone's training data.")
    return text


def with_estimates(frame: pd.DataFrame, stored: Optional[StoredPoints]) -> tuple[pd.DataFrame, Optional[int]]:
    """Each finished point's FID at N, the estimate of its Frechet distance and the interval that brackets it, as
    points are compared (``StoredPoints.fid_scores``: over the first samples that every point has, where points have
    different N, so that FIDs at N = 256 and 512 side by side do not rank points by their N; Chong & Forsyth 2020),
    and that common N (None where every point has the same N). Unchanged without stored features."""
    if stored is None:
        return frame, None
    labels = [point_label(s, int(k)) if status == R.OK else None
              for s, k, status in zip(frame[R.SCHEDULER], frame[R.STEPS].fillna(0), frame[R.STATUS])]
    frame = frame.copy()
    for index, label in zip(frame.index, labels):
        if label in stored.by_label:  # a point that kept no features keeps its record's values
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


def judged_points(points: pd.DataFrame, stored: StoredPoints) -> pd.DataFrame:
    """The finished points the answer can judge: those that kept their features (a point swept with --no-features
    beside them is named in the answer, not judged)."""
    return points[[R.record_label(row) in stored.by_label for row in points.to_dict("records")]]


def has_estimates(points: pd.DataFrame) -> bool:
    return len(points) > 0 and R.FID_ESTIMATE in points and bool(points[R.FID_ESTIMATE].notna().all())


def machines(points: pd.DataFrame, summary: Optional[dict], retimed: Optional[dict]) -> list[str]:
    """The machines the shown times were measured on, in words (one for side-by-side timings)."""
    if summary and summary.get("timings") or retimed:
        return [(retimed or {}).get("device") or "the machine of the side-by-side timing"]
    return sorted({str(d) for d in points[R.DEVICE].dropna()}) if R.DEVICE in points else []


@dataclass
class Findings:
    """What a report says, computed once: the points at a common N with their estimates, the answer as data (the
    object ``ddpm-bench report --json`` prints), and what the sections need beside it."""

    folder: Path
    frame: pd.DataFrame
    points: pd.DataFrame
    stored: Optional[StoredPoints]
    summary: Optional[dict]
    fid_n: Optional[int]
    time_sentence: str
    data: dict


def findings(folder: str | Path, time_tolerance: float = TIME_TOLERANCE, margin: Optional[float] = None) -> Findings:
    """Everything the report decides, from the folder's files alone."""
    folder = Path(folder)
    summary = read_target_summary(folder)
    recorded, time_sentence = with_side_by_side_times(load_frame(folder), folder, summary)
    stored = stored_points(folder)
    frame, fid_n = with_estimates(recorded, stored)
    points = ok_points(frame)
    first = frame.iloc[0]
    named = first.get(R.FRECHET_NAME)
    data = {"folder": str(folder), "metric": named if isinstance(named, str) else "FID",
            "backbone": first.get(R.BACKBONE),
            "reference": first.get(R.REFERENCE), "seed": none_if_nan(first.get(R.SEED)),
            "machines": machines(points, summary, read_timings(folder)),
            "n": fewest_samples(frame, fid_n), "feature_dimension": feature_dimension(stored)}
    if summary:
        data.update(kind="target", **target_data(summary))
    elif stored is not None and has_estimates(judged := judged_points(points, stored)):
        lowest = reference_point(judged)
        chosen = Margin.of(margin, R.record_label(lowest), lowest[R.FID_ESTIMATE])
        data.update(kind="sweep", **answer_data(answer(judged, stored.fid_difference, chosen, data["n"],
                                                       time_tolerance)),
                    unjudged=[label for label in map(R.record_label, points.to_dict("records"))
                              if label not in stored.by_label])
    else:
        data.update(kind="sweep", pick=None, budgets=None)
    return Findings(folder, frame, points, stored, summary, fid_n, time_sentence, data)


def answer_json(data: dict) -> str:
    """The answer as JSON text: numpy's numbers (from the records' frame) as plain ones, a missing value (NaN) as
    null, so that any JSON reader takes it."""
    def plain(value):
        if isinstance(value, dict):
            return {key: plain(item) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return [plain(item) for item in value]
        if hasattr(value, "item"):  # a numpy scalar
            value = value.item()
        return None if isinstance(value, float) and value != value else value

    return json.dumps(plain(data), indent=1) + "\n"


def none_if_nan(value):
    return None if value is None or value != value else (int(value) if isinstance(value, float) else value)


def write_report(folder: str | Path, time_tolerance: float = TIME_TOLERANCE, margin: Optional[float] = None) -> Path:
    found = findings(folder, time_tolerance, margin)
    folder, frame, points, stored, summary = found.folder, found.frame, found.points, found.stored, found.summary
    floor = floor_row(frame)
    first = frame.iloc[0]
    setting = (f"{sample_count_text(frame, found.fid_n)}, seed {first.get(R.SEED)}, scored with the "
               f"`{first.get(R.BACKBONE)}` feature network against {first.get(R.REFERENCE)}")
    kept_features = R.FEATURES in points and bool(points[R.FEATURES].map(lambda f: isinstance(f, str)).any())
    marked = answered_points(found.data)
    sections = ["# ddpm-bench report", f"Model `{first.get(R.MODEL)}`; {setting}.", "## The answer",
                *opening(found, time_tolerance),
                small_n_warning(found.data["n"], found.data["feature_dimension"])]
    if len(points):
        sections.append("## Charts")
        for axis, caption in (("time", "FID and KID against time per image"),
                              ("nfe", "FID and KID against model calls per image")):
            chart = draw(points, floor, axis, folder / f"fid_vs_{axis}.svg", marked=marked, n=found.fid_n,
                         marked_as=SEARCH_ANSWER if summary else ANSWER_MARK)
            sections.append(f"![{caption}; labels: steps; {setting}]({chart.name})")
        sections.append(floor_sentence(floor, frame))
    sections += [
        "## Results",
        table(frame, found.fid_n, found.data["metric"]),
        "## How to read these numbers",
        intervals_text(found.data["n"], found.data["feature_dimension"]), COLUMNS,
        SUBSET_KID if subset_kids(frame) else "", BELOW_THE_FLOOR,
        found.time_sentence,
        *decided_sections(found),
        *target_section(folder, summary, points, marked, found.fid_n),
        "## Paired comparisons",
        *decisions_section(folder),
        *comparison_section(stored, kept_features, found.data),
        *convergence_section(folder),
        "## What the papers lead one to expect, and whether this sweep shows it",
        *(expectations(points, stored.fid_difference if stored is not None else None)
          or ["(this folder holds none of the schedulers that the papers' claims compare)"]),
        "## Samples",
        "The first samples of each point; sample i of every point started from the same noise.",
    ]
    for label, grids in grid_selection(frame, marked):
        sections.append("\n".join(f"![{label} at {steps} steps]({path})" for steps, path in grids))
    sections += ["## More about each point", details_table(frame),
                 *provenance(found, setting), *reproduce_section(folder)]
    markdown = "\n\n".join(str(s) for s in sections if s) + "\n"  # a section with nothing to say is left out
    (folder / REPORT).write_text(markdown)
    (folder / ANSWER).write_text(answer_json(found.data))
    (folder / REPORT).with_suffix(".html").write_text(to_html(markdown, folder))
    return folder / REPORT


def answered_points(data: dict) -> list[str]:
    """The labels of the points the answer names (per budget, or a target search's per scheduler)."""
    if data["kind"] == "target":
        return [r["point"] for r in data["results"] if r["met"]]
    return [b["answer"]["point"] for b in data.get("budgets") or [] if b["answer"] is not None]


def opening(found: Findings, time_tolerance: float) -> list[str]:
    """The answer's first lines: a target search's, the per-budget answer, or the estimates of a folder without
    intervals."""
    data = found.data
    if data["kind"] == "target":
        return target_answer_lines(data)
    if data.get("budgets"):
        settle = settle_command(data["n"]) if (found.folder / "sweep.toml").exists() else None
        return answer_lines(data, data["metric"], settle)
    front = pareto_front(found.points, time_tolerance)
    reason = [NO_REFERENCE if R.FEATURES in found.points else NO_FEATURES] if found.stored is None else []
    return [*reason, *estimates_only(found.points, front, time_tolerance)]


def decided_sections(found: Findings) -> list[str]:
    if found.data["kind"] != "sweep" or not found.data.get("budgets"):
        return []
    return ["## How the answer was decided", *decided_lines(found.data, found.data["metric"])]


def comparison_section(stored: Optional[StoredPoints], kept_features: bool, data: dict) -> list[str]:
    if stored is None:
        return [NO_REFERENCE if kept_features else NO_FEATURES]
    margin = data["margin"]["value"] if data.get("margin") else 0.0
    return comparison_lines(stored, margin)


def provenance(found: Findings, setting: str) -> list[str]:
    frame = found.frame
    first = frame.iloc[0]
    versions = first.get(R.VERSIONS) if isinstance(first.get(R.VERSIONS), dict) else {}
    return [
        "## Provenance",
        f"Model `{first.get(R.MODEL)}`, weights sha256 `{str(first.get(R.MODEL_SHA256))[:16]}`; {setting}; batch size "
        f"{first.get(R.BATCH_SIZE)}, precision {first.get(R.PRECISION)}. Times measured on: "
        f"{'; '.join(found.data['machines']) or 'not recorded'}, torch {versions.get('torch', '?')}. Images meet "
        f"the feature network as follows: {first.get(R.PREPROCESSING)}.",
        "Schedulers: " + "; ".join(
            f"`{r[R.SCHEDULER]}` from plugin {r.get(R.PLUGIN)} ({r.get(R.PLUGIN_PACKAGE)} {r.get(R.PLUGIN_VERSION)})"
            for _, r in R.sampled_points(frame).drop_duplicates(R.SCHEDULER).iterrows()
        ),
        "Libraries: " + ", ".join(f"{k} {v}" for k, v in versions.items()),
    ]
