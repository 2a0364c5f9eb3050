"""The report read as a reader reads it, in headless Chromium at 1,280 px, on a fresh sweep and on every committed
results folder: every value printed beside an interval lies inside it, the first screen's answer is the one
``report --json`` gives (and, for a target folder, the search's own), no element is wider than the window, the
reproduce section lists the commands that made the folder, and running them again gives the same records."""

import json
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import processes
import pytest

from ddpm_bench.cli import main
from ddpm_bench.report.document import write_report
from ddpm_bench.store import records as R
from ddpm_bench.store.folder_files import read_commands

ROOT = Path(__file__).resolve().parents[1]
COMMITTED = sorted(p.parent for p in (ROOT / "results").glob("*/report.md"))
NUMBER = r"[-+−]?\d+(?:\.\d+)?"
# a value, then its interval: "0.49 [0.00, 1.46]", "FID 7.64, 95 % interval [5.32, 9.72]", "+0.10, paired 95 % interval
# [-0.29, +0.55]"
VALUE_AND_INTERVAL = re.compile(rf"({NUMBER})(?:,? (?:paired |unpaired )?95 % interval)? \[({NUMBER}), ({NUMBER})\]")


def number(text: str) -> float:
    return float(text.replace("−", "-"))


def values_outside_their_intervals(text: str) -> list[str]:
    return [match.group(0) for match in VALUE_AND_INTERVAL.finditer(text)
            if not number(match.group(2)) <= number(match.group(1)) <= number(match.group(3))]


def first_screen_pick(markdown: str) -> str | None:
    """The point the answer names for the best quality: the last budget's (a sweep), the first reached (a target);
    None where that line is undecided."""
    answer = markdown.split("## The answer", 1)[1].split("\n## ", 1)[0]
    bullets = [line for line in answer.splitlines() if line.startswith("- ")]
    if "Target:" in answer:
        found = re.search(r"\*\*(\S+) at (\d+) steps\*\*", answer)
        return f"{found.group(1)}:{found.group(2)}" if found else None
    found = re.search(r"\*\*([^*]+)\*\*", bullets[-1])
    return None if found is None or found.group(1).startswith("undecided") else found.group(1)


@pytest.mark.parametrize("folder", COMMITTED, ids=[p.name for p in COMMITTED])
def test_every_committed_report_prints_values_inside_their_intervals_and_one_answer(folder):
    markdown = (folder / R.REPORT).read_text()
    assert values_outside_their_intervals(markdown) == []
    answer = json.loads((folder / R.ANSWER).read_text())
    assert first_screen_pick(markdown) == answer["pick"]
    if (folder / R.TARGET).exists():  # a target folder answers its own search's question
        search = json.loads((folder / R.TARGET).read_text())
        reached = sorted((r for r in search["results"] if r["met"]), key=lambda r: r["seconds_per_image"])
        assert answer["pick"] == (f"{reached[0]['scheduler']}:{reached[0]['steps']}" if reached else None)


def test_the_value_check_finds_a_value_outside_its_interval():
    assert values_outside_their_intervals("FID 2.656 [0.000, 1.739] and 0.49 [0.00, 1.46]") == ["2.656 [0.000, 1.739]"]
    assert values_outside_their_intervals("difference +0.102, paired 95 % interval [-0.287, +0.546]") == []


@pytest.fixture(scope="module")
def swept(env):
    """A folder made by two sweeps and a retime through the command line, as a user makes one."""
    folder = env / "made"
    common = ["--model", str(env / "model"), "--batch-size", "6", "--out", str(folder), "--no-progress"]
    for command in (["sweep", "--schedulers", "ddim,ddpm", "--steps", "2,4", "-n", "12", *common],
                    ["sweep", "--schedulers", "pndm", "--steps", "2", "-n", "12", *common],
                    ["retime", str(folder), "--rounds", "1"]):
        assert main(command) == 0  # in this process: the same CLI, without a fresh import of torch per command
    return folder


def browser():
    return shutil.which("chromium") or shutil.which("chromium-browser")


def rendered(page: Path, tmp_path: Path) -> dict:
    """What Chromium shows at 1,280 px: the page's text, its sideways scroll, and the elements wider than the window."""
    probe = tmp_path / "probe.html"
    probe.write_text(page.read_text().replace("</body>", """<script>
window.addEventListener('load', () => {
  const wide = [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > window.innerWidth
    + 1).map(e => e.tagName + ':' + (e.textContent || '').slice(0, 40));
  const out = document.createElement('pre');
  out.id = 'probe';
  out.textContent = JSON.stringify({text: document.body.innerText, wide: wide,
                                    scroll: document.documentElement.scrollWidth - window.innerWidth});
  document.body.appendChild(out);
});
</script></body>"""))
    dumped = subprocess.run([browser(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                             "--window-size=1280,900", "--dump-dom", probe.as_uri()],
                            capture_output=True, text=True, timeout=120)
    payload = dumped.stdout.split('<pre id="probe">', 1)[1].split("</pre>", 1)[0]
    for escaped, plain in (("&quot;", '"'), ("&lt;", "<"), ("&gt;", ">"), ("&amp;", "&")):
        payload = payload.replace(escaped, plain)
    return json.loads(payload)


@pytest.mark.skipif(browser() is None, reason="headless Chromium is not installed (.ci/run installs Debian's chromium)")
def test_a_fresh_report_read_in_a_browser_tells_one_answer_inside_its_intervals(swept, tmp_path):
    write_report(swept)
    page = rendered(swept / "report.html", tmp_path)
    assert page["scroll"] <= 0 and page["wide"] == [], page["wide"]
    assert values_outside_their_intervals(page["text"]) == []
    answer = processes.ddpm_bench("report", str(swept), "--json")
    assert answer.returncode == 0, answer.stderr
    data = json.loads(answer.stdout)
    assert first_screen_pick((swept / R.REPORT).read_text()) == data["pick"]
    answered = [b["answer"] for b in data["budgets"] if b["answer"] is not None]
    assert data["budgets"] and all(a["low"] <= a["value"] <= a["high"] for a in answered)
    assert "below twice the feature dimension" in page["text"]  # N = 12 against a 128-dimensional feature network


def test_the_gate_exits_1_when_the_answer_differs_or_is_undecided(swept, capsys):
    pick = json.loads((swept / R.ANSWER).read_text())["pick"]
    other = "ddim:2" if pick != "ddim:2" else "ddpm:2"
    assert main(["report", str(swept), "--expect", other]) == 1
    assert "gate failed: the answer for the best quality is" in capsys.readouterr().err
    if pick is not None:
        assert main(["report", str(swept), "--expect", pick]) == 0
    capsys.readouterr()
    # a margin so wide that the fastest point is as good as any: decided, and it names that point
    assert main(["report", str(swept), "--require-decided", "--margin", "1000", "--json"]) == 0
    (only,) = json.loads(capsys.readouterr().out)["budgets"]  # one budget: the fastest point answers every one
    assert only["up_to_ms"] is None and only["answer"]["ms_per_image"] == only["from_ms"]


def comparable(folder: Path) -> pd.DataFrame:
    """The current records without what differs between runs: times, the machine, the run, the statistics' cost."""
    frame = R.load_frame(folder)
    varying = [c for c in frame.columns if "second" in c or c in (
        R.DEVICE, R.RUN, R.MS_PER_IMAGE, "timed_batches", R.VERSIONS, "model_weights", R.FEATURES, R.GRID, "started")]
    return frame.drop(columns=varying).sort_values([R.SCHEDULER, R.STEPS]).reset_index(drop=True)


def test_the_reproduce_section_lists_every_command_and_running_them_again_gives_the_same_records(swept, env):
    commands = [c["command"] for c in read_commands(swept)]
    assert [c.split()[1] for c in commands] == ["sweep", "sweep", "retime"]
    assert all(command in (swept / R.REPORT).read_text() for command in commands)
    again = env / "again"
    for command in commands:
        assert main([word.replace(str(swept), str(again)) for word in command.split()[1:]]) == 0
    pd.testing.assert_frame_equal(comparable(again), comparable(swept), check_exact=False, rtol=1e-6)


def test_a_target_folder_lists_its_search_and_running_it_again_gives_the_same_records(env):
    made, again = env / "target-made", env / "target-again"
    command = ["target", "--model", str(env / "model"), "--schedulers", "ddim", "--fid", "1e6", "--first-steps", "2",
               "--max-steps", "4", "--start-n", "8", "--max-n", "16", "--batch-size", "4", "--no-progress"]
    assert main([*command, "--out", str(made)]) == 0
    (logged,) = [c["command"] for c in read_commands(made)]
    markdown = write_report(made).read_text()
    assert logged.split()[1] == "target" and logged in markdown
    assert first_screen_pick(markdown) == json.loads((made / R.ANSWER).read_text())["pick"] == "ddim:1"
    assert main([word.replace(str(made), str(again)) for word in logged.split()[1:]]) == 0
    pd.testing.assert_frame_equal(comparable(again), comparable(made), check_exact=False, rtol=1e-6)


def test_a_point_swept_without_features_is_named_not_judged(swept, env):
    mixed = env / "mixed"
    shutil.copytree(swept, mixed)
    assert main(["sweep", "--schedulers", "pndm", "--steps", "4", "-n", "12", "--model", str(env / "model"),
                 "--batch-size", "6", "--no-features", "--out", str(mixed), "--no-progress"]) == 0
    markdown = (mixed / R.REPORT).read_text()
    assert "Not judged (they kept no features, so they have no intervals): pndm:4." in markdown
    data = json.loads((mixed / R.ANSWER).read_text())
    assert data["unjudged"] == ["pndm:4"] and all("pndm:4" not in b["contenders"] for b in data["budgets"])
