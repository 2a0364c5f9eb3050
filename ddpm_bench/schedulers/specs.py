"""The Python API over the plugin registry: create and list schedulers."""

from __future__ import annotations

import inspect
import json
from dataclasses import dataclass
from typing import Any, Optional

from ddpm_bench.errors import ConfigError
from ddpm_bench.plugins import Registration, get_registry
from ddpm_bench.schedulers.config import created_as, option_types, parse_option_value
from ddpm_bench.util.names import unknown_name
from ddpm_bench.util.options import literal


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
    raise ConfigError(unknown_name("scheduler", name, schedulers))


def create_scheduler(name: str, **config: Any):
    """A fresh instance of the scheduler registered as ``name``, configured with diffusers-style keyword options; an
    option error names ``name``."""
    factory = scheduler_registration(name).factory
    with created_as(name):
        return factory(**config)


def list_schedulers() -> list[SchedulerInfo]:
    """Every registered scheduler with the plugin (and its version) that registered it, sorted by name."""
    return [
        SchedulerInfo(r.name, r.description, r.plugin, r.package, r.version)
        for r in sorted(get_registry().schedulers.values(), key=lambda r: r.name)
    ]


@dataclass(frozen=True)
class SchedulerSpec:
    """A scheduler and the options a user gave it, written ``name[:key=value[:key=value...]]`` (``ddim:eta=1.0``)."""

    name: str
    options: tuple[tuple[str, Any], ...] = ()

    @property
    def label(self) -> str:
        return ":".join([self.name, *(f"{k}={v}" for k, v in self.options)])


def parse_scheduler_spec(text: str) -> SchedulerSpec:
    """Parse ``name[:key=value...]``; segments without ``=`` belong to the name (``diffusers:DDIMScheduler``)."""
    text = text.strip()
    segments = text.split(":")
    split = next((i for i, s in enumerate(segments) if "=" in s), len(segments))
    name = ":".join(segments[:split])
    if not name:
        raise ConfigError(f"scheduler {text!r} has no name; write NAME or NAME:option=value")
    factory = scheduler_registration(name).factory
    config_class = getattr(factory, "config_class", None)
    options = []
    for segment in segments[split:]:
        key, sep, value = segment.partition("=")
        if not sep or not key:
            raise ConfigError(f"scheduler {text!r}: expected option=value after the name, got {segment!r}")
        if config_class is not None:
            options.append((key, parse_option_value(config_class, key, value, name)))
        else:
            options.append((key, literal(value)))
    return SchedulerSpec(name, tuple(options))


def accepted_options(factory) -> Optional[set[str]]:
    """Option names a factory declares (its ``config_class`` fields or keyword parameters); None if it takes any."""
    config_class = getattr(factory, "config_class", None)
    if config_class is not None:
        return set(option_types(config_class))
    parameters = inspect.signature(factory).parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return None
    return {p.name for p in parameters}


def build_scheduler(spec: SchedulerSpec, model_schedule: Optional[dict] = None):
    """A scheduler for a model: the model's training schedule (those entries the scheduler knows), then the user's
    options on top."""
    factory = scheduler_registration(spec.name).factory
    accepted = accepted_options(factory)
    config = {k: v for k, v in (model_schedule or {}).items() if accepted is None or k in accepted}
    config.update(dict(spec.options))
    with created_as(spec.name):
        return factory(**config)


def scheduler_config_dict(scheduler) -> dict:
    """A scheduler's configuration as plain JSON values, for records."""
    config = getattr(scheduler, "config", {})
    as_dict = config.to_dict() if hasattr(config, "to_dict") else dict(config)
    return json.loads(json.dumps(as_dict, default=str))
