"""Features kept per point, intervals in every record, and ``compare``: the records, the report and compare agree."""

import json
import shutil

import numpy as np
import processes
import pytest
from conftest import cache_env

from ddpm_bench.report.text import verdict_text
from ddpm_bench.runs.compare import run_compare
from ddpm_bench.runs.sweep import run_sweep
from ddpm_bench.settings import config_from
from ddpm_bench.stats import Difference
from ddpm_bench.store import records as R
from ddpm_bench.verdicts import verdict


@pytest.fixture(scope="module")
def sweep(env):
    config = config_from(schedulers=["ddim", "ddpm"], steps=[2, 4], n=12, batch_size=5, model=str(env / "model"))
    frame = run_sweep(config, env / "out", progress=False)
    run_sweep(config_from(schedulers=["ddim"], steps=[2], n=12, seed=1, batch_size=5, model=str(env / "model")),
              env / "seed1", progress=False)  # another seed: its points cannot be paired with the first's
    return env, frame, cache_env(env)  # the folder, the sweep, its cache's variable for a subprocess


def test_every_point_keeps_its_features_in_sample_order_and_an_interval(sweep):
    root, frame, _ = sweep
    points = frame[frame["status"] == "ok"]
    assert len(points) == 4
    for record in points.to_dict("records"):
        features = np.load(root / "out" / record[R.FEATURES], allow_pickle=False)
        assert features.shape == (12, 128) and features.dtype == np.float32
        assert record[R.FID_LOW] <= record[R.FID] <= record[R.FID_HIGH] or record[R.FID_LOW] < record[R.FID_HIGH]
        assert record[R.KID_LOW] < record[R.KID_HIGH] and record["statistics_seconds"] >= 0
    ddim2 = np.load(root / "out" / R.features_file("ddim", 2))
    assert not np.array_equal(ddim2, np.load(root / "out" / R.features_file("ddpm", 2)))


def test_compare_pairs_points_of_one_sweep_and_not_points_of_another_seed(sweep):
    root, _, _ = sweep  # the statistics cache: the env fixture's
    within = run_compare([root / "out"])
    across = run_compare([root / "out", root / "seed1"], ["ddim:2,seed1/ddim:2"])
    labels = {(d.a, d.b) for d in within}
    assert ("ddim:2", "ddpm:2") in labels and ("ddim:2", "ddim:4") in labels
    assert all(d.paired for d in within) and {d.metric for d in within} == {"fid", "kid"}
    assert all(not d.paired for d in across)
    for d in within + across:
        assert d.low <= d.high and d.verdict in ("a better", "b better", "tied")


def test_the_compare_command_prints_json_that_agrees_with_the_records(sweep):
    root, frame, env = sweep
    result = processes.ddpm_bench(
        "compare", str(root / "out"), "--pairs", "ddim:2,ddpm@2", "--json", env={**env, "PATH": ""}
    )
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert {r["metric"] for r in rows} == {"fid", "kid"}
    fid = next(r for r in rows if r["metric"] == "fid")
    assert set(fid) >= {"a", "b", "metric", "difference", "low", "high", "paired", "n", "verdict"}
    by_point = frame.set_index(R.POINT)
    # compare recomputes from the stored float32 features what torchmetrics computed in float64
    recorded = by_point.loc["ddim@2", R.FID] - by_point.loc["ddpm@2", R.FID]
    assert fid["at_n"] == pytest.approx(recorded, rel=1e-4, abs=1e-6)  # the plain difference of the FIDs at N
    assert fid["low"] <= fid["difference"] <= fid["high"]  # and the estimate its interval brackets
    assert fid["paired"] is True and fid["n"] == 12


def test_compare_names_an_unknown_point(sweep):
    root, _, env = sweep
    result = processes.ddpm_bench("compare", str(root / "out"), "--pairs", "ddim:3,ddpm:2", env={**env, "PATH": ""})
    assert result.returncode == 2 and "unknown point 'ddim:3' (did you mean" in result.stderr


def test_the_report_shows_intervals_comparisons_and_ties_that_agree_with_compare(sweep):
    root, frame, _ = sweep  # the statistics cache: the env fixture's
    from ddpm_bench.report.document import write_report

    report = write_report(root / "out").read_text()
    (fid, _) = run_compare([root / "out"], ["ddim:2,ddpm:2"])
    assert "| FID, bias-corrected [95 % interval] | FID at N | KID × 10³ [95 % interval] |" in report
    record = frame.set_index(R.POINT).loc["ddim@2"]
    estimate, low, high = record[R.FID_ESTIMATE], record[R.FID_LOW], record[R.FID_HIGH]
    assert low <= estimate <= high  # the value printed beside an interval is what the interval estimates
    assert f"| {estimate:.2f} [{low:.2f}, {high:.2f}] | {record[R.FID]:.2f} |" in report
    # the paper checks judge by the same paired interval that compare prints
    assert (f"FID difference {fid.difference:+.3f}, paired 95 % interval [{fid.low:+.3f}, {fid.high:+.3f}]"
            in report)
    margin = json.loads((root / "out" / R.ANSWER).read_text())["margin"]["value"]
    assert (f"| ddim:2 | ddpm:2 | {fid.difference:+.2f} [{fid.low:+.2f}, {fid.high:+.2f}] | "
            f"{verdict_text(fid, margin)} |") in report
    assert "Pairing made the intervals" in report and "median width ratio" in report
    assert "Per time budget, the fastest point shown as good as the best" in report
    assert "A point below the floor, or a negative KID, is noise" in report


@pytest.mark.parametrize("low, high, edge", [(-0.001, 0.2, True), (0.03, 0.2, False), (-0.2, -0.015, True)])
def test_a_verdict_with_0_within_monte_carlo_error_of_an_end_is_flagged(low, high, edge):
    # Monte Carlo error 0.01 at each end: 0 within 2 of them is at the edge of the verdict
    difference = Difference("a", "b", "fid", (low + high) / 2, low, high, True, 16, 0.01, 0.01)
    assert verdict_text(difference) == verdict(low, high, 0.0) + (" (at the edge)" if edge else "")
    assert difference.to_dict()["edge"] == edge


def test_compare_takes_its_replicates_and_rejects_a_bad_count(sweep):
    root, _, env = sweep
    (fid, _) = run_compare([root / "out"], ["ddim:2,ddpm:2"], replicates=3000)
    assert fid.replicates >= 3000
    command = processes.ddpm_bench("compare", str(root / "out"), "--replicates", "0", env=env)
    assert command.returncode != 0 and "--replicates must be a positive integer, got 0" in command.stderr
    assert "Traceback" not in command.stderr


def test_a_folder_keeps_its_reference_and_an_older_one_gets_it_from_the_report_command(sweep, tmp_path):
    root, _, env = sweep
    from ddpm_bench.report.document import write_report
    from ddpm_bench.store.folder_files import read_reference_stats

    kept = read_reference_stats(root / "out")
    assert kept is not None and kept[0].shape == (128,) and kept[1].shape == (128, 128)
    older = tmp_path / "older"
    shutil.copytree(root / "out", older)
    (older / R.REFERENCE_STATS).unlink()  # as an older ddpm-bench left it
    without = write_report(older).read_text()  # the folder alone: no intervals, and it says why
    assert "keeps no reference statistics" in without and "Pairing made the intervals" not in without
    result = processes.ddpm_bench("report", str(older), env={**env, "PATH": ""})
    assert result.returncode == 0 and "added the reference statistics" in result.stderr, result.stderr
    again = read_reference_stats(older)
    assert np.array_equal(again[0], kept[0]) and np.array_equal(again[1], kept[1])
    assert (older / R.REPORT).read_text() == write_report(root / "out").read_text()
