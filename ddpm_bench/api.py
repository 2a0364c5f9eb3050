"""The Python API over the plugin registry: create and list schedulers."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

from ddpm_bench.errors import ConfigError
from ddpm_bench.plugins import Registration, get_registry


@dataclass(frozen=True)
class SchedulerInfo:
    name: str
    description: str
    plugin: str
    package: str
    version: str


def scheduler_registration(name: str) -> Registration:
    """The registration of ``name``; ConfigError listing the available names (and the closest) when unknown."""
    schedulers = get_registry().schedulers
    if name in schedulers:
        return schedulers[name]
    close = difflib.get_close_matches(name, list(schedulers), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise ConfigError(f"unknown scheduler {name!r}{hint}; available: {', '.join(sorted(schedulers)) or 'none'}")


def create_scheduler(name: str, **config: Any):
    """A fresh instance of the scheduler registered as ``name``, configured with diffusers-style keyword options."""
    return scheduler_registration(name).factory(**config)


def list_schedulers() -> list[SchedulerInfo]:
    """Every registered scheduler with the plugin (and its version) that registered it, sorted by name."""
    return [
        SchedulerInfo(r.name, r.description, r.plugin, r.package, r.version)
        for r in sorted(get_registry().schedulers.values(), key=lambda r: r.name)
    ]
