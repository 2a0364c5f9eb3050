"""The report as a reader sees it: step labels that never overlap, one colour per scheduler in every chart, and the
HTML page in a real browser (headless Chromium): every image loads, no console error, no horizontal scroll."""

import json
import shutil
import subprocess

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pytest

from ddpm_bench.report.charts import place_labels, plain_log_axis, spaced, styles
from ddpm_bench.report.document import write_report
from ddpm_bench.runs.sweep import run_sweep
from ddpm_bench.settings import config_from


@pytest.fixture(scope="module")
def finished_sweep(env):
    config = config_from(schedulers=["ddim", "ddpm", "ddim:eta=1.0"], steps=[2, 4], n=12, batch_size=6,
                         model=str(env / "model"))
    run_sweep(config, env / "out", progress=False)
    return env / "out"


def test_step_labels_placed_on_crowded_points_never_overlap():
    fig, ax = plt.subplots(figsize=(6, 4))
    # three schedulers whose points nearly coincide (ddim:eta=1 on ddpm): the hard case for labels
    xs = [10, 10.3, 10.6, 20, 20.4, 40, 41, 80, 82, 160]
    ys = [5, 5.05, 4.95, 3, 3.02, 2, 2.01, 1.5, 1.52, 1.2]
    ax.plot(xs, ys, "o")
    ax.set_xscale("log")
    ax.set_yscale("log")
    fig.tight_layout()
    placed = place_labels(ax, [(x, y, str(i * 10), "#0072B2") for i, (x, y) in enumerate(zip(xs, ys))])
    renderer = fig.canvas.get_renderer()
    boxes = [artist.get_window_extent(renderer) for artist in placed]
    assert len(placed) >= 7  # most labels find a free place
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert not a.overlaps(b), (a, b)
    plt.close(fig)


def test_each_scheduler_keeps_its_colour_marker_and_dash_in_every_chart():
    first = styles(["pndm", "ddim", "ddpm"])
    assert first == styles(["ddpm", "ddim", "pndm", "ddim"])  # order and repeats do not matter
    assert len({s["color"] for s in first.values()}) == 3
    assert len({(s["marker"], s["linestyle"]) for s in first.values()}) == 3  # coinciding lines stay visible


def test_nfe_ticks_that_would_print_over_each_other_are_thinned():
    assert spaced([5, 10, 14, 19, 20, 29]) == [5, 10, 14, 19, 29]
    # on an axis reaching 1,000 calls, 59 sits as close to 50 as 20 to 19 on the short one
    assert spaced([5, 10, 14, 19, 20, 29, 50, 59, 100, 200, 500, 1000]) == [5, 10, 14, 19, 29, 50, 100, 200, 500, 1000]


def test_a_narrow_time_range_still_gets_three_plain_ticks():
    fig, ax = plt.subplots()
    ax.set_xscale("log")
    plain_log_axis(ax.xaxis, [345.4, 596.8, 709.0], 1.35)  # results/n1000: 1-2-5 steps would leave only 500
    assert list(ax.xaxis.get_major_locator().tick_values(0, 1)) == [300, 400, 500, 600, 700, 800, 900]
    assert ax.xaxis.get_major_formatter()(300) == "300"
    plt.close(fig)


def browser():
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(browser() is None, reason="headless Chromium is not installed (.ci/run installs Debian's chromium)")
def test_the_report_opens_in_a_browser_without_errors_or_horizontal_scroll(finished_sweep, tmp_path):
    folder = finished_sweep
    write_report(folder)  # the answer comes first, then the charts, the table, provenance last
    markdown = (folder / "report.md").read_text()
    order = [markdown.index(h) for h in ("## The answer", "## Charts", "## Results", "## Provenance")]
    assert order == sorted(order)
    page = (folder / "report.html").resolve()
    # every chart is inline SVG, every grid an embedded PNG: nothing is fetched
    text = page.read_text()
    assert text.count("<svg") == 2 and 'src="data:image/png;base64,' in text and "src=\"http" not in text
    probe = tmp_path / "probe.html"
    probe.write_text(text.replace("</body>", """<script>
window.addEventListener('load', () => {
  const images = [...document.images];
  document.title = JSON.stringify({
    images: images.length, broken: images.filter(i => !i.complete || i.naturalWidth === 0).length,
    scroll: document.documentElement.scrollWidth - window.innerWidth,
    charts: [...document.querySelectorAll('figure.chart svg')].map(s => Math.round(s.getBoundingClientRect().width)),
  });
});
window.onerror = () => { document.title = 'error'; };
</script></body>"""))
    shot = tmp_path / "report.png"
    base = [browser(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1280,900"]
    dumped = subprocess.run([*base, "--dump-dom", "--enable-logging=stderr", "--v=0", probe.as_uri()],
                            capture_output=True, text=True, timeout=120)
    title = dumped.stdout.split("<title>", 1)[1].split("</title>", 1)[0]
    facts = json.loads(title.replace("&quot;", '"'))
    assert facts["images"] >= 3 and facts["broken"] == 0
    assert facts["scroll"] <= 0, f"the page scrolls sideways by {facts['scroll']} px at 1280 px"
    assert facts["charts"] and min(facts["charts"]) >= 900
    console_errors = [line for line in dumped.stderr.splitlines() if "CONSOLE" in line and "ERROR" in line.upper()]
    assert not console_errors, console_errors
    subprocess.run([*base, f"--screenshot={shot}", page.as_uri()], capture_output=True, timeout=120)
    assert shot.exists() and shot.stat().st_size > 10_000  # a screenshot to inspect
