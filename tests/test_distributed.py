"""torchrun with two gloo processes on the CPU gives the same FID, KID and images as one process."""

import json
import os
import re
import signal
import time

import processes
import pytest
from conftest import cache_env, save_scoring_model

ARGS = ["--schedulers", "ddim,ddpm", "--steps", "3", "-n", "7", "--batch-size", "2", "--no-progress"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("dist")
    save_scoring_model(root / "model")
    env = {**os.environ, **cache_env(root), "OMP_NUM_THREADS": "1"}
    common = [*ARGS, "--model", str(root / "model")]
    single = processes.ddpm_bench("sweep", *common, "--out", str(root / "one"), env=env)
    assert single.returncode == 0, single.stderr
    double = processes.torchrun("-m", "ddpm_bench", "sweep", *common, "--out", str(root / "two"), env=env)
    assert double.returncode == 0, double.stderr[-3000:]
    return root, double


def records(folder):
    return {r["point"]: r for r in map(json.loads, (folder / "records.jsonl").read_text().splitlines())}


def test_two_processes_give_the_same_metrics_as_one(runs):
    root, _ = runs
    one, two = records(root / "one"), records(root / "two")
    assert one.keys() == two.keys() and len(one) == 3
    for point in ("ddim@3", "ddpm@3"):
        assert two[point]["status"] == "ok" and two[point]["world_size"] == 2 and two[point]["n"] == 7
        for metric in ("fid", "kid", "fid_high", "kid_high"):
            assert abs(two[point][metric] - one[point][metric]) <= 1e-6 * abs(one[point][metric]), metric
        assert len(two[point]["rank_timings"]) == 2
        assert [t["images"] for t in two[point]["rank_timings"]] == [4, 3]  # N = 7 is not divisible by 2


def test_two_processes_draw_the_same_images(runs):
    root, _ = runs
    for grid in ("ddim-3.png", "ddpm-3.png"):
        assert (root / "one" / "grids" / grid).read_bytes() == (root / "two" / "grids" / grid).read_bytes()


def test_only_rank_zero_writes(runs):
    root, double = runs
    assert double.stdout.count("report:") == 1
    assert len((root / "two" / "records.jsonl").read_text().splitlines()) == 3


def test_the_process_group_is_left_on_the_way_out(tmp_path):
    # A process that exits still holding a gloo group can abort at shutdown (pytorch/pytorch#190489): CI saw rank 1 of a
    # finished sweep die with SIGABRT. The group is left when the block ends, and also when it ends by an error; and it
    # can be joined again in the same process (each join keys its gloo addresses apart in torchrun's store: with the
    # shared keys, 3 of 10 runs failed "Connection refused" or hung on the first group's closed ports).
    script = tmp_path / "group.py"
    script.write_text(
        "import torch.distributed as dist\n"
        "from ddpm_bench.util import distributed\n"
        "with distributed.process_group() as size:\n"
        "    assert size == 2 and dist.is_initialized()\n"
        "    rank = distributed.rank()\n"
        "    assert distributed.gather(distributed.rank()) == [0, 1]\n"
        "assert not dist.is_initialized()\n"
        "try:\n"
        "    with distributed.process_group():\n"
        "        raise KeyError('raised inside')\n"
        "except KeyError:\n"
        "    pass\n"
        "assert not dist.is_initialized()\n"
        "print(f'left{rank}')\n"
    )
    result = processes.torchrun(str(script), env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(re.findall(r"left\d", result.stdout)) == ["left0", "left1"]


def test_leaving_the_group_ends_its_threads_though_diffusers_was_imported_in_it(tmp_path):
    # Importing diffusers inside the group (a sweep loads its model there) imports torch.distributed.nn.functional,
    # whose default arguments would keep the group; its gloo threads then ran into interpreter shutdown, where one
    # aborted the process now and then (CI: rank 1 of a resumed sweep, "terminate called without an active exception").
    script = tmp_path / "threads.py"
    script.write_text(
        "import os\n"
        "from ddpm_bench.util import distributed\n"
        "def threads():\n"
        "    return sorted(open(f'/proc/self/task/{t}/comm').read().strip() for t in os.listdir('/proc/self/task'))\n"
        "with distributed.process_group():\n"
        "    from diffusers import UNet2DModel\n"
        "    distributed.gather(distributed.rank())\n"
        "    assert any('gloo' in name for name in threads())\n"
        "    rank = distributed.rank()\n"
        f"open(f'{tmp_path}/threads-{{rank}}.txt', 'w').write(' '.join(threads()))\n"  # the ranks' stdout interleaves
    )
    result = processes.torchrun(str(script), env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    after = [(tmp_path / f"threads-{rank}.txt").read_text() for rank in (0, 1)]
    assert not any("gloo" in names for names in after), after


def worker_of_rank(started, rank, timeout=60):
    """The process id of torchrun's worker with RANK=rank (workers run in sessions of their own)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for pid in started.workers():
            if processes.environment_of(pid).get("RANK") == str(rank):
                return pid
        time.sleep(0.1)
    raise AssertionError(f"no worker of rank {rank} appeared")


def record_lines(folder):
    path = folder / "records.jsonl"
    return path.read_text().splitlines() if path.exists() else []


def test_a_killed_rank_stops_the_others_with_one_line_and_the_sweep_resumes(tmp_path):
    save_scoring_model(tmp_path / "model")
    env = {**os.environ, **cache_env(tmp_path), "OMP_NUM_THREADS": "1"}
    out = tmp_path / "out"
    command = [*processes.TORCHRUN, "--nproc_per_node", "2", "-m", "ddpm_bench", "sweep", "--schedulers", "ddim,ddpm",
               "--steps", "2,50", "-n", "16", "--batch-size", "8", "--no-progress", "--model", str(tmp_path / "model"),
               "--out", str(out)]
    launcher = processes.start(command, env=env)
    victim = worker_of_rank(launcher, 1)
    deadline = time.monotonic() + 120
    while len(record_lines(out)) < 3 and launcher.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)  # the floor, ddim@2 and ddpm@2 are written; ddim@50 (seconds) has begun
    finished = record_lines(out)
    assert len(finished) == 3, "the first points did not finish"
    os.kill(victim, signal.SIGKILL)
    killed_at = time.monotonic()
    result = processes.finish(launcher, timeout=60)  # nothing hangs and no process is left (finish asserts both)
    assert time.monotonic() - killed_at < 30
    assert result.returncode != 0
    ours = [line for line in result.stderr.splitlines() if line.startswith("ddpm-bench: error:")]
    assert len(ours) == 1, result.stderr[-3000:]
    assert f"rank 1 (process {victim}) ended while the run was in progress" in ours[0]
    assert "Every finished point is kept: run the same command again to resume" in ours[0]
    assert record_lines(out) == finished  # every finished point kept, nothing half-written

    again = processes.run(command, env=env, timeout=180)
    assert again.returncode == 0, again.stderr[-3000:]
    lines = record_lines(out)
    assert lines[:3] == finished and len(lines) == 5
    assert {json.loads(line)["point"] for line in lines[3:]} == {"ddim@50", "ddpm@50"}
