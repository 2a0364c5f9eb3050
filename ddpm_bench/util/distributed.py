"""Data-parallel sweeps under ``torchrun``: one process per device, each sampling a contiguous shard of the sample
indices (sample i still depends only on (seed, i)), metric states reduced by torchmetrics over the process group, and
only rank 0 writing records and reports. NCCL on CUDA, gloo on CPU. Without ``torchrun`` (WORLD_SIZE unset or 1)
everything here is a no-op.
"""

from __future__ import annotations

import contextlib
import datetime
import itertools
import math
import os
import re
import signal
import socket
from typing import Any, Callable, Iterator, TypeVar

import torch
import torch.distributed as dist

from ddpm_bench.errors import BenchError, ConfigError

T = TypeVar("T")

TIMEOUT_ENV = "DDPM_BENCH_DIST_TIMEOUT"

# Each join of this process gets its own key prefix in torchrun's store (see process_group).
_joins = itertools.count()


class PeerLost(BenchError):
    """Another rank of the group ended (killed, crashed) while this one still needed it."""


def world_size() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def rank() -> int:
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def is_main() -> bool:
    return rank() == 0


@contextlib.contextmanager
def process_group() -> Iterator[int]:
    """Join the process group that ``torchrun`` describes in the environment for the body of the ``with``, yielding
    the world size, and leave it on the way out. Leaving matters: a process that exits still holding a gloo group can
    abort at interpreter shutdown ("terminate called without an active exception", pytorch/pytorch#190489), failing a
    sweep whose every point was written. A group that was already joined is left to whoever joined it.

    Leaving only frees the group if nothing else holds it. ``torch.distributed.nn.functional`` does when it is first
    imported while a group exists: its functions' default ``group=group.WORLD`` is evaluated at import and keeps that
    group (ten references) for good, and importing diffusers imports it (through torch._dynamo). The group's gloo
    threads then outlive ``destroy_process_group``; one of them still releasing the last collective's tensors when the
    interpreter shuts down wants the GIL, is ended by Python, and its unwinding aborts the process (the same message;
    rank 1 of a finished 2-process sweep, 2 runs in 34, CI once). Importing that module before joining binds its
    defaults to None.
    """
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or dist.is_initialized():
        yield world_size()
        return
    import torch.distributed.nn  # noqa: F401  (before the group exists: see above)

    backend = "nccl" if torch.cuda.is_available() else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    timeout = datetime.timedelta(seconds=float(os.environ.get(TIMEOUT_ENV, "1800")))
    # torchrun's store outlives a group, and destroy_process_group() resets the group counter that names a group's
    # keys in it: a second join in the same process would read the first group's gloo addresses, whose ports are
    # closed, and fail with "Connection refused" (or hang) whenever it reads them before the peer rewrites them.
    # Every join therefore writes under its own prefix; all ranks join in lockstep, so their prefixes agree.
    store, my_rank, size = next(dist.rendezvous("env://", timeout=timeout))
    store = dist.PrefixStore(f"ddpm-bench/join-{next(_joins)}", store)
    dist.init_process_group(backend=backend, store=store, rank=my_rank, world_size=size, timeout=timeout)
    try:
        peers = gather((socket.gethostname(), os.getpid()))
        with stop_on_lost_peer(peers):
            yield world_size()
    finally:
        dist.destroy_process_group()


@contextlib.contextmanager
def stop_on_lost_peer(peers: list[tuple[str, int]]) -> Iterator[None]:
    """Turn a dead peer into one line that names it. A rank that dies (SIGKILL, out of memory) leaves the others
    blocked or failing in the next collective; torchrun then stops them with SIGTERM. Either way this rank raises
    ``PeerLost`` naming the dead rank (found among the peers on this host by their process ids), so the sweep ends
    with one line, its lock released and every finished point kept, instead of a traceback or a hang."""

    def dead() -> list[str]:
        """The peers on this host whose process has ended."""
        return [f"rank {r} (process {pid})" for r, (host, pid) in enumerate(peers)
                if r != rank() and host == socket.gethostname() and not process_alive(pid)]

    def lost(cause: str) -> PeerLost:
        who = " and ".join(dead()) or "another rank"
        return PeerLost(f"{who} ended while the run was in progress ({cause}); rank {rank()} stopped. Every finished "
                        "point is kept: run the same command again to resume")

    def on_sigterm(signum, frame):
        raise lost("the launcher stopped the group")

    previous = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        yield
    except RuntimeError as error:  # gloo/NCCL: "Connection closed by peer", a timed-out collective
        if dead():
            raise lost(communication_failure(error)) from error
        raise
    finally:
        signal.signal(signal.SIGTERM, previous)


def communication_failure(error: Exception) -> str:
    """The gist of a backend's error: "Connection closed by peer [127.0.0.1]:7562" out of gloo's source location,
    its hint and its stack."""
    text = re.sub(r"^\[[^\]]*\]\s*", "", " ".join(str(error).split()))
    return text.split(". ")[0][:100]


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` on this host is running (a zombie, dead but not yet reaped, counts as ended)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True  # no /proc (not Linux): the signal test above has answered


def local_device() -> str | None:
    """The device of this rank under torchrun with CUDA (``cuda:LOCAL_RANK``); None to use the default."""
    if world_size() > 1 and torch.cuda.is_available():
        return f"cuda:{os.environ.get('LOCAL_RANK', '0')}"
    return None


def shard(n: int) -> list[int]:
    """This rank's contiguous share of 0..n-1; concatenated in rank order the shards are 0..n-1 again, so gathered
    features arrive in the same order as in one process."""
    size, me = world_size(), rank()
    if n < size:
        raise ConfigError(f"n={n} samples cannot be shared among {size} processes; use n >= {size}")
    per = math.ceil(n / size)
    return list(range(me * per, min(n, (me + 1) * per)))


def gather(obj: Any) -> list[Any]:
    """Every rank's ``obj``, in rank order (a one-element list without a process group)."""
    if world_size() == 1:
        return [obj]
    out: list[Any] = [None] * world_size()
    dist.all_gather_object(out, obj)
    return out


def barrier() -> None:
    if world_size() > 1:
        dist.barrier()


def broadcast(obj: Any) -> Any:
    """Rank 0's ``obj`` on every rank."""
    if world_size() == 1:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def on_main(compute: Callable[[], T]) -> T:
    """``compute()`` on rank 0 alone, its value handed to every rank; a BenchError it raises is raised on every rank,
    so that no rank waits for a peer that has given up."""
    outcome = None
    if is_main():
        try:
            outcome = (True, compute())
        except BenchError as error:
            outcome = (False, str(error))
    succeeded, value = broadcast(outcome)
    if not succeeded:
        raise BenchError(value)
    return value


@contextlib.contextmanager
def main_first() -> Iterator[None]:
    """Rank 0 runs the block before the other ranks do (it fills a cache the others then read)."""
    if not is_main():
        barrier()
    yield
    if is_main():
        barrier()


def first_error(error: str | None) -> str | None:
    """The first rank's error text among every rank's (None when no rank failed)."""
    return next((e for e in gather(error) if e), None)


def combine_timings(timings: list[dict], n: int) -> dict:
    """One process: its own timing. Several: the group's wall time per image (the slowest rank's total over N) as
    ``seconds_per_image``, with every rank's own figures kept under ``rank_timings``."""
    if len(timings) == 1:
        return timings[0]
    slowest = max(t["total_seconds"] for t in timings)
    return {
        "nfe": timings[0]["nfe"], "images": n, "seconds_per_image": slowest / n,
        "seconds_per_image_min": min(t["seconds_per_image_min"] for t in timings),
        "seconds_per_image_max": max(t["seconds_per_image_max"] for t in timings),
        "total_seconds": slowest, "timed_batches": sum(t["timed_batches"] for t in timings),
        "images_per_second": n / slowest, "rank_timings": timings,
    }
