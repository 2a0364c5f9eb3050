"""What produced a result: library versions, device and platform, recorded beside every number."""

from __future__ import annotations

import functools
import platform
from importlib import metadata

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
    if device.type == "cuda":
        return f"cuda: {torch.cuda.get_device_name(device)}"
    return f"cpu: {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"
