"""One sweep per output folder: a second is refused naming the first's process; a killed run's lock is taken over."""

import os
import signal
import subprocess
import sys

import processes
import pytest

from ddpm_bench.errors import BenchError
from ddpm_bench.store.lock import LOCK, folder_lock

HOLD = (
    "import sys, time; from ddpm_bench.store.lock import folder_lock\nwith folder_lock(sys.argv[1]):\n"
    "    print('held', flush=True); time.sleep(120)\n"
)


@pytest.fixture
def holder(tmp_path):
    """A process holding ``tmp_path/out``'s lock; yields (process, folder); killed with SIGKILL at the end."""
    folder = tmp_path / "out"
    process = subprocess.Popen([sys.executable, "-c", HOLD, str(folder)], stdout=subprocess.PIPE, text=True,
                               start_new_session=True)
    assert process.stdout.readline().strip() == "held"
    yield process, folder
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def test_a_second_sweep_on_the_same_folder_is_refused_naming_the_first(holder):
    process, folder = holder
    result = processes.ddpm_bench("sweep", "--out", str(folder), "--no-progress", timeout=120)
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert f"{folder} is in use by another run (process {process.pid}:" in result.stderr


def test_the_lock_of_a_killed_run_is_taken_over(holder):
    process, folder = holder
    with pytest.raises(BenchError, match=f"process {process.pid}"):
        with folder_lock(folder):
            pass
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    with folder_lock(folder):  # the dead run's lock file is still there, and is taken over
        assert f"process {os.getpid()}:" in (folder / LOCK).read_text()


def test_the_lock_is_released_when_the_block_ends_or_raises(tmp_path):
    with pytest.raises(KeyError):
        with folder_lock(tmp_path):
            raise KeyError("inside")
    with folder_lock(tmp_path):
        pass
