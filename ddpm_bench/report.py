"""The comparison report of a sweep: tables, FID-versus-time and FID-versus-NFE charts, sample grids, the Pareto
front with a plain-language recommendation, and provenance. Written as ``report.md`` and a self-contained
``report.html`` (images embedded); ``ddpm-bench report DIR`` rebuilds both from ``records.jsonl``.
"""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path

import numpy as np
import pandas as pd

from ddpm_bench.compare import report_sections
from ddpm_bench.expectations import expectations
from ddpm_bench.pareto import TIME_TOLERANCE, pareto_front, recommendation
from ddpm_bench.records import FLOOR, OK, STATUS, load_frame

TABLE_COLUMNS = ["scheduler", "steps", "nfe", "ms_per_image", "fid", "FID 95% interval", "fd_infinity", "kid", "kid_std", "KID 95% interval", "status"]


INTERVALS = (
    "The 95 % intervals come from the basic bootstrap over sample indices with the reference fixed (300 replicates; "
    "ddpm_bench/stats.py). Resampling with replacement repeats samples, which raises FID; the basic interval "
    "subtracts that rise, so it estimates the FID of the sampler's distribution rather than the finite-N value and "
    "may lie below the table's FID. Both are squared distances, so a lower end below 0 is shown as 0. With N close "
    "to twice the feature dimension (256 samples of 128 features by default) the intervals are conservative: wider "
    "than needed, so \"tied\" is called more often than a larger N would. KID's interval is for KID over all N "
    "samples (the table's KID averages subsets). fd_infinity is FD-infinity (Chong & Forsyth 2020): FID on subsets "
    "of N/2 to N samples, fitted linearly in 1/N and extrapolated to 1/N = 0, the finite-N bias removed."
)

BELOW_THE_FLOOR = (
    "How to read a point below the floor or a negative KID: both are noise, not a better-than-real sampler. The floor "
    "is N real images scored the same way; a sampler whose samples are a little less diverse than real data, or "
    "that reproduces training images, gets a smaller finite-N FID bias and can score below it. KID is unbiased, so "
    "when the true difference is near 0 about half of its estimates fall below 0. Judge such points by their "
    "intervals and by the paired comparisons below, not by their order in the table."
)


def ok_points(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame[STATUS] == OK].copy() if STATUS in frame else frame.iloc[0:0]


def sampled_points(frame: pd.DataFrame) -> pd.DataFrame:
    """Every point a scheduler was run for, finished or failed: all records but the real-data floor."""
    return frame[frame[STATUS] != FLOOR] if STATUS in frame else frame


def floor_row(frame: pd.DataFrame):
    rows = frame[frame[STATUS] == FLOOR] if STATUS in frame else frame.iloc[0:0]
    return rows.iloc[0] if len(rows) else None


def floor_sentence(frame: pd.DataFrame) -> str:
    floor = floor_row(frame)
    if floor is None:
        return "No real-data floor was measured (the reference is imported statistics, not images)."
    return (f"Floor: {int(floor['n'])} real images drawn from the reference set score FID {floor['fid']:.2f} and KID "
            f"{floor['kid']:.4f} +- {floor['kid_std']:.4f}; a perfect sampler would score about this at N = {int(floor['n'])}.")


def _chart(frame: pd.DataFrame, x: str, xlabel: str, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FixedLocator

    points = ok_points(frame)
    fig, (ax_fid, ax_kid) = plt.subplots(1, 2, figsize=(12, 4.5))
    # the axis spans the estimates; an interval reaching further down (to 0 on a log axis) ends at the axis
    fid_floor = points["fid"].min() / 2 if len(points) and points["fid"].min() > 0 else 0
    for label, group in points.groupby("scheduler"):
        group = group.sort_values(x)
        (line,) = ax_fid.plot(group[x], group["fid"], marker="o", label=label)
        if "fid_low" in group and group["fid_low"].notna().any():  # bias-corrected: may lie below the estimate
            ax_fid.vlines(group[x], group["fid_low"].clip(lower=fid_floor), group["fid_high"], color=line.get_color(),
                          alpha=0.5, linewidth=3)
        for _, row in group.iterrows():
            ax_fid.annotate(str(int(row["steps"])), (row[x], row["fid"]), textcoords="offset points", xytext=(3, 4), fontsize=7)
        ax_kid.errorbar(group[x], group["kid"], yerr=group["kid_std"], marker="o", capsize=3, label=label)
    floor = floor_row(frame)
    if floor is not None:
        ax_fid.axhline(floor["fid"], color="grey", linestyle="--", label="real data (floor)")
        ax_kid.axhline(floor["kid"], color="grey", linestyle="--", label="real data (floor)")
    fid_label, kid_label = "FID (labels: steps; bars: 95% interval)", "KID (bars: std over subsets)"
    fids = points["fid"].tolist() + ([floor["fid"]] if floor is not None else [])
    if fids and min(fids) > 0:  # FIDs spread over decades between few and many steps: a log axis keeps both readable
        ax_fid.set_yscale("log")
        ax_fid.set_ylim(fid_floor, max(fids + [points["fid_high"].max() if "fid_high" in points else 0]) * 1.3)
        fid_label = "FID (log; labels: steps; bars: 95% interval, bias-corrected)"
    if len(points) and points["kid_std"].median() > 0:
        # KID is unbiased, so it can be negative: symmetric log, linear up to the decade above its typical std
        linear_range = 10.0 ** np.ceil(np.log10(points["kid_std"].median()))
        top = max(points["kid"].abs().max(), linear_range)
        decades = [linear_range * 10.0**k for k in range(int(np.ceil(np.log10(top / linear_range))) + 1)]
        ax_kid.set_yscale("symlog", linthresh=linear_range)
        ax_kid.yaxis.set_major_locator(FixedLocator([-d for d in decades[:2]] + [0] + decades))
        kid_label = f"KID (symlog, linear within ±{linear_range:g}; bars: std)"
    for axis, metric in ((ax_fid, fid_label), (ax_kid, kid_label)):
        axis.set_xscale("log")
        axis.set_xlabel(xlabel)
        axis.set_ylabel(metric)
        axis.grid(True, which="both", alpha=0.3)
        axis.legend(fontsize=8)
    sample = points.iloc[0] if len(points) else {}
    fig.suptitle(f"N={sample.get('n', '?')}, backbone {sample.get('backbone', '?')}, reference {sample.get('reference', '?')}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _markdown_table(frame: pd.DataFrame, columns: list[str]) -> str:
    def cell(value):
        if isinstance(value, float):
            return "" if value != value else f"{value:.4g}"
        return str(value)

    rows = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    rows += ["| " + " | ".join(cell(row.get(c, "")) for c in columns) + " |" for _, row in frame.iterrows()]
    return "\n".join(rows)


def grid_selection(frame: pd.DataFrame, per_scheduler: int = 3) -> list[tuple[str, list[tuple[int, str]]]]:
    """For each scheduler, the grids at its smallest, a middle and its largest step count."""
    chosen = []
    for label, group in ok_points(frame).groupby("scheduler"):
        group = group.sort_values("steps")
        picks = sorted({0, len(group) // 2, len(group) - 1})[:per_scheduler]
        chosen.append((label, [(int(group.iloc[i]["steps"]), group.iloc[i]["grid"]) for i in picks]))
    return chosen


def write_report(folder: str | Path, time_tolerance: float = TIME_TOLERANCE) -> Path:
    folder = Path(folder)
    frame = load_frame(folder)
    points = ok_points(frame)
    charts = []
    if len(points):
        charts = [
            _chart(frame, "seconds_per_image", "seconds per image (log)", folder / "fid_vs_time.png"),
            _chart(frame, "nfe", "model calls per image, NFE (log)", folder / "fid_vs_nfe.png"),
        ]
    front = pareto_front(points, time_tolerance)
    comparisons, ties = report_sections(folder)
    first = frame.iloc[0]
    for metric, (low, high) in (("FID", ("fid_low", "fid_high")), ("KID", ("kid_low", "kid_high"))):
        if low in frame:
            frame[f"{metric} 95% interval"] = [f"[{a:.4g}, {b:.4g}]" if a == a else "" for a, b in zip(frame[low], frame[high])]
    sections = [
        "# ddpm-bench sweep report",
        f"Model `{first.get('model')}` (weights sha256 `{str(first.get('model_sha256'))[:16]}`), "
        f"N = {first.get('n')} samples per point, seed {first.get('seed')}, batch size {first.get('batch_size')}, "
        f"precision {first.get('precision')}, device {points.iloc[0]['device'] if len(points) else '?'}.",
        f"Metric: FID and KID with backbone `{first.get('backbone')}` against {first.get('reference')}. "
        f"Images meet the backbone as follows: {first.get('preprocessing')}. FID is biased upward at small N; "
        "KID is unbiased, shown with its standard deviation over subsets.",
        floor_sentence(frame),
        "Time is the median over batches of the sampling loop's wall time per image (initial noise, model calls, "
        "scheduler steps), after an untimed warm-up; NFE is counted in the loop.",
        "## Results",
        _markdown_table(frame, [c for c in TABLE_COLUMNS if c in frame] + (["error"] if "error" in frame else [])),
        INTERVALS,
        BELOW_THE_FLOOR,
        "## Paired comparisons",
        *comparisons,
        "## Pareto front: the best choice for each time budget",
        _markdown_table(front, ["scheduler", "steps", "nfe", "ms_per_image", "fid", "kid"]) if len(front) else "(empty)",
        *recommendation(points, front, time_tolerance),
        *ties,
        "## What the papers lead one to expect, and whether this sweep shows it",
        *(expectations(points) or ["(this sweep holds none of the schedulers that the papers' claims compare)"]),
        "## Charts",
        *[f"![{c.stem}]({c.name})" for c in charts],
        "## Samples",
    ]
    for label, grids in grid_selection(frame):
        sections.append(f"**{label}**: " + " ".join(f"![{label} {steps} steps]({path}) {steps} steps" for steps, path in grids))
    versions = first.get("versions") if isinstance(first.get("versions"), dict) else {}
    sections += [
        "## Provenance",
        "Schedulers: " + "; ".join(
            f"`{r['scheduler']}` from plugin {r.get('plugin')} ({r.get('plugin_package')} {r.get('plugin_version')})"
            for _, r in sampled_points(frame).drop_duplicates("scheduler").iterrows()
        ),
        "Libraries: " + ", ".join(f"{k} {v}" for k, v in versions.items()),
        "Reproduce: `ddpm-bench sweep --config sweep.toml --out DIR` (the config beside this report).",
    ]
    markdown = "\n\n".join(str(s) for s in sections) + "\n"
    (folder / "report.md").write_text(markdown)
    (folder / "report.html").write_text(to_html(markdown, folder))
    return folder / "report.md"


def to_html(markdown: str, folder: Path) -> str:
    """A self-contained HTML page from the report's markdown: tables, headings, paragraphs, images inlined."""
    def image(match):
        path = folder / match.group(2)
        data = base64.b64encode(path.read_bytes()).decode() if path.exists() else ""
        return f'<img alt="{html.escape(match.group(1))}" src="data:image/png;base64,{data}" style="max-width:100%">'

    def inline(text):
        text = html.escape(text)
        text = re.sub(r"!\[([^\]]*)\]\(([^)]+)\)", lambda m: image(m), text)
        text = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", text)
        return re.sub(r"`([^`]+)`", r"<code>\1</code>", text)

    body = []
    for block in markdown.split("\n\n"):
        lines = block.strip().splitlines()
        if not lines:
            continue
        if lines[0].startswith("#"):
            level = len(lines[0]) - len(lines[0].lstrip("#"))
            body.append(f"<h{level}>{inline(lines[0].lstrip('# '))}</h{level}>")
        elif lines[0].startswith("|"):
            rows = [[c.strip() for c in line.strip("|").split("|")] for line in lines if not line.startswith("|---")]
            head = "".join(f"<th>{inline(c)}</th>" for c in rows[0])
            cells = "".join("<tr>" + "".join(f"<td>{inline(c)}</td>" for c in row) + "</tr>" for row in rows[1:])
            body.append(f"<table><tr>{head}</tr>{cells}</table>")
        else:
            body.append(f"<p>{inline(' '.join(lines))}</p>")
    style = "body{font-family:sans-serif;max-width:1100px;margin:auto}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px}"
    return f"<!doctype html><html><head><meta charset='utf-8'><title>ddpm-bench report</title><style>{style}</style></head><body>{''.join(body)}</body></html>\n"
