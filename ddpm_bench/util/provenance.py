"""What produced a result: library versions, device and platform, recorded beside every number."""

from __future__ import annotations

import datetime
import functools
import platform
import uuid
from importlib import metadata
from pathlib import Path

import torch

LIBRARIES = ("ddpm-bench", "torch", "diffusers", "numpy", "torchmetrics", "pluggy")


def library_versions() -> dict[str, str]:
    """Python's and each library's version (a copy: every record gets its own dict)."""
    return dict(_installed_versions())


@functools.lru_cache(maxsize=1)
def _installed_versions() -> dict[str, str]:
    """Looked up once per process: reading installed package metadata is slow enough to matter once per point."""
    versions = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def device_description(device: torch.device) -> str:
    """The device as a timing needs it named: the GPU's model, or the CPU's model, whether it has AMX for bf16 (a
    bf16 run is several times faster with it) and the threads torch uses."""
    if device.type == "cuda":
        return f"cuda: {torch.cuda.get_device_name(device)}"
    return f"cpu: {cpu_model()}, {torch.get_num_threads()} threads"


@functools.lru_cache(maxsize=1)
def run_id() -> str:
    """This process's run: its start time (UTC) and a random suffix, the same for every point it records, so that a
    report can tell points timed in one run from points timed in separate runs, whose times compare poorly."""
    return f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%dT%H:%M:%SZ}-{uuid.uuid4().hex[:6]}"


@functools.lru_cache(maxsize=1)
def cpu_model() -> str:
    """``Intel(R) Xeon(R) Processor (AMX-BF16)``: the CPU's model name from /proc/cpuinfo (the platform's machine
    name where there is none), marked where its flags include AMX's bf16 tiles."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or platform.machine()
    name = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")),
                platform.processor() or platform.machine())
    flags = next((line.split(":", 1)[1].split() for line in info.splitlines() if line.startswith("flags")), [])
    return f"{name} (AMX-BF16)" if "amx_bf16" in flags else name
