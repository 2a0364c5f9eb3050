"""An N too large to plan is one line naming the limit, before any file is written (runs/capacity.py)."""

import processes
import pytest

from ddpm_bench.errors import BenchError
from ddpm_bench.runs import capacity
from ddpm_bench.runs.sweep import run_sweep
from ddpm_bench.settings import config_from


def test_an_n_no_machine_holds_is_one_line_and_writes_nothing(tmp_path):
    out = tmp_path / "huge"
    result = processes.ddpm_bench("sweep", "-n", "1000000000000", "--steps", "5", "--schedulers", "ddim",
                                  "--out", str(out))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1 and "n=1,000,000,000,000 samples do not fit in this machine's memory" in (
        result.stderr)
    assert not out.exists()


def test_the_memory_check_counts_the_indices_and_one_points_features(tmp_path, monkeypatch):
    needed = 1000 * capacity.INDEX_BYTES + 1000 * 128 * capacity.FEATURE_BYTES  # mnist-cnn: D = 128
    monkeypatch.setattr(capacity, "available_memory", lambda: needed - 1)
    with pytest.raises(BenchError, match=r"n=1,000 samples do not fit .* 1,000 x 128 float32 features need 535\.2 KiB"):
        capacity.check_capacity(1000, tmp_path, backbone="mnist-cnn")
    monkeypatch.setattr(capacity, "available_memory", lambda: needed)
    capacity.check_capacity(1000, tmp_path, backbone="mnist-cnn")


def test_kept_features_that_overflow_the_disk_stop_the_sweep_before_its_folder_exists(tmp_path, monkeypatch):
    monkeypatch.setattr(capacity, "free_disk", lambda folder: 6 * 1000 * 128 * 4 - 1)  # 6 points of 1,000 x 128
    out = tmp_path / "sweep"
    config = config_from(schedulers=["ddim", "ddpm"], steps=[5, 10, 20], n=1000)
    with pytest.raises(BenchError, match=r"the features of 6 point\(s\) of n=1,000 samples \(128 float32 each\) need"):
        run_sweep(config, out, progress=False)
    assert not out.exists()
    capacity.check_capacity(1000, out, points=6, backbone="mnist-cnn", keep_features=False)  # nothing kept on disk
    monkeypatch.setattr(capacity, "free_disk", lambda folder: 6 * 1000 * 128 * 4)
    capacity.check_capacity(1000, out, points=6, backbone="mnist-cnn", keep_features=True)
