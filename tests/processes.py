"""Running a command from a test under a timeout, and leaving nothing behind.

``subprocess.run(timeout=...)`` kills only the process it started, and a launcher such as torchrun starts each worker
in a session of its own: a launcher that times out or dies leaves its workers orphaned (about 230 MB each). Here every
descendant of the command is noted while it runs; on a timeout all of them are killed, and the test fails if any of
them outlives the command.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from typing import Optional, Sequence

DEFAULT_TIMEOUT = 300
TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone"]


def _stat(pid: int) -> Optional[list[str]]:
    """The fields of /proc/PID/stat after the command name (state, ppid, pgrp, ...), or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()
    except OSError:
        return None


def descendants(pid: int) -> set[int]:
    """Every living process below ``pid`` in the process tree (Linux /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (fields := _stat(int(entry))) is not None:
            children.setdefault(int(fields[1]), []).append(int(entry))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def alive(pid: int) -> bool:
    fields = _stat(pid)
    return fields is not None and fields[0] != "Z"


def environment_of(pid: int) -> dict:
    try:
        with open(f"/proc/{pid}/environ", "rb") as handle:
            items = handle.read().split(b"\0")
    except OSError:
        return {}
    return dict(item.decode(errors="replace").split("=", 1) for item in items if b"=" in item)


class Started:
    """A command running in its own session, its output going to temporary files (no pipe can fill and stall it),
    and the processes it has started so far."""

    def __init__(self, argv: Sequence[str], env: Optional[dict], input: Optional[str]):
        self.argv = " ".join(map(str, argv))
        self.stdout, self.stderr = tempfile.TemporaryFile("w+"), tempfile.TemporaryFile("w+")
        self.process = subprocess.Popen(list(argv), stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                                        stdout=self.stdout, stderr=self.stderr, text=True, env=env,
                                        start_new_session=True)
        if input is not None:
            self.process.stdin.write(input)
            self.process.stdin.close()
        self.seen: set[int] = set()

    @property
    def pid(self) -> int:
        return self.process.pid

    def poll(self) -> Optional[int]:
        self.seen |= descendants(self.pid)
        return self.process.poll()

    def workers(self) -> set[int]:
        self.seen |= descendants(self.pid)
        return {pid for pid in self.seen if alive(pid)}

    def kill_all(self) -> None:
        for pid in [self.pid, *self.seen]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def output(self) -> tuple[str, str]:
        for handle in (self.stdout, self.stderr):
            handle.seek(0)
        return self.stdout.read(), self.stderr.read()


def start(argv: Sequence[str], *, env: Optional[dict] = None, input: Optional[str] = None) -> Started:
    return Started(argv, env, input)


def finish(started: Started, *, timeout: float = DEFAULT_TIMEOUT) -> subprocess.CompletedProcess:
    """Wait for a started command to end; past ``timeout`` kill it and everything it started, and fail. Asserts that
    no process it started outlives it."""
    deadline = time.monotonic() + timeout
    while started.poll() is None:
        if time.monotonic() > deadline:
            started.kill_all()
            started.process.wait()
            raise AssertionError(f"{started.argv} ran past {timeout} s and was killed with every process it started; "
                                 f"stderr ends: {started.output()[1][-2000:]}")
        time.sleep(0.05)
    grace = time.monotonic() + 10
    while (left := {pid for pid in started.seen if alive(pid)}) and time.monotonic() < grace:
        time.sleep(0.05)
    if left:
        started.kill_all()
    assert not left, f"processes {sorted(left)} of {started.argv} outlived it (killed now)"
    stdout, stderr = started.output()
    return subprocess.CompletedProcess(started.process.args, started.process.returncode, stdout, stderr)


def run(argv: Sequence[str], *, timeout: float = DEFAULT_TIMEOUT, env: Optional[dict] = None,
        input: Optional[str] = None) -> subprocess.CompletedProcess:
    """Run ``argv`` to completion in a new session, as ``finish`` waits for it."""
    return finish(start(argv, env=env, input=input), timeout=timeout)


def ddpm_bench(*args: str, **kwargs) -> subprocess.CompletedProcess:
    """``python -m ddpm_bench ARGS`` in a fresh process, as ``run`` runs it."""
    return run([sys.executable, "-m", "ddpm_bench", *args], **kwargs)


def torchrun(*args: str, nproc: int = 2, **kwargs) -> subprocess.CompletedProcess:
    """``torchrun --standalone``: the rendezvous binds a port the OS picks, so no free port is guessed and raced for."""
    return run([*TORCHRUN, "--nproc_per_node", str(nproc), *args], **kwargs)
