"""Progress without a terminal: a line at least every interval of work and at every point's end, with time left."""

import processes

from ddpm_bench.util.progress import RunProgress, duration


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_lines_every_interval_with_time_left_for_the_point_and_the_run():
    clock, lines = Clock(), []
    progress = RunProgress([10 * 100, 20 * 100], mode="lines", interval=10, write=lines.append, clock=clock)
    progress.point("ddim at 10 steps", 100, 10)
    for batch in range(4):                      # 4 batches of 25 images, 10 calls each, 4 s per call
        for call in range(10):
            clock.now += 4
            progress.call(25)
        progress.batch(25)
    assert len(lines) == 13  # 160 s of work, a call every 4 s: a line after calls 3, 6, ..., 39
    first = lines[0]
    assert first.startswith("[1/2] ddim at 10 steps: 0 of 100 samples done, 12 s elapsed")
    # 3 calls x 25 images in 12 s: 0.16 s per unit; 925 units left here, 2000 in the next point
    assert "about 2 min 28 s left for the point" in first and "about 7 min 48 s for the run" in first
    assert progress.end() == "about 5 min 20 s left for the run"  # 2000 units at the measured 0.16 s
    progress.point("pndm at 20 steps", 100, 20)
    assert progress.end() == "run complete"


def test_quiet_and_bar_modes_write_no_lines():
    clock, lines = Clock(), []
    for mode in ("off", "bar"):
        progress = RunProgress([100], mode=mode, write=lines.append, clock=clock)
        progress.point("x", 10, 10)
        clock.now += 100
        progress.call(10)
    assert lines == []


def test_durations_read_plainly():
    assert [duration(s) for s in (0.4, 45, 185, 7440)] == ["0 s", "45 s", "3 min 05 s", "2 h 04 min"]


def test_a_sweep_into_a_file_shows_time_left(tmp_path, tiny_model_dir):
    """Output to a pipe, not a terminal: every point's closing line says what is left of the run."""
    from conftest import cache_env, save_scoring_model

    save_scoring_model(tmp_path / "model")
    result = processes.ddpm_bench("sweep", "--model", str(tmp_path / "model"), "--schedulers", "ddim,pndm",
                                  "--steps", "4", "-n", "4", "--batch-size", "2", "--out", str(tmp_path / "out"),
                                  env={**cache_env(tmp_path), "PATH": ""})
    assert result.returncode == 0, result.stderr
    assert "[1/2] ddim at 4 steps (4 model calls x 4 samples)" in result.stdout
    assert "left for the run" in result.stdout and "run complete" in result.stdout
