"""The report's charts as a reader sees them: each point inside its bar, the floor's line inside its band, nothing off
an axis, a legend that promises only what is drawn, one colour per scheduler name in every report, step labels that
never collide nor leave the axes, and the answer per time budget marked."""

import os
import subprocess
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import LineCollection
from matplotlib.patches import Polygon, Rectangle

from ddpm_bench.report.chart_axes import marker_boxes
from ddpm_bench.report.chart_style import FID_ESTIMATE, KID_ESTIMATE, drawn, style_of, styles
from ddpm_bench.report.charts import ANSWER, RING, SEARCH_ANSWER, chart, draw, search_chart
from ddpm_bench.store import records as R


def point(scheduler, steps, fid, low=np.nan, high=np.nan, estimate=np.nan, ms=None, n=256, kid=0.01,
          kid_interval=(np.nan, np.nan), kid_estimate=np.nan):
    return {R.SCHEDULER: scheduler, R.STEPS: steps, R.NFE: steps, R.SECONDS_PER_IMAGE: (ms or 10.0 * steps) / 1000,
            R.FID: fid, R.FID_LOW: low, R.FID_HIGH: high, FID_ESTIMATE: estimate, R.N: n, R.STATUS: R.OK,
            R.KID: kid, R.KID_LOW: kid_interval[0], R.KID_HIGH: kid_interval[1], KID_ESTIMATE: kid_estimate}


def sweep(schedulers=("ddim", "ddpm", "pndm")) -> pd.DataFrame:
    """Points as a sweep at N = 256 gives them: plug-in FID above its bias-corrected interval, lower ends at 0."""
    rows = []
    for k, name in enumerate(schedulers):
        for steps, fid in ((5, 6.0 - k), (10, 3.0 - 0.2 * k), (20, 2.5 - 0.1 * k)):
            estimate = max(fid - 2.2, 0.0)
            rows.append(point(name, steps, fid, max(estimate - 1.5, 0.0), estimate + 1.0, estimate,
                              kid=0.02, kid_interval=(0.0, 0.03), kid_estimate=0.012))
    return pd.DataFrame(rows)


def floor_row(low=0.0, high=0.9, estimate=0.3) -> pd.Series:
    return pd.Series({R.FID: 2.1, R.FID_LOW: low, R.FID_HIGH: high, FID_ESTIMATE: estimate, R.N: 256,
                      R.STATUS: R.FLOOR, R.KID: -0.0001, R.KID_LOW: 0.0, R.KID_HIGH: 0.0006, KID_ESTIMATE: 0.0002})


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def bars(ax) -> list[tuple[float, float, float]]:
    """(x, low, high) of every bar drawn on ``ax``."""
    found = []
    for collection in ax.collections:
        if isinstance(collection, LineCollection):
            for segment in collection.get_segments():
                (x, a), (_, b) = segment
                found.append((x, min(a, b), max(a, b)))
    return found


def drawn_points(ax) -> list[tuple[float, float]]:
    """(x, y) of every marker drawn on ``ax`` (lines with markers, rings left out)."""
    found = []
    for line in ax.get_lines():
        if line.get_marker() not in (None, "None", "") and line.get_label() not in (ANSWER, SEARCH_ANSWER):
            found += list(zip(line.get_xdata(), line.get_ydata()))
    return found


def legend_texts(ax) -> list[str]:
    legend = ax.get_legend()
    return [t.get_text() for t in legend.get_texts()] if legend else []


def test_each_point_lies_inside_its_bar_and_no_bar_runs_off_the_axis():
    fig = chart(sweep(), floor_row(), "time")
    for ax in fig.axes:
        found, points = bars(ax), drawn_points(ax)
        assert found, "the sweep's points have intervals: bars are drawn"
        bottom, top = ax.get_ylim()
        for x, low, high in found:
            assert bottom <= low and high <= top  # nothing runs off the axis, the ends at 0 included
            assert any(np.isclose(px, x) and low <= py <= high for px, py in points), (x, low, high)
    assert fig.axes[0].get_ylim()[0] <= 0  # the distance axis holds 0


def test_points_are_drawn_at_their_estimate_where_they_have_one_else_at_the_plug_in_value_without_a_bar():
    frame = pd.DataFrame([point("ddim", 5, 5.4, 1.0, 5.0, 3.1), point("ddim", 10, 2.9, 0.0, 2.1),  # no estimate
                          point("ddim", 20, 2.5, 1.0, 2.0, 2.4)])  # an estimate outside its interval: no bar
    values = drawn(frame, R.FID)
    assert list(values.value) == [3.1, 2.9, 2.4]
    assert np.isfinite(values.low).tolist() == [True, False, False]
    ax = chart(frame, None, "time").axes[0]
    assert [(round(low, 3), round(high, 3)) for _, low, high in bars(ax)] == [(1.0, 5.0)]
    assert sorted(round(y, 3) for _, y in drawn_points(ax)) == [2.4, 2.9, 3.1]


def test_without_an_estimate_column_the_chart_draws_fid_at_n_and_no_bars():
    frame = sweep().drop(columns=[FID_ESTIMATE, KID_ESTIMATE])
    fig = chart(frame, None, "time")
    assert bars(fig.axes[0]) == [] and bars(fig.axes[1]) == []
    assert "FID at N = 256" in fig.axes[0].get_ylabel()
    assert sorted(y for _, y in drawn_points(fig.axes[0])) == sorted(frame[R.FID])


def test_a_kid_interval_clipped_to_zero_width_is_no_bar():
    frame = pd.DataFrame([point("ddim", 5, 3.0, 0.0, 2.0, 1.0, kid=-0.0002, kid_interval=(0.0, 0.0),
                                kid_estimate=0.0),
                          point("ddim", 10, 2.0, 0.0, 1.0, 0.5, kid_interval=(0.0, 0.02), kid_estimate=0.01)])
    kid = chart(frame, None, "time").axes[1]
    assert [(round(low, 3), round(high, 3)) for _, low, high in bars(kid)] == [(0.0, 20.0)]


def test_the_floor_line_lies_inside_its_band():
    ax = chart(sweep(), floor_row(), "time").axes[0]
    bands = [p for p in ax.patches if isinstance(p, (Polygon, Rectangle)) and p.get_alpha() == pytest.approx(0.18)]
    assert len(bands) == 1
    ys = bands[0].get_xy()[:, 1] if isinstance(bands[0], Polygon) else [bands[0].get_y(), bands[0].get_y()
                                                                          + bands[0].get_height()]
    floor_lines = [line for line in ax.get_lines() if line.get_label().startswith("real data")]
    assert len(floor_lines) == 1
    level = floor_lines[0].get_ydata()[0]
    assert level == pytest.approx(0.3)  # at the floor's estimate, not its plug-in FID (2.1)
    assert min(ys) <= level <= max(ys)
    assert any("band" in text for text in legend_texts(ax))


def test_a_floor_without_an_estimate_is_not_drawn_among_points_that_have_one():
    floor = floor_row().drop([FID_ESTIMATE, KID_ESTIMATE])  # its plug-in FID (2.1) would sit above points at 0.3
    for ax in chart(sweep(), floor, "time").axes:
        assert not [line for line in ax.get_lines() if line.get_linestyle() == "--" and line.get_color() == "#999999"]
        assert not [p for p in ax.patches if p.get_alpha() == pytest.approx(0.18)]
        assert not any(text.startswith("real data") for text in legend_texts(ax))


def test_small_n_no_intervals_no_bars_no_band_and_a_legend_that_promises_none():
    frame = sweep()
    for column in (R.FID_LOW, R.FID_HIGH, FID_ESTIMATE, R.KID_LOW, R.KID_HIGH, KID_ESTIMATE):
        frame[column] = np.nan
    fig = chart(frame, floor_row(np.nan, np.nan, np.nan), "nfe")
    ax_fid, ax_kid = fig.axes
    assert bars(ax_fid) == [] and bars(ax_kid) == []
    assert not [p for p in ax_fid.patches if p.get_alpha() == pytest.approx(0.18)]
    assert not any("band" in text or "interval" in text for text in legend_texts(ax_fid))
    assert "bars" not in ax_fid.get_ylabel() and "bars" not in ax_kid.get_ylabel()
    floor = [line for line in ax_fid.get_lines() if line.get_label().startswith("real data")]
    assert floor[0].get_ydata()[0] == pytest.approx(2.1)  # no estimate: the plug-in FID, as the points


def test_a_scheduler_keeps_its_colour_marker_and_dash_across_reports_that_list_schedulers_in_other_orders():
    first = chart(sweep(("pndm", "ddim")), None, "time").axes[0]
    second = chart(sweep(("dpmpp-2m", "ddpm", "ddim", "my-plugin", "pndm")), None, "time").axes[0]

    def looks(ax):
        return {line.get_label(): (line.get_color(), line.get_marker(), line.get_linestyle()) for line in ax.get_lines()
                if not line.get_label().startswith(("_", "real", ANSWER))}

    a, b = looks(first), looks(second)
    assert set(a) == {"pndm", "ddim"}
    assert all(a[name] == b[name] for name in a)
    assert len({colour for colour, _, _ in b.values()}) >= 4  # the built-ins differ from one another
    assert styles(["pndm", "ddim", "ddpm"]) == styles(["ddpm", "ddim", "pndm", "ddim"])


def test_a_plugin_s_colour_does_not_depend_on_python_s_hash_salt():
    code = "from ddpm_bench.report.chart_style import style_of; print(style_of('some-plugin:eta=0.5'))"
    seen = {subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONHASHSEED": seed},
                           capture_output=True, text=True, check=True).stdout for seed in ("1", "2")}
    assert len(seen) == 1


def test_a_variant_keeps_its_base_colour_with_a_marker_and_dash_of_its_own():
    for base in ("ddim", "my-plugin", "diffusers:DDIMScheduler"):
        plain, variant = style_of(base), style_of(f"{base}:eta=1.0")
        assert variant["color"] == plain["color"]
        assert variant["marker"] != plain["marker"] and variant["linestyle"] != plain["linestyle"]
    built_in = {style_of(name)["color"] for name in ("ddim", "ddpm", "pndm", "dpmpp-2m")}
    assert len(built_in) == 4
    plugins = [f"plugin-{i}" for i in range(40)]
    assert not built_in & {style_of(name)["color"] for name in plugins}  # a plugin never takes a built-in's colour
    assert len({tuple(style_of(name).values()) for name in plugins}) >= 30  # colour, marker and dash spread them


def plateau() -> pd.DataFrame:
    """Four schedulers whose points sit on a plateau: nearly equal values at nearly equal times."""
    rows = []
    for k, name in enumerate(("ddim", "ddpm", "pndm", "ddim:eta=1.0")):
        for i, steps in enumerate((20, 25, 30, 35, 40, 50)):
            estimate = 0.80 + 0.004 * i + 0.002 * k
            rows.append(point(name, steps, estimate + 2.0, max(estimate - 0.9, 0), estimate + 0.7, estimate,
                              ms=200 + 4 * i + 2 * k))
    return pd.DataFrame(rows)


@pytest.mark.parametrize("axis", ["time", "nfe"])
def test_step_labels_on_a_plateau_never_overlap_nor_leave_the_axes(axis):
    fig = chart(plateau(), floor_row(), axis, marked=["pndm:20"])
    ax = fig.axes[0]
    renderer = fig.canvas.get_renderer()
    frame = ax.get_window_extent(renderer)
    boxes = [text.get_window_extent(renderer) for text in ax.texts]
    assert len(boxes) >= 3  # some labels found a place
    if axis == "time":
        assert len(boxes) < len(plateau())  # and on the crowded time axis the others were left out
    for i, box in enumerate(boxes):
        assert frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1
        for other in boxes[i + 1:]:
            assert not box.overlaps(other), (box, other)
    legend = ax.get_legend().get_window_extent(renderer)
    rings = [line for line in ax.get_lines() if line.get_label() == ANSWER]
    ringed = marker_boxes(ax, rings[0].get_xydata(), RING["markersize"] / 2)
    assert not any(box.overlaps(other) for box in boxes for other in [legend, *ringed])  # nor the legend, nor a ring


def test_the_answer_per_time_budget_is_ringed_and_named_in_the_legend():
    frame = sweep()
    ax = chart(frame, floor_row(), "time", marked=["pndm:10", "ddim:5"]).axes[0]
    rings = [line for line in ax.get_lines() if line.get_label() == ANSWER]
    assert len(rings) == 1
    ringed = sorted(zip(rings[0].get_xdata(), rings[0].get_ydata()))
    expected = frame[frame[R.SCHEDULER].eq("pndm") & frame[R.STEPS].eq(10)
                     | frame[R.SCHEDULER].eq("ddim") & frame[R.STEPS].eq(5)]
    assert ringed == sorted(zip(expected[R.SECONDS_PER_IMAGE] * 1000, expected[FID_ESTIMATE]))
    assert legend_texts(ax)[-1] == ANSWER
    assert ANSWER not in legend_texts(chart(frame, floor_row(), "time").axes[0])  # nothing marked, nothing promised
    target_folder = chart(frame, floor_row(), "time", marked=["ddim:5"], marked_as=SEARCH_ANSWER).axes[0]
    assert legend_texts(target_folder)[-1] == SEARCH_ANSWER


def search_summary() -> dict:
    """A match search whose looks were decided at different N (the summary's ``fid`` at each look's own N)."""
    return {"target": {"match": "ddim:20", "margin": 0.2}, "results": [
        {"scheduler": "pndm", "steps": 10, "met": True, "path": [
            {"steps": 5, "n": 512, "outcome": "undecided", "fid": 1.7},
            {"steps": 10, "n": 512, "outcome": "met", "fid": 1.2}]},
        {"scheduler": "ddim", "steps": 10, "met": False, "path": [
            {"steps": 5, "n": 256, "outcome": "missed", "fid": 5.4},
            {"steps": 10, "n": 256, "outcome": "undecided", "fid": 2.9}]}]}


def test_the_search_chart_draws_every_point_at_the_common_n_it_is_given_and_rings_each_answer():
    frame = sweep(("ddim", "pndm"))
    fig = search_chart(frame, search_summary(), n=256)
    ax = fig.axes[0]
    assert "N = 256" in ax.get_title()
    values = dict(zip(zip(frame[R.SCHEDULER], frame[R.STEPS]), frame[FID_ESTIMATE]))
    ys = sorted(round(y, 6) for _, y in drawn_points(ax))
    # every judged point and the star at the matched point, from the frame, none at the summary's per-look FIDs
    assert ys == sorted(round(values[key], 6) for key in [("pndm", 5), ("pndm", 10), ("ddim", 5), ("ddim", 10),
                                                            ("ddim", 20)])
    rings = [line for line in ax.get_lines() if line.get_label() == SEARCH_ANSWER]
    assert len(rings) == 1 and list(zip(rings[0].get_xdata(), rings[0].get_ydata())) == [(100.0, values[("pndm", 10)])]
    for x, low, high in bars(ax):
        assert any(np.isclose(px, x) and low <= py <= high for px, py in drawn_points(ax))
    assert legend_texts(ax).count(SEARCH_ANSWER) == 1
    marked = search_chart(frame, search_summary(), marked=["ddim:10", "pndm:10"], n=256).axes[0]
    rings = [line for line in marked.get_lines() if line.get_label() == SEARCH_ANSWER]
    assert sorted(zip(rings[0].get_xdata(), rings[0].get_ydata())) == sorted([(100.0, values[("ddim", 10)]),
                                                                              (100.0, values[("pndm", 10)])])


def test_draw_writes_the_same_svg_twice(tmp_path):
    first = draw(sweep(), floor_row(), "nfe", tmp_path / "a.svg", marked=["ddim:20"], n=256).read_bytes()
    second = draw(sweep(), floor_row(), "nfe", tmp_path / "b.svg", marked=["ddim:20"], n=256).read_bytes()
    assert first == second and b"<svg" in first


def test_each_panel_says_at_which_n_its_points_are():
    frame = sweep()
    frame.loc[frame[R.STEPS] == 20, R.N] = 512  # points grown to more samples, their FIDs recomputed at N = 256
    ax_fid, ax_kid = chart(frame, None, "time", n=256).axes
    assert "N = 256 per point" in ax_fid.get_title()
    assert "N = 256 to 512: not one N" in ax_kid.get_title()  # KID as recorded, at each point's own N
    assert "not one N" in chart(frame, None, "time").axes[0].get_title()  # no common N given: said so
    assert "not one N" in search_chart(frame, search_summary()).axes[0].get_title()
