"""The axes and the step labels of the report's charts.

- Plain tick labels everywhere: milliseconds per image and distances as ordinary numbers, NFE ticks at the counts the
  sweep used (``spaced``).
- The distance axis holds 0 (``zero_axis``): bias-corrected estimates and the lower ends of their intervals are often 0
  (clipped there), and a log axis has no 0, so bars clamped to it ran off the chart. Where the values span little
  (the largest at most ten times the lower quartile of the positive ones) the axis is linear from 0; else it is
  matplotlib's ``symlog``: linear from 0 up to a 1-2-5 number at about that quartile, logarithmic above, so that many
  steps at 9 and the best points at 0.5 both stay readable. Ticks at 0 and at 1-2-5 numbers, printed plainly.
- Step labels beside their points (``place_labels``): each at the first of several places around its point where its
  box overlaps no label placed before it, no point and no legend, and stays inside the axes; a label with no such
  place is left out (the table has every point).
"""

from __future__ import annotations

import numpy as np

# where a step label may go, relative to its point (points): right, above, left, below, then further out
OFFSETS = [(5, 4), (5, -11), (-5, 4), (-5, -11), (10, 2), (10, -10), (-10, 2), (-10, -10), (0, 9), (0, -15),
           (9, 12), (9, -18), (-9, 12), (-9, -18)]  # (the second four clear a ring around the point)
POINT_RADIUS = 3.5  # points: the half-width of a drawn marker, kept free of labels
LINEAR_SPAN = 10.0  # a distance axis whose top is at most this many times its low values is linear


def _plain(value, _position=None) -> str:
    return f"{value:g}"


def one_two_five(low: float, high: float, mantissas=(1, 2, 5)) -> list[float]:
    """The numbers m x 10^e (m in ``mantissas``) from ``low`` to ``high``."""
    decades = range(int(np.floor(np.log10(low))), int(np.ceil(np.log10(high))) + 1)
    return [m * 10.0**e for e in decades for m in mantissas if low <= m * 10.0**e * (1 + 1e-9) and m * 10.0**e <= high]


def plain_log_axis(axis, values, margin: float) -> None:
    """A log axis whose ticks are ordinary numbers: 1-2-5 steps within the shown range (the data's, widened by
    ``margin`` each way); 1-2-3-...-9 steps where that range is too narrow to hold three of those."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

    low, high = float(np.nanmin(values)) / margin, float(np.nanmax(values)) * margin
    for mantissas in ((1, 2, 5), (1, 2, 3, 4, 5, 6, 7, 8, 9)):
        ticks = one_two_five(low, high, mantissas)
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


def zero_axis(ax, values, ends) -> str:
    """Make ``ax``'s y axis hold 0 and every value and bar end (see the module's docstring); returns how it is scaled,
    in words for the axis label ("" for linear)."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, MaxNLocator, NullLocator

    shown = [float(v) for v in list(values) + list(ends) if np.isfinite(v)]
    top = max(shown + [0.0]) * 1.12 or 1.0
    positive = sorted(v for v in values if np.isfinite(v) and v > 0)
    low = positive[len(positive) // 4] if positive else top
    if top <= LINEAR_SPAN * low:
        ax.set_ylim(-0.03 * top, top)
        ax.yaxis.set_major_locator(MaxNLocator(nbins=6, steps=[1, 2, 2.5, 5, 10]))
        ax.yaxis.set_major_formatter(FuncFormatter(_plain))
        return ""
    threshold = one_two_five(low / 10, low)[-1]
    ax.set_yscale("symlog", linthresh=threshold, linscale=0.6)
    ticks = one_two_five(threshold, top)
    if len(ticks) > 7:
        ticks = one_two_five(threshold, top, (1,)) or ticks
    ax.yaxis.set_major_locator(FixedLocator([0.0] + ticks))
    ax.yaxis.set_major_formatter(FuncFormatter(_plain))
    ax.yaxis.set_minor_locator(NullLocator())
    ax.set_ylim(-0.06 * threshold, top)
    return f"linear to {threshold:g}, log above"


def marker_boxes(ax, points, radius: float) -> list:
    """The display boxes of markers ``radius`` points wide each way at the data ``points`` [(x, y)] of ``ax``."""
    from matplotlib.transforms import Bbox

    if not len(points):
        return []
    pixels = ax.figure.canvas.get_renderer().points_to_pixels(radius)
    return [Bbox.from_extents(cx - pixels, cy - pixels, cx + pixels, cy + pixels)
            for cx, cy in ax.transData.transform(points)]


def place_labels(ax, items: list[tuple[float, float, str, str]], avoid=()) -> list:
    """Write each (x, y, text, colour) beside its point at the first offset where its box overlaps no label placed
    before it, no item's point and nothing in ``avoid`` (display boxes, e.g. the legend's), and stays inside the axes;
    a label with no free place is left out. Returns the text artists."""
    renderer = ax.figure.canvas.get_renderer()
    frame = ax.get_window_extent(renderer)
    boxes = list(avoid) + marker_boxes(ax, [(x, y) for x, y, _, _ in items], POINT_RADIUS)
    placed = []
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
