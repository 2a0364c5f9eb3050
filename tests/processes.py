"""Running a command from a test: in its own process group, under a timeout, and leaving nothing behind.

``subprocess.run(timeout=...)`` kills only the process it started; a launcher such as torchrun that times out leaves
its workers orphaned (about 230 MB each). Here the whole group is killed on a timeout, and the test fails if any
process of the group outlives the command.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Optional, Sequence

DEFAULT_TIMEOUT = 300


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def run(argv: Sequence[str], *, timeout: float = DEFAULT_TIMEOUT, env: Optional[dict] = None,
        input: Optional[str] = None) -> subprocess.CompletedProcess:
    """Run ``argv`` to completion in a new session; on a timeout kill its whole group and fail. Asserts that no
    process of the group survives."""
    process = subprocess.Popen(list(argv), stdin=subprocess.PIPE if input is not None else None, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=env, start_new_session=True)
    try:
        stdout, stderr = process.communicate(input, timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
        raise AssertionError(f"{' '.join(argv)} ran past {timeout} s and was killed with its group; "
                             f"stderr ends: {stderr[-2000:]}") from None
    deadline = time.monotonic() + 10
    while group_alive(process.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    survived = group_alive(process.pid)
    if survived:
        os.killpg(process.pid, signal.SIGKILL)
    assert not survived, f"processes of {' '.join(argv)} outlived it (killed now)"
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def ddpm_bench(*args: str, **kwargs) -> subprocess.CompletedProcess:
    """``python -m ddpm_bench ARGS`` in a fresh process, as ``run`` runs it."""
    return run([sys.executable, "-m", "ddpm_bench", *args], **kwargs)


def torchrun(*args: str, nproc: int = 2, **kwargs) -> subprocess.CompletedProcess:
    """``torchrun --standalone``: the rendezvous binds a port the OS picks, so no free port is guessed and raced for."""
    return run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(nproc), *args],
               **kwargs)
