"""``retime``: every finished point timed again side by side, and the report showing those times while they cover
every point."""

import json

import processes

from ddpm_bench.report.document import write_report
from ddpm_bench.runs.retime import retime_folder
from ddpm_bench.runs.sweep import run_sweep
from ddpm_bench.runs.workbench import Workbench
from ddpm_bench.settings import config_from
from ddpm_bench.store import records as R


def sweep(env, folder, steps):
    config = config_from(schedulers=["ddim", "ddpm"], steps=steps, n=6, batch_size=3, model=str(env / "model"),
                         grid_samples=4)
    return run_sweep(config, folder, progress=False)


def table_ms(report: str) -> dict[str, str]:
    """ms / image by point label, as the report's results table prints it."""
    results = report.split("## Results", 1)[1].split("\n## ", 1)[0]
    rows = [
        line.split(" | ") for line in results.splitlines() if line.startswith("| ddim |") or line.startswith("| ddpm |")
    ]
    return {f"{row[0][2:]}:{row[1]}": row[3] for row in rows}


def test_retime_times_every_point_side_by_side_and_the_cli_prints_both_times(env, tmp_path):
    sweep(env, tmp_path / "out", [2, 3])
    done = processes.ddpm_bench("retime", str(tmp_path / "out"), "--rounds", "2")  # the cache: scoring_env's
    assert done.returncode == 0, done.stderr
    timings = json.loads((tmp_path / "out" / R.TIMINGS).read_text())
    assert timings["rounds"] == 2 and timings["batch_size"] == 3
    assert {(t["scheduler"], t["steps"]) for t in timings["timings"]} == {
        ("ddim", 2), ("ddim", 3), ("ddpm", 2), ("ddpm", 3)
    }
    assert all(t["seconds_per_image"] > 0 for t in timings["timings"])
    assert all(label in done.stdout for label in ("ddim:2", "ddim:3", "ddpm:2", "ddpm:3"))
    assert "timed again side by side by `ddpm-bench retime`: 2 rounds" in (tmp_path / "out" / R.REPORT).read_text()


def test_the_report_shows_the_side_by_side_times_until_a_point_is_added(env, tmp_path, monkeypatch):
    folder = tmp_path / "out"
    frame = sweep(env, folder, [2, 3])
    sampled = {R.point_label(r["scheduler"], r["steps"]): f"{r['seconds_per_image'] * 1000:.1f}"
               for r in frame.to_dict("records") if r["status"] == "ok"}
    calls = []

    def side_by_side(self, points, rounds):
        calls.append((len(points), rounds))
        return [0.5 + index / 10 for index in range(len(points))]  # 500.0, 600.0, 700.0, 800.0 ms

    monkeypatch.setattr(Workbench, "time_side_by_side", side_by_side)
    summary = retime_folder(folder, rounds=5)
    assert calls == [(4, 5)]
    retimed = {
        R.point_label(t["scheduler"], t["steps"]): f"{t['seconds_per_image'] * 1000:.1f}" for t in summary["timings"]
    }
    assert sorted(retimed.values()) == ["500.0", "600.0", "700.0", "800.0"]
    assert {R.point_label(t["scheduler"], t["steps"]): f"{t['seconds_per_image_while_sampled'] * 1000:.1f}"
            for t in summary["timings"]} == sampled  # the time taken while sampling, kept beside
    assert table_ms(write_report(folder).read_text()) == retimed
    sweep(env, folder, [2, 3, 4])  # a point sampled after the retiming: the old times would mix conditions again
    report = write_report(folder).read_text()
    assert "timings.json is older than ddim:4, ddpm:4" in report
    shown = table_ms(report)
    assert {label: shown[label] for label in sampled} == sampled


def test_retime_of_a_folder_without_records_is_a_one_line_error(tmp_path):
    done = processes.ddpm_bench("retime", str(tmp_path / "nothing"))
    assert done.returncode == 2 and "has no records.jsonl" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
