"""The report's charts: FID and KID against time per image or against model calls, drawn for a reader.

- One colour per scheduler in every chart (the Okabe-Ito palette, safe for colour-blind readers), and for each a
  marker and a dash style of its own, so that lines that coincide (``ddim:eta=1`` on ``ddpm``) stay visible.
- Plain tick labels: milliseconds per image and FID as ordinary numbers, NFE ticks at the counts the sweep used.
- FID with its 95 % interval as a bar (bias-corrected, so a bar can sit below its point; a lower end of 0 ends at the
  axis); KID x 10^3 on a linear axis, over all N with its interval, or for older records the subset mean with its
  standard deviation.
- The real-data floor as a labelled band (its 95 % interval) with a line at its estimate.
- Step counts written beside the points in their line's colour, each placed where it overlaps no other label
  (``place_labels``; tests/test_report_view.py checks the rendered boxes).
- SVG, for crisp text that a browser can search.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Optional

import numpy as np
import pandas as pd

from ddpm_bench.store import records as R

OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]
MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*"]
DASHES = ["-", "--", ":", "-."]
FLOOR_COLOUR = "#999999"
X_MARGIN = 1.35  # the x axis reaches this factor beyond the first and last point
# where a step label may go, relative to its point (points): right, above, left, below, then further out
OFFSETS = [(5, 4), (5, -11), (-5, 4), (-5, -11), (0, 9), (0, -15), (9, 12), (9, -18), (-9, 12), (-9, -18)]

AXES = {
    "time": (R.SECONDS_PER_IMAGE, 1000.0, "milliseconds per image (log scale)"),
    "nfe": (R.NFE, 1.0, "model calls per image, NFE (log scale)"),
}


def styles(labels) -> dict[str, dict]:
    """Colour, marker and dash style per scheduler label, fixed by the sorted labels so every chart agrees."""
    ordered = sorted(set(labels))
    cycle = zip(itertools.cycle(OKABE_ITO), itertools.cycle(MARKERS), itertools.cycle(DASHES))
    return {label: {"color": c, "marker": m, "linestyle": d} for label, (c, m, d) in zip(ordered, cycle)}


def _plain(value, _position=None) -> str:
    return f"{value:g}"


def plain_log_axis(axis, values, margin: float) -> None:
    """A log axis whose ticks are ordinary numbers: 1-2-5 steps within the shown range (the data's, widened by
    ``margin`` each way); 1-2-3-...-9 steps where that range is too narrow to hold three of those."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

    low, high = float(np.nanmin(values)) / margin, float(np.nanmax(values)) * margin
    decades = range(int(np.floor(np.log10(low))), int(np.ceil(np.log10(high))) + 1)
    for mantissas in ((1, 2, 5), (1, 2, 3, 4, 5, 6, 7, 8, 9)):
        ticks = [m * 10.0**e for e in decades for m in mantissas if low <= m * 10.0**e <= high]
        if len(ticks) >= 3:
            break
    axis.set_major_locator(FixedLocator(ticks))
    axis.set_major_formatter(FuncFormatter(_plain))
    axis.set_minor_locator(NullLocator())


def spaced(values: list[float]) -> list[float]:
    """Ticks from ``values`` (ascending) with neighbours at least 5 % of the axis's log span apart (and at least 10 %
    in value), so that labels such as 19 and 20, or 50 and 59 on an axis reaching 1000, do not print over each other."""
    ratio = max(1.1, 10 ** (0.05 * np.log10(values[-1] / values[0]))) if values else 1.1
    kept: list[float] = []
    for value in values:
        if not kept or value >= kept[-1] * ratio:
            kept.append(value)
    return kept


def place_labels(ax, items: list[tuple[float, float, str, str]]) -> list:
    """Write each (x, y, text, colour) beside its point at the first offset where its box overlaps no label placed
    before it and stays inside the axes; a label with no free place is left out. Returns the text artists."""
    fig = ax.figure
    renderer = fig.canvas.get_renderer()
    frame = ax.get_window_extent(renderer)
    placed, boxes = [], []
    for x, y, text, colour in items:
        for dx, dy in OFFSETS:
            artist = ax.annotate(text, (x, y), textcoords="offset points", xytext=(dx, dy), fontsize=8, color=colour,
                                 ha="left" if dx >= 0 else "right", va="bottom" if dy >= 0 else "top")
            box = artist.get_window_extent(renderer).expanded(1.05, 1.1)
            inside = frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1
            if inside and not any(box.overlaps(other) for other in boxes):
                placed.append(artist)
                boxes.append(box)
                break
            artist.remove()
    return placed


def draw(points: pd.DataFrame, floor, x_axis: str, path: Path) -> Path:
    """FID (left) and KID x 10^3 (right) against time per image or NFE; writes ``path`` (SVG)."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

    plt = _pyplot()
    column, scale, xlabel = AXES[x_axis]
    look = styles(points[R.SCHEDULER])
    fig, (ax_fid, ax_kid) = plt.subplots(1, 2, figsize=(12.5, 5.2))
    fid_values = list(points[R.FID])
    if floor is not None:
        for ax, (estimate, low, high) in ((ax_fid, _floor_values(floor, R.FID, R.FID_LOW, R.FID_HIGH, 1.0)),
                                          (ax_kid, _floor_values(floor, R.KID, R.KID_LOW, R.KID_HIGH, 1000.0))):
            if low is not None:
                ax.axhspan(low, high, color=FLOOR_COLOUR, alpha=0.18, linewidth=0)
            band = " (band: 95 % interval)" if low is not None else ""
            ax.axhline(estimate, color=FLOOR_COLOUR, linestyle="--", linewidth=1.2,
                       label=f"real data, N = {int(floor[R.N])}{band}")
        fid_values.append(floor[R.FID])
    fid_highs = list(points[R.FID_HIGH].dropna()) if R.FID_HIGH in points else []
    positive = [v for v in fid_values + (list(points[R.FID_LOW].dropna()) if R.FID_LOW in points else []) if v > 0]
    bottom, top = min(positive) / 1.3, max(fid_values + fid_highs) * 1.3
    labels = []
    for label, group in points.groupby(R.SCHEDULER):
        group = group.sort_values(column)
        x = group[column] * scale
        style = look[label]
        ax_fid.plot(x, group[R.FID], linewidth=1.6, markersize=6, label=label, **style)
        if R.FID_LOW in group and group[R.FID_LOW].notna().any():
            ax_fid.vlines(x, group[R.FID_LOW].clip(lower=bottom), group[R.FID_HIGH], color=style["color"],
                          linewidth=2.4, alpha=0.45)
        kid, kid_low, kid_high = _kid_bars(group)
        ax_kid.plot(x, kid, linewidth=1.6, markersize=6, label=label, **style)
        ax_kid.vlines(x, kid_low, kid_high, color=style["color"], linewidth=2.4, alpha=0.45)
        labels += [(xi, yi, str(int(s)), style["color"]) for xi, yi, s in zip(x, group[R.FID], group[R.STEPS])]
    ax_fid.set_yscale("log")
    ax_fid.set_ylim(bottom, top)
    plain_log_axis(ax_fid.yaxis, [bottom * 1.3, top / 1.3], 1.3)
    ax_fid.set_ylabel("FID (log scale); bars: 95 % interval, bias-corrected")
    ax_kid.set_ylabel("KID × 10³ (bars: 95 % interval, or ± std for older records)")
    ax_kid.axhline(0, color="black", linewidth=0.6)
    xs = points[column] * scale
    for ax in (ax_fid, ax_kid):
        ax.set_xscale("log")
        if x_axis == "nfe":
            ax.xaxis.set_major_locator(FixedLocator(spaced(sorted(set(points[R.NFE])))))
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.0f}"))
            ax.xaxis.set_minor_locator(NullLocator())
        else:
            plain_log_axis(ax.xaxis, xs, X_MARGIN)
        ax.set_xlim(xs.min() / X_MARGIN, xs.max() * X_MARGIN)
        ax.set_xlabel(xlabel)
        ax.grid(True, alpha=0.3)
    return _finish(fig, ax_fid, labels, path)


def _pyplot():
    """matplotlib's pyplot, headless, writing SVG text as <text> (searchable, crisp) with ids and metadata fixed so
    that a rebuilt report is byte-identical."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"svg.fonttype": "none", "svg.hashsalt": "ddpm-bench"})
    return plt


def _finish(fig, ax, labels: list, path: Path) -> Path:
    """Legend, layout, step labels placed on ``ax`` without overlaps, and the SVG written."""
    import matplotlib.pyplot as plt

    ax.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    place_labels(ax, labels)
    fig.savefig(path, format="svg", metadata={"Date": None})
    plt.close(fig)
    return path


def _kid_bars(group: pd.DataFrame) -> tuple[pd.Series, pd.Series, pd.Series]:
    """KID x 10^3 and its bar's ends: over all N with its 95 % interval, or (older records) the subset mean +- std."""
    if R.KID_LOW in group and group[R.KID_LOW].notna().any():
        return group[R.KID] * 1000, group[R.KID_LOW] * 1000, group[R.KID_HIGH] * 1000
    kid, std = group[R.KID] * 1000, group[R.KID_STD] * 1000
    return kid, kid - std, kid + std


def _floor_values(floor, metric: str, low_field: str, high_field: str,
                  factor: float) -> tuple[float, Optional[float], Optional[float]]:
    """The floor's estimate of ``metric`` and its interval's ends (None for older records), times ``factor``."""
    low, high = floor.get(low_field), floor.get(high_field)
    if low is None or low != low:
        return floor[metric] * factor, None, None
    return floor[metric] * factor, low * factor, high * factor


def draw_search(points: pd.DataFrame, summary: dict, path: Path) -> Path:
    """The target search (target.py) on the FID-versus-time plane: every point each scheduler's search judged, joined
    by arrows in the order it judged them, labelled with their step counts; filled where the point met the target.
    Bars: the interval each decision rested on (``--fid``); a dashed line at the target FID, or a star at the
    matched point."""
    plt = _pyplot()
    results = summary["results"]
    look = styles(points[R.SCHEDULER])  # the colours of the report's other charts
    times = {(r[R.SCHEDULER], int(r[R.STEPS])): r[R.SECONDS_PER_IMAGE] * 1000 for _, r in points.iterrows()}
    fig, ax = plt.subplots(figsize=(9, 5.2))
    labels, xs, ys = [], [], []
    for result in results:
        style = look[result["scheduler"]]
        judged = [(times[(result["scheduler"], k["steps"])], k) for k in result["path"]
                  if (result["scheduler"], k["steps"]) in times and k["fid"] is not None]
        for (x0, a), (x1, b) in zip(judged, judged[1:]):
            ax.annotate("", (x1, b["fid"]), (x0, a["fid"]), arrowprops={"arrowstyle": "->", "color": style["color"],
                                                                         "alpha": 0.6, "shrinkA": 4, "shrinkB": 4})
        for x, k in judged:
            met = k["outcome"] == "met"
            ax.plot([x], [k["fid"]], marker=style["marker"], color=style["color"], markersize=7, linestyle="none",
                    markerfacecolor=style["color"] if met else "white")
            if "fid" in summary["target"]:
                ax.vlines(x, max(k["low"], 1e-3), k["high"], color=style["color"], linewidth=2.2, alpha=0.4)
            labels.append((x, k["fid"], str(k["steps"]), style["color"]))
            xs.append(x)
            ys += [k["fid"]] + ([k["high"]] if "fid" in summary["target"] else [])
        ax.plot([], [], marker=style["marker"], color=style["color"], linestyle="none", label=result["scheduler"])
    goal = summary["target"]
    if "fid" in goal:
        ax.axhline(goal["fid"], color="black", linestyle="--", linewidth=1, label=f"target: FID ≤ {goal['fid']:g}")
        ys.append(goal["fid"])
    else:
        name, _, steps = goal["match"].rpartition(":")
        matched = points[(points[R.SCHEDULER] == name) & (points[R.STEPS] == int(steps))]
        if len(matched):
            x, y = float(matched.iloc[0][R.SECONDS_PER_IMAGE]) * 1000, float(matched.iloc[0][R.FID])
            ax.plot([x], [y], marker="*", color="black", markersize=12, linestyle="none",
                    label=f"matched: {goal['match']}")
            xs.append(x)
            ys.append(y)
    ax.plot([], [], marker="o", color="grey", markerfacecolor="white", linestyle="none", label="hollow: not met")
    ax.set_xscale("log")
    ax.set_yscale("log")
    positive = [y for y in ys if y > 0]
    ax.set_ylim(min(positive) / 1.3, max(positive) * 1.3)
    plain_log_axis(ax.yaxis, [min(positive), max(positive)], 1.3)
    plain_log_axis(ax.xaxis, xs, X_MARGIN)
    ax.set_xlim(min(xs) / X_MARGIN, max(xs) * X_MARGIN)
    ax.set_xlabel(AXES["time"][2])
    ax.set_ylabel("FID (log scale) at the N of the look that decided")
    ax.grid(True, alpha=0.3)
    return _finish(fig, ax, labels, path)
