"""The report's charts, drawn for a reader: the Frechet distance (FID) and KID against time per image or model calls
(``draw``), and a target search's path (``draw_search``).

- Each point is drawn at the value its bar brackets: the bias-corrected estimate of the distributions' Frechet distance
  with its 95 % interval as the bar, or, for a record without an estimate, the plug-in FID at N with no bar; bars and
  points never disagree (chart_style.py). KID x 10^3 the same way, on a linear axis with a line at 0.
- Each panel says at which N its points are: the distance panel at the N the caller compared them at (``n``: the
  common N of a folder whose points have different N), the KID panel at the records' own N; "not one N" where they
  differ. The search chart draws every judged point at the common N, not at the N of the look that decided it.
- The distance axis holds 0, so no interval end runs off it (a log axis has no 0, and ends clipped at 0 ran off it):
  linear where the values span little, else linear near 0 and logarithmic above (chart_axes.py). Plain tick labels:
  milliseconds, distances and NFE as ordinary numbers.
- One colour per scheduler name in every chart of every report (Okabe-Ito, fixed for the built-in schedulers), and for
  each a marker and a dash style; a variant (``ddim:eta=1``) in its base's colour with its own marker and dash.
- The real-data floor as a line at its estimate, inside a band for its interval where it has one; the legend names a
  band only where one is drawn, and a floor with no estimate is left out among points that have one.
- No bars where no point has an interval (small N), and no axis label or legend entry that promises them.
- The answer per time budget (the points the caller marks) ringed in black, named in the legend; on the search chart,
  each scheduler's answer.
- Step counts written beside the points in their line's colour where they overlap no other label, point, ring or the
  legend, inside the axes (a label with no free place is left out; the table has it).
- SVG, for crisp text that a browser can search; rebuilt byte-identical.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import pandas as pd

from ddpm_bench.report.chart_axes import marker_boxes, place_labels, plain_log_axis, spaced, zero_axis
from ddpm_bench.report.chart_style import Drawn, drawn, floor_drawn, styles
from ddpm_bench.store import records as R
from ddpm_bench.store.records import point_label

__all__ = ["chart", "draw", "draw_search", "search_chart", "place_labels", "plain_log_axis", "spaced", "styles"]

FLOOR_COLOUR = "#999999"
X_MARGIN = 1.35  # the x axis reaches this factor beyond the first and last point
BAR = {"linewidth": 2.4, "alpha": 0.45}
RING = {"marker": "o", "markersize": 15, "markerfacecolor": "none", "markeredgecolor": "black",
        "markeredgewidth": 1.4, "linestyle": "none", "zorder": 5}
ANSWER = "the answer per time budget"
SEARCH_ANSWER = "the search's answer per scheduler"

AXES = {
    "time": (R.SECONDS_PER_IMAGE, 1000.0, "milliseconds per image (log scale)"),
    "nfe": (R.NFE, 1.0, "model calls per image, NFE (log scale)"),
}


def sample_count(points: pd.DataFrame, n: Optional[int]) -> tuple[str, bool]:
    """``N = 256``, the N the caller compared the points at, else the points' own (a range where they differ), and
    whether it is one N."""
    counts = [int(n)] if n is not None else sorted({int(c) for c in points[R.N].dropna()}) if R.N in points else []
    if not counts:
        return "N unknown", False
    return (f"N = {counts[0]}", True) if len(counts) == 1 else (f"N = {counts[0]} to {counts[-1]}", False)


def titled(what: str, count: tuple[str, bool]) -> str:
    """A panel's title: what it shows, and at which N."""
    return f"{what}, {count[0]} per point" if count[1] else f"{what} at {count[0]}: not one N"


def fid_label(values: Drawn, count: tuple[str, bool], scale: str) -> str:
    """The distance axis's label: what the points are, whether bars are drawn, how the axis is scaled."""
    if values.estimated:
        what = "Frechet distance, bias-corrected estimate" + ("; bars: 95 % interval" if values.has_bars else "")
    else:
        what = f"FID at {count[0]}"
    return what + (f"\n({scale})" if scale else "")


def draw(points: pd.DataFrame, floor, x_axis: str, path: Path, marked: Sequence[str] = (),
         n: Optional[int] = None, marked_as: str = ANSWER) -> Path:
    """FID (left) and KID x 10^3 (right) against time per image (``x_axis`` "time") or NFE ("nfe"), written to
    ``path`` (SVG). ``points``: the finished points, every value (FID, KID, estimates, intervals) at one N;
    ``floor``: the real-data floor's row or None; ``marked``: the labels (``point_label``, "ddim:20") of the points to
    ring as the answer per time budget; ``n``: the N the FID values are at (default: the points' own N; KID is
    titled with the points' own N, ``R.N``); ``marked_as``: the rings' legend entry (a target folder's:
    ``SEARCH_ANSWER``)."""
    return _write(chart(points, floor, x_axis, marked, n, marked_as), path)


def chart(points: pd.DataFrame, floor, x_axis: str, marked: Sequence[str] = (), n: Optional[int] = None,
          marked_as: str = ANSWER):
    """``draw``'s figure, laid out and labelled, not yet written."""
    plt = _pyplot()
    column, scale, xlabel = AXES[x_axis]
    fig, (ax_fid, ax_kid) = plt.subplots(1, 2, figsize=(12.5, 5.4))
    fid, labels = _panel(ax_fid, points, column, scale, R.FID, 1.0, marked, marked_as)
    kid, _ = _panel(ax_kid, points, column, scale, R.KID, 1000.0, marked, marked_as)
    fid_floor = floor_drawn(floor, R.FID, 1.0, fid.estimated)
    kid_floor = floor_drawn(floor, R.KID, 1000.0, kid.estimated)
    _floor(ax_fid, fid_floor, floor, legend=True)
    _floor(ax_kid, kid_floor, floor, legend=False)
    fid_scale = zero_axis(ax_fid, [*fid.value, *fid_floor.value], [*fid.high, *fid_floor.high])
    count = sample_count(points, n)
    ax_fid.set_ylabel(fid_label(fid, count, fid_scale))
    ax_fid.set_title(titled("Frechet distance of the backbone's features", count), fontsize=10)
    ax_kid.set_ylabel("KID × 10³" + ("; bars: 95 % interval" if kid.has_bars else ""))
    ax_kid.set_title(titled("KID (shown, does not decide)", sample_count(points, None)), fontsize=10)
    ax_kid.axhline(0, color="black", linewidth=0.6)
    ax_kid.set_ylim(*_padded([*kid.value, *kid.low, *kid.high, *kid_floor.value, *kid_floor.high, 0.0]))
    xs = points[column] * scale
    for ax in (ax_fid, ax_kid):
        ax.set_xscale("log")
        if x_axis == "nfe":
            _count_axis(ax.xaxis, points[R.NFE])
        else:
            plain_log_axis(ax.xaxis, xs, X_MARGIN)
        ax.set_xlim(xs.min() / X_MARGIN, xs.max() * X_MARGIN)
        ax.set_xlabel(xlabel)
        ax.grid(True, alpha=0.3)
    return _laid_out(fig, ax_fid, labels)


def _panel(ax, points: pd.DataFrame, column: str, scale: float, metric: str, factor: float,
           marked: Sequence[str], marked_as: str) -> tuple[Drawn, list]:
    """Each scheduler's line of ``metric`` on ``ax``, with bars and the marked points ringed; returns what was drawn
    for all points (in the frame's order) and the step labels (x, y, text, colour)."""
    values = drawn(points, metric, factor)
    look = styles(points[R.SCHEDULER])
    frame = points.assign(_y=values.value, _low=values.low, _high=values.high, _x=points[column] * scale)
    labels, rings = [], []
    for label, group in frame.groupby(R.SCHEDULER, sort=True):
        group = group.sort_values("_x")
        style = look[label]
        ax.plot(group["_x"], group["_y"], linewidth=1.6, markersize=6, label=label, **style)
        bars = group[group["_low"].notna()]
        ax.vlines(bars["_x"], bars["_low"], bars["_high"], color=style["color"], **BAR)
        labels += [(x, y, str(int(s)), style["color"]) for x, y, s in zip(group["_x"], group["_y"], group[R.STEPS])]
        rings += [(x, y) for x, y, s in zip(group["_x"], group["_y"], group[R.STEPS])
                  if point_label(label, int(s)) in set(marked)]
    if rings:
        ax.plot(*zip(*rings), label=marked_as, **RING)
    return values, labels


def _floor(ax, values: Drawn, floor, legend: bool) -> None:
    """The real-data floor (``floor_drawn``): a dashed line at its value, in a band for its interval where it has
    one."""
    if floor is None or not len(values.value):
        return
    band = bool(np.isfinite(values.low[0]))
    if band:
        ax.axhspan(values.low[0], values.high[0], color=FLOOR_COLOUR, alpha=0.18, linewidth=0)
    label = f"real data, N = {int(floor[R.N])}" + (" (band: 95 % interval)" if band else "") if legend else None
    ax.axhline(values.value[0], color=FLOOR_COLOUR, linestyle="--", linewidth=1.2, label=label)


def _padded(values) -> tuple[float, float]:
    """A linear axis's limits around ``values`` with 8 % room each way."""
    shown = [float(v) for v in values if np.isfinite(v)]
    low, high = min(shown), max(shown)
    room = 0.08 * (high - low) or 1.0
    return low - room, high + room


def _count_axis(axis, counts) -> None:
    """A log axis of model calls, ticked at the counts the sweep used (thinned where they would print over each
    other)."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

    axis.set_major_locator(FixedLocator(spaced(sorted(set(counts)))))
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.0f}"))
    axis.set_minor_locator(NullLocator())


def _pyplot():
    """matplotlib's pyplot, headless, writing SVG text as <text> (searchable, crisp) with ids and metadata fixed so
    that a rebuilt report is byte-identical."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"svg.fonttype": "none", "svg.hashsalt": "ddpm-bench"})
    return plt


def _laid_out(fig, ax, labels: list):
    """``fig`` with its legend on ``ax`` (one entry per label, the answers last), laid out, and the step labels placed
    on ``ax`` clear of each other, the points, the rings and the legend."""
    handles = dict(zip(*reversed(ax.get_legend_handles_labels())))
    order = sorted(handles, key=lambda label: label in (ANSWER, SEARCH_ANSWER))
    legend = ax.legend([handles[label] for label in order], order, fontsize=8, loc="best")
    fig.tight_layout()
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    rings = [box for line in ax.get_lines() if line.get_markersize() == RING["markersize"]
             for box in marker_boxes(ax, line.get_xydata(), RING["markersize"] / 2 + RING["markeredgewidth"])]
    place_labels(ax, labels, avoid=[legend.get_window_extent(renderer), *rings])
    return fig


def _write(fig, path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig.savefig(path, format="svg", metadata={"Date": None})
    plt.close(fig)
    return path


def draw_search(points: pd.DataFrame, summary: dict, path: Path, marked: Sequence[str] = (),
                n: Optional[int] = None) -> Path:
    """A target search (target.json's ``summary``) on the distance-versus-time plane, written to ``path`` (SVG): every
    point each scheduler's search judged, at its value in ``points`` (the records with every value at one common N,
    ``n``; not at the N of the look that decided it, which put points grown to more samples lower), joined by arrows
    in the order the search judged them and labelled with their step counts; filled where the point met the target,
    ringed where it is the search's answer for its scheduler (``marked``: their labels, ``point_label``; default: the
    points the summary says met the target). A dashed line at the target FID, or a star at the matched point."""
    return _write(search_chart(points, summary, marked, n), path)


def search_chart(points: pd.DataFrame, summary: dict, marked: Sequence[str] = (), n: Optional[int] = None):
    """``draw_search``'s figure, laid out and labelled, not yet written."""
    plt = _pyplot()
    look = styles(points[R.SCHEDULER])  # the colours of the report's other charts
    values = drawn(points, R.FID)
    at = {(s, int(k)): (t * 1000, y, lo, hi) for s, k, t, y, lo, hi in zip(
        points[R.SCHEDULER], points[R.STEPS], points[R.SECONDS_PER_IMAGE], values.value, values.low, values.high)}
    fig, ax = plt.subplots(figsize=(9, 5.4))
    labels, shown = [], []
    for result in summary["results"]:
        name = result["scheduler"]
        labels += _search_path(ax, result, at, look.get(name, {}))
        shown += [at[(name, k["steps"])] for k in result["path"] if (name, k["steps"]) in at]
    answers = set(marked) or {point_label(r["scheduler"], int(r["steps"])) for r in summary["results"] if r["met"]}
    rings = [(x, y) for (name, steps), (x, y, _, _) in at.items() if point_label(name, steps) in answers]
    if rings:
        ax.plot(*zip(*sorted(rings)), label=SEARCH_ANSWER, **RING)
    ax.plot([], [], marker="o", color="grey", markerfacecolor="white", linestyle="none", label="hollow: not met")
    goal = summary["target"]
    if "fid" in goal:
        ax.axhline(goal["fid"], color="black", linestyle="--", linewidth=1, label=f"target: FID ≤ {goal['fid']:g}")
        shown.append((np.nan, goal["fid"], np.nan, np.nan))
    else:
        name, _, steps = goal["match"].rpartition(":")
        if (name, int(steps)) in at:
            x, y, low, high = at[(name, int(steps))]
            ax.plot([x], [y], marker="*", color="black", markersize=13, linestyle="none", zorder=6,
                    label=f"matched: {goal['match']}")
            if np.isfinite(low):
                ax.vlines(x, low, high, color="black", **BAR)
            shown.append(at[(name, int(steps))])
    xs = [s[0] for s in shown if np.isfinite(s[0])]
    scale = zero_axis(ax, [s[1] for s in shown], [s[3] for s in shown])
    ax.set_xscale("log")
    plain_log_axis(ax.xaxis, xs, X_MARGIN)
    ax.set_xlim(min(xs) / X_MARGIN, max(xs) * X_MARGIN)
    ax.set_xlabel(AXES["time"][2])
    count = sample_count(points, n)
    ax.set_ylabel(fid_label(values, count, scale))
    ax.set_title(f"Every point at {count[0]}, the N all points share (each look's own N: the table)" if count[1]
                 else f"Points at {count[0]}, not one N (each look's own N: the table)", fontsize=10)
    ax.grid(True, alpha=0.3)
    return _laid_out(fig, ax, labels)


def _search_path(ax, result: dict, at: dict, style: dict) -> list:
    """One scheduler's search: arrows between the points in the order judged, markers (filled where met) and bars;
    returns the step labels."""
    name = result["scheduler"]
    judged, seen = [], set()
    for look in result["path"]:
        if (name, look["steps"]) in at:
            judged.append((look["steps"], look["outcome"] == "met"))
    for (a, _), (b, _) in zip(judged, judged[1:]):
        (x0, y0, _, _), (x1, y1, _, _) = at[(name, a)], at[(name, b)]
        ax.annotate("", (x1, y1), (x0, y0), arrowprops={"arrowstyle": "->", "color": style.get("color", "grey"),
                                                        "alpha": 0.6, "shrinkA": 4, "shrinkB": 4})
    labels = []
    for steps, met in reversed(judged):  # the last verdict on a point is the one that stands
        if steps in seen:
            continue
        seen.add(steps)
        x, y, low, high = at[(name, steps)]
        colour = style.get("color", "grey")
        ax.plot([x], [y], marker=style.get("marker", "o"), color=colour, markersize=7, linestyle="none",
                markerfacecolor=colour if met else "white")
        if np.isfinite(low):
            ax.vlines(x, low, high, color=colour, **BAR)
        labels.append((x, y, str(steps), colour))
    ax.plot([], [], marker=style.get("marker", "o"), color=style.get("color", "grey"), linestyle="none", label=name)
    return labels
