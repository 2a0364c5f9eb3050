"""The sweep: records, resume after SIGKILL, failures recorded, bad input, config round trip, the report."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import processes
import pytest
from conftest import save_scoring_model

from ddpm_bench.errors import BenchError, ConfigError
from ddpm_bench.metrics.backbones import get_backbone
from ddpm_bench.metrics.reference import resolve_reference
from ddpm_bench.runs.scoring import Scoring
from ddpm_bench.runs.sweep import run_sweep
from ddpm_bench.settings import config_from, load_config
from ddpm_bench.store.folder_files import read_reference_stats
from ddpm_bench.store.records import RECORDS, REFERENCE_STATS

RESULT_COLUMNS = ["scheduler", "steps", "nfe", "fid", "kid", "kid_low", "kid_high", "status"]


def small(env, **overrides):
    values = dict(
        schedulers=["ddim", "pndm:skip_prk_steps=true"], steps=[2, 4], n=6, batch_size=3, model=str(env / "model"),
        grid_samples=4,
    )
    values.update(overrides)
    return config_from(**values)


def cli(*args, **kwargs):
    return processes.ddpm_bench(*args, **kwargs)


def test_a_sweep_records_every_point_and_writes_the_report(env, tmp_path):
    frame = run_sweep(small(env), tmp_path / "out", progress=False)
    floor = frame[frame["status"] == "floor"]
    assert len(floor) == 1 and floor.iloc[0]["n"] == 6 and floor.iloc[0]["fid"] > 0
    frame = frame[frame["status"] != "floor"]
    assert len(frame) == 4 and (frame["status"] == "ok").all()
    assert frame.set_index(["scheduler", "steps"])["nfe"].to_dict() == {
        ("ddim", 2): 2, ("ddim", 4): 4, ("pndm:skip_prk_steps=True", 2): 3, ("pndm:skip_prk_steps=True", 4): 5,
    }
    record = json.loads((tmp_path / "out" / RECORDS).read_text().splitlines()[1])
    for key in ("scheduler_config", "plugin", "plugin_version", "nfe", "seconds_per_image", "seconds_per_image_min",
                "seconds_per_image_max", "total_seconds", "fid", "kid", "kid_low", "kid_high", "n", "seed",
                "backbone", "reference", "model", "model_sha256", "device", "precision", "versions"):
        assert key in record, key
    from ddpm_bench.report.document import write_report

    report = write_report(tmp_path / "out").read_text()
    assert "## The answer" in report and "Per time budget, the fastest point shown as good as the best" in report
    assert "mnist-cnn" in report
    assert "6 real images from embedded:mnist-test score FID" in report and "MNIST test digits: none of them" in report
    for name in ("fid_vs_time.svg", "fid_vs_nfe.svg", "report.html", "sweep.toml"):
        assert (tmp_path / "out" / name).exists()
    assert "data:image/png;base64," in (tmp_path / "out" / "report.html").read_text()


def test_a_sweep_folder_keeps_the_reference_statistics_its_points_were_scored_against(env, tmp_path):
    config = small(env, schedulers=["ddim"], steps=[2])
    run_sweep(config, tmp_path / "out", progress=False)
    cached = resolve_reference(config.reference, get_backbone(config.backbone), 28, 1)  # the cache the sweep read
    mu, sigma = read_reference_stats(tmp_path / "out")
    np.testing.assert_array_equal(mu, cached.mu)
    np.testing.assert_array_equal(sigma, cached.sigma)
    with np.load(tmp_path / "out" / REFERENCE_STATS, allow_pickle=False) as saved:
        assert str(saved["key"]) == cached.key


def test_a_failing_point_is_recorded_and_the_sweep_goes_on(env, tmp_path):
    frame = run_sweep(small(env, schedulers=["pndm", "ddim"], steps=[2, 5]), tmp_path / "out", progress=False)
    failed = frame[frame["status"] == "failed"]
    assert list(zip(failed["scheduler"], failed["steps"])) == [("pndm", 2)]
    assert "at least 4 steps" in failed.iloc[0]["error"]
    assert (frame[frame["status"] == "ok"]["scheduler"] + "").tolist().count("ddim") == 2


def test_resume_skips_finished_points_and_force_recomputes(env, tmp_path):
    run_sweep(small(env, steps=[2]), tmp_path / "out", progress=False)
    before = (tmp_path / "out" / RECORDS).read_text()
    frame = run_sweep(small(env, steps=[2, 4]), tmp_path / "out", progress=False)
    after = (tmp_path / "out" / RECORDS).read_text()
    assert after.startswith(before) and len(after.splitlines()) == 5 and len(frame) == 5
    run_sweep(small(env, steps=[2]), tmp_path / "out", progress=False, force=True)
    assert len((tmp_path / "out" / RECORDS).read_text().splitlines()) == 3


def test_records_of_another_config_are_refused(env, tmp_path):
    run_sweep(small(env, steps=[2]), tmp_path / "out", progress=False)
    with pytest.raises(BenchError, match="records of another sweep config"):
        run_sweep(small(env, steps=[2], n=8), tmp_path / "out", progress=False)


def test_records_of_a_model_whose_weights_changed_are_refused(env, tmp_path):
    model = tmp_path / "model"
    save_scoring_model(model)
    run_sweep(small(env, steps=[2], model=str(model)), tmp_path / "out", progress=False)
    save_scoring_model(model, seed=1)
    before = (tmp_path / "out" / RECORDS).read_text()
    with pytest.raises(BenchError, match="records of a model with other weights"):
        run_sweep(small(env, steps=[2, 4], model=str(model)), tmp_path / "out", progress=False)
    assert (tmp_path / "out" / RECORDS).read_text() == before


def test_a_point_recorded_with_another_scheduler_configuration_is_computed_again(env, tmp_path):
    """As after an upgrade that changed a scheduler's default: that point runs again and its new record supersedes
    the old one, which stays in the file; the other points are kept as they were."""
    run_sweep(small(env, steps=[2]), tmp_path / "out", progress=False)
    path = tmp_path / "out" / RECORDS
    records = [json.loads(line) for line in path.read_text().splitlines()]
    ddim = next(r for r in records if r["scheduler"] == "ddim")
    ddim["scheduler_config"]["use_clipped_model_output"] = False
    ddim["fid"] = -1.0
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    lines = []
    frame = run_sweep(small(env, steps=[2]), tmp_path / "out", progress=False, log=lines.append)
    assert any("ddim@2: recorded with another scheduler configuration (use_clipped_model_output False -> True)" in line
               for line in lines)
    after = path.read_text().splitlines()
    assert [json.loads(line) for line in after[: len(records)]] == records and len(after) == len(records) + 1
    assert json.loads(after[-1])["point"] == "ddim@2"
    assert len(frame) == len(records) and (frame["fid"] > 0).all()
    from ddpm_bench.store.records import load_frame

    assert load_frame(tmp_path / "out")["fid"].tolist() == frame["fid"].tolist()


def test_sigkill_mid_sweep_then_resume_equals_an_uninterrupted_run(env, tmp_path):
    args = ["sweep", "--schedulers", "ddim,ddpm,pndm:skip_prk_steps=true", "--steps", "3,6,9", "-n", "6",
            "--batch-size", "3", "--model", str(env / "model"), "--no-progress"]
    killed = tmp_path / "killed"
    process = subprocess.Popen([sys.executable, "-m", "ddpm_bench", *args, "--out", str(killed)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    records = killed / RECORDS
    deadline = time.time() + 120
    while time.time() < deadline and (not records.exists() or len(records.read_text().splitlines()) < 3):
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    kept = records.read_text().splitlines()
    assert 3 <= len(kept) < 10
    resumed = cli(*args, "--out", str(killed))
    assert resumed.returncode == 0, resumed.stderr
    assert records.read_text().splitlines()[: len(kept)] == kept
    fresh = cli(*args, "--out", str(tmp_path / "fresh"))
    assert fresh.returncode == 0, fresh.stderr
    from ddpm_bench.store.records import load_frame

    a = load_frame(killed)[RESULT_COLUMNS].reset_index(drop=True)
    b = load_frame(tmp_path / "fresh")[RESULT_COLUMNS].reset_index(drop=True)
    assert a.equals(b)


def test_the_written_config_reproduces_the_run(env, tmp_path):
    run_sweep(small(env, schedulers=["ddim:eta=1.0"], steps=[3]), tmp_path / "first", progress=False)
    config = load_config(tmp_path / "first" / "sweep.toml")
    assert config.schedulers == ["ddim:eta=1.0"] and config.steps == [3] and config.n == 6
    second = cli("sweep", "--config", str(tmp_path / "first" / "sweep.toml"), "--out", str(tmp_path / "second"),
                 "--no-progress")
    assert second.returncode == 0, second.stderr
    from ddpm_bench.store.records import load_frame

    first, second = load_frame(tmp_path / "first"), load_frame(tmp_path / "second")
    assert first[["scheduler", "steps", "nfe", "n", "seed"]].fillna(0).equals(
        second[["scheduler", "steps", "nfe", "n", "seed"]].fillna(0)
    )
    # the second run is another process, possibly with another thread count: equal up to float round-off
    assert np.allclose(first[["fid", "kid"]].to_numpy(float), second[["fid", "kid"]].to_numpy(float), rtol=1e-5)


@pytest.mark.parametrize(
    "args,message",
    [
        (["--schedulers", "ddim,dpm"], "unknown scheduler 'dpm'"),
        (["--schedulers", "ddim:etaa=1"], "unknown option 'etaa'"),
        (["--steps", ""], "argument --steps: empty item in ''"),
        (["--steps", "10,,20"], "argument --steps: empty item in '10,,20'"),
        (["--steps", "10,x"], "argument --steps: 'x' is not an integer"),
        (["--steps", "0,5"], "argument --steps: '0' is not a positive integer"),
        (["--steps", "5,-5"], "argument --steps: '-5' is not a positive integer"),
        (["--steps", "5,10,5"], "argument --steps: '5' is given more than once"),
        (["--schedulers", "ddim,,pndm"], "argument --schedulers: empty item in 'ddim,,pndm'"),
        (["--schedulers", "ddim,ddim"], "argument --schedulers: 'ddim' is given more than once"),
        (["-n", "0"], "n must be a positive integer"),
        (["--model", "/no/such/model"], "is not a folder, a hub id"),
        (["--config", "BAD_TOML"], "is not valid TOML"),
        (["--config", "UNKNOWN_KEY"], "unknown option 'stepz'"),
        (["--out", "FILE/sub"], "cannot write to output folder"),
    ],
)
def test_bad_input_is_one_line_and_loses_nothing(env, tmp_path, args, message):
    (tmp_path / "bad.toml").write_text("[sweep\nschedulers = ")
    (tmp_path / "unknown.toml").write_text("[sweep]\nstepz = [1]\n")
    (tmp_path / "file").write_text("not a folder")
    substitutions = {"BAD_TOML": str(tmp_path / "bad.toml"), "UNKNOWN_KEY": str(tmp_path / "unknown.toml"),
                     "FILE/sub": str(tmp_path / "file" / "sub")}
    args = [substitutions.get(a, a) for a in args]
    base = ["sweep", "--model", str(env / "model"), "-n", "4", "--steps", "2", "--out", str(tmp_path / "out"),
            "--no-progress"]
    result = cli(*base, *args)
    assert result.returncode == 2
    assert message in result.stderr
    assert result.stderr.strip().count("\n") == 0 and "Traceback" not in result.stderr


def test_bad_input_after_a_finished_run_keeps_the_records(env, tmp_path):
    run_sweep(small(env, steps=[2]), tmp_path / "out", progress=False)
    before = (tmp_path / "out" / RECORDS).read_text()
    result = cli("sweep", "--model", str(env / "model"), "--schedulers", "nope", "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    assert (tmp_path / "out" / RECORDS).read_text() == before


@pytest.fixture(scope="module")
def finished(env, tmp_path_factory):
    """A finished one-point sweep, copied by tests that need earlier records to sit beside."""
    out = tmp_path_factory.mktemp("finished") / "out"
    run_sweep(small(env, steps=[2], schedulers=["ddim"]), out, progress=False)
    return out


@pytest.mark.parametrize("override,message", [
    ({"model": "/no/such/model"}, "model source '/no/such/model' is not a folder, a hub id"),
    ({"backbone": "mnist-cnm"}, "unknown backbone 'mnist-cnm' (did you mean 'mnist-cnn'?)"),
    ({"reference": "/no/such/digits"}, "reference '/no/such/digits' not found"),
])
def test_a_wrong_source_beside_earlier_records_names_the_real_cause(env, finished, tmp_path, override, message):
    shutil.copytree(finished, tmp_path / "out")
    before = (tmp_path / "out" / RECORDS).read_text()
    with pytest.raises(BenchError) as error:
        run_sweep(small(env, steps=[2], schedulers=["ddim"], **override), tmp_path / "out", progress=False)
    assert message in str(error.value) and "another sweep config" not in str(error.value)
    assert (tmp_path / "out" / RECORDS).read_text() == before


def test_config_types_are_checked():
    with pytest.raises(ConfigError, match="n='10' should be a int"):
        config_from(n="10")


BROKEN_SCHEDULERS = """
from ddpm_bench import hookimpl
from ddpm_bench.schedulers.ddim import DDIMScheduler
from scheduler_helpers import ReturnsNaN  # the tests' folder is on the subprocess's PYTHONPATH

class RaisesAtStep2(DDIMScheduler):
    def step(self, model_output, timestep, sample, **kwargs):
        if int(timestep) == int(self.timesteps[1]):
            raise RuntimeError("gave up at step 2")
        return super().step(model_output, timestep, sample, **kwargs)

class WrongShape(DDIMScheduler):
    def step(self, *args, **kwargs):
        output = super().step(*args, **kwargs)
        output.prev_sample = output.prev_sample[:, :, :-1]
        return output

@hookimpl
def register_schedulers(register):
    register("makes-nan", ReturnsNaN, "returns NaN")
    register("wrong-shape", WrongShape, "returns the wrong shape")
    register("raises-at-2", RaisesAtStep2, "raises on its second step")
"""


def test_a_plugin_scheduler_that_misbehaves_fails_only_its_own_points(env, tmp_path):
    from plugin_factory import install_plugin

    site = tmp_path / "site"
    install_plugin(site, "ddpm-bench-faulty", "0.3.0", "faulty", "faulty_schedulers_mod", BROKEN_SCHEDULERS)
    install_plugin(site, "ddpm-bench-noimport", "0.0.1", "noimport", "noimport_mod",
                   "raise ImportError('missing dependency')\n")
    out = tmp_path / "out"
    result = cli("sweep", "--schedulers", "ddim,makes-nan,wrong-shape,raises-at-2", "--steps", "2,3", "-n", "4",
                 "--batch-size", "2", "--model", str(env / "model"), "--out", str(out), "--no-progress",
                 env={**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.path.dirname(__file__)])})
    assert result.returncode == 0, result.stderr
    assert "plugin noimport (ddpm-bench-noimport 0.0.1): ImportError: missing dependency (skipped)" in result.stderr
    from ddpm_bench.store.records import load_frame

    frame = load_frame(out).set_index(["scheduler", "steps"])
    assert (frame.loc["ddim", "status"] == "ok").all()
    assert frame.loc[("makes-nan", 2), "error"].startswith("SamplingError: makes-nan: non-finite values after step 1/2")
    assert ("returned shape (2, 1, 27, 28) for a sample of shape (2, 1, 28, 28)"
            in frame.loc[("wrong-shape", 3), "error"])
    assert (frame.loc["raises-at-2", "error"] == "RuntimeError: gave up at step 2").all()
    assert (frame.loc["makes-nan", "plugin_version"] == "0.3.0").all()
    provenance = (out / "report.md").read_text().split("## Provenance")[1]
    assert "`makes-nan` from plugin faulty (ddpm-bench-faulty 0.3.0)" in provenance
    assert "real data" not in provenance


def test_a_full_disk_mid_sweep_stops_in_one_line_and_keeps_every_earlier_point(env, tmp_path, monkeypatch):
    out = tmp_path / "out"
    run_sweep(small(env, steps=[2]), out, progress=False)  # the floor and two points
    before = (out / RECORDS).read_text()
    real_write = os.write

    def full_disk(descriptor, data):
        if data.startswith(b'{"'):  # a record: half of it reaches the disk, then the disk is full
            real_write(descriptor, data[: len(data) // 2])
            raise OSError(28, "No space left on device")
        return real_write(descriptor, data)

    monkeypatch.setattr(os, "write", full_disk)
    with pytest.raises(BenchError) as error:
        run_sweep(small(env, steps=[2, 4]), out, progress=False)
    monkeypatch.undo()
    assert "\n" not in str(error.value) and "No space left on device" in str(error.value)
    assert (out / RECORDS).read_text() == before  # parses, holds every earlier point, nothing torn
    frame = run_sweep(small(env, steps=[2, 4]), out, progress=False)  # space again: the sweep resumes
    assert len(frame[frame["status"] == "ok"]) == 4


def test_the_floor_comes_from_floor_data_and_is_drawn_again_when_that_changes(env, tmp_path):
    config = small(env, schedulers=["ddim"], steps=[2], n=8)
    run_sweep(config, tmp_path / "out", progress=False)
    first = [json.loads(line) for line in (tmp_path / "out" / RECORDS).read_text().splitlines()]
    floor = next(r for r in first if r["point"] == "real-data-floor")
    # by default the embedded reference's held-out digits: MNIST's test set, none of them a copy of a reference digit
    assert floor["floor_data"] == "embedded:mnist-test" and floor["near_copy_rate"] == 0.0
    assert floor["fid_low"] <= floor["fid_high"] and "prdc_precision" in floor
    drawn_from_reference = small(env, schedulers=["ddim"], steps=[2], n=8, floor_data="embedded:mnist")
    run_sweep(drawn_from_reference, tmp_path / "out", progress=False)
    records = [json.loads(line) for line in (tmp_path / "out" / RECORDS).read_text().splitlines()]
    assert records[: len(first)] == first and len(records) == len(first) + 1  # the point is kept, the floor redrawn
    assert records[-1]["point"] == "real-data-floor" and records[-1]["floor_data"] == "embedded:mnist"
    assert records[-1]["near_copy_rate"] == 1.0  # every image drawn from the reference is in it
    assert records[-1]["fid"] != floor["fid"]
    with pytest.raises(BenchError, match="floor data '/no/such/digits' not found"):
        run_sweep(small(env, floor_data="/no/such/digits"), tmp_path / "other", progress=False)


def test_the_floor_is_computed_once_for_every_sweep_of_the_same_n_seed_and_data(env, tmp_path, monkeypatch):
    config = small(env, schedulers=["ddim"], steps=[2], n=7, seed=11)
    first = next(r for r in run_sweep(config, tmp_path / "a", progress=False).to_dict("records")
                 if r["point"] == "real-data-floor")

    def computed_again(self, images):
        raise AssertionError("the floor was computed again")

    monkeypatch.setattr(Scoring, "floor_scores", computed_again)
    second = next(r for r in run_sweep(config, tmp_path / "b", progress=False).to_dict("records")
                  if r["point"] == "real-data-floor")
    metrics = ["fid", "fid_low", "fid_high", "kid", "fd_infinity", "prdc_coverage", "near_copy_rate"]
    assert [second[k] for k in metrics] == [first[k] for k in metrics]
    # so is the reference's own KID kernel mean (5,000 x 5,000 kernel), which every point's KID interval needs
    assert len(list((env / "cache" / "stats").glob("derived-kid-reference-kernel-mean-*.npz"))) == 1
    with pytest.raises(AssertionError, match="computed again"):  # other images drawn: computed
        run_sweep(small(env, schedulers=["ddim"], steps=[2], n=7, seed=12), tmp_path / "c", progress=False)


def test_quality_scores_the_same_real_images_as_the_sweeps_floor(env, tmp_path):
    from ddpm_bench.runs.quality import model_quality
    from ddpm_bench.settings import RunSettings

    settings = RunSettings(model=str(env / "model"), batch_size=4)
    result = model_quality(settings, tmp_path / "quality", scheduler="ddim", steps=2, n=8, progress=False)
    floor = next(r for r in run_sweep(small(env, schedulers=["ddim"], steps=[2], n=8), tmp_path / "sweep",
                                      progress=False).to_dict("records") if r["point"] == "real-data-floor")
    assert result["real"]["data"] == floor["floor_data"] == "embedded:mnist-test"
    assert np.isclose(result["real"]["fid"], floor["fid"]) and np.isclose(result["real"]["kid"], floor["kid"])
    assert json.loads((tmp_path / "quality" / "quality.json").read_text())["real"]["fid"] == result["real"]["fid"]
    assert not np.isclose(result["samples"]["fid"], floor["fid"])


def test_running_a_finished_sweep_again_computes_nothing_and_keeps_every_record(env, tmp_path):
    config = small(env, schedulers=["ddim"], steps=[2], n=6)
    first = run_sweep(config, tmp_path / "out", progress=False)
    written = (tmp_path / "out" / RECORDS).read_text()
    again = run_sweep(config, tmp_path / "out", progress=False)
    assert (tmp_path / "out" / RECORDS).read_text() == written
    assert again.equals(first)


def test_a_finished_sweep_run_again_leaves_its_report_alone_until_report_rebuilds_it(env, tmp_path):
    args = ["sweep", "--schedulers", "ddim", "--steps", "2", "-n", "6", "--batch-size", "3", "--model",
            str(env / "model"), "--out", str(tmp_path), "--no-progress"]
    first = cli(*args)
    assert first.returncode == 0
    assert ("Scores: 6 samples a point (seed 0), backbone mnist-cnn, reference embedded:mnist (5000 images)."
            in first.stdout)
    # each metric's estimate inside its interval, then its value at N, labelled
    scores = r"FID ([\d.]+) \[([\d.]+), ([\d.]+)\] \(at N [\d.]+\), KID "
    for line in (rf"^real-data floor, 6 images from embedded:mnist-test: {scores}",
                 rf"^    NFE 2, [\d.]+ ms/image, {scores}"):
        found = re.search(line, first.stdout, re.M)
        assert found, first.stdout
        assert float(found.group(2)) <= float(found.group(1)) <= float(found.group(3))
    report = tmp_path / "report.md"
    written = report.stat().st_mtime_ns
    again = cli(*args)
    assert again.returncode == 0 and "the report is up to date" in again.stdout
    assert report.stat().st_mtime_ns == written
    assert cli("report", str(tmp_path)).returncode == 0 and report.stat().st_mtime_ns > written
