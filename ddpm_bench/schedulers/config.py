"""Scheduler configuration: typed fields with diffusers' names, checked on construction.

Each scheduler declares a frozen dataclass of its options. ``build_config`` turns keyword options into one, rejecting
unknown names (with the closest match), wrong types (naming the expected one) and values outside a ``Literal``'s set
(listing the allowed ones) with a one-line ConfigError that names the option, and the scheduler as users typed it
(its registered name) when it is created by name (``created_as``).
"""

from __future__ import annotations

import dataclasses
import typing
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Iterator, Literal, Optional

from ddpm_bench.errors import ConfigError
from ddpm_bench.util.names import unknown_option
from ddpm_bench.util.options import literal_candidates

PredictionType = Literal["epsilon", "sample", "v_prediction"]
BetaSchedule = Literal["linear", "scaled_linear", "squaredcos_cap_v2"]
TimestepSpacing = Literal["leading", "trailing", "linspace", "quadratic"]


@dataclass(frozen=True)
class SchedulerConfig:
    """Options every built-in scheduler shares (diffusers' field names and defaults)."""

    num_train_timesteps: int = 1000
    beta_start: float = 0.0001
    beta_end: float = 0.02
    beta_schedule: BetaSchedule = "linear"
    trained_betas: Optional[list] = None
    prediction_type: PredictionType = "epsilon"
    timestep_spacing: TimestepSpacing = "leading"
    steps_offset: int = 0

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class ClippingConfig(SchedulerConfig):
    """Options of schedulers that clip or threshold their prediction of x_0 (DDPM, DDIM)."""

    clip_sample: bool = True
    clip_sample_range: float = 1.0
    thresholding: bool = False
    dynamic_thresholding_ratio: float = 0.995
    sample_max_value: float = 1.0


def option_types(config_class: type) -> dict[str, Any]:
    """Field name -> annotated type of a config dataclass."""
    return typing.get_type_hints(config_class)


_created_as: ContextVar[Optional[str]] = ContextVar("ddpm_bench_scheduler_created_as", default=None)


@contextmanager
def created_as(name: str) -> Iterator[None]:
    """Within this block, option errors name the scheduler ``name`` (what users type) rather than its class: a class
    cannot know the name it was registered under, and one class may be registered under several."""
    token = _created_as.set(name)
    try:
        yield
    finally:
        _created_as.reset(token)


def _choices(annotation: Any) -> Optional[tuple]:
    """The values an option of a fixed set (a ``Literal``, possibly Optional) allows, in declaration order; None for
    an option of any other type."""
    origin = typing.get_origin(annotation)
    if origin is Literal:
        return typing.get_args(annotation)
    if origin is typing.Union:
        parts = [(None,) if a is type(None) else _choices(a) for a in typing.get_args(annotation)]
        if all(part is not None for part in parts):
            return tuple(value for part in parts for value in part)
    return None


def _value_error(owner: str, name: str, annotation: Any, values: list) -> ConfigError:
    """The error for option ``name`` given as ``values[0]`` (as typed; the rest are other readings of it): "is not one
    of" when a reading has the type of an allowed value but is none of them, else "has the wrong type"."""
    choices = _choices(annotation)
    if choices is not None:
        kinds = {type(choice) for choice in choices if choice is not None}
        value = next((v for v in values if type(v) in kinds), None)
        if value is not None:
            return ConfigError(f"{owner}: {name}={value!r} is not one of {', '.join(map(repr, choices))}")
    return ConfigError(f"{owner}: option {name}={values[0]!r} has the wrong type; expected {_type_name(annotation)}")


def _type_name(annotation: Any) -> str:
    if typing.get_origin(annotation) is Literal:
        args = typing.get_args(annotation)
        kinds = " or ".join(sorted({type(a).__name__ for a in args}))
        return f"{kinds}, one of " + ", ".join(repr(a) for a in args)
    if typing.get_origin(annotation) is typing.Union:
        return " or ".join(_type_name(a) for a in typing.get_args(annotation) if a is not type(None)) + " or None"
    return getattr(annotation, "__name__", str(annotation))


def _accepts(annotation: Any, value: Any) -> bool:
    origin = typing.get_origin(annotation)
    if origin is Literal:
        return value in typing.get_args(annotation)
    if origin is typing.Union:
        return any(_accepts(a, value) for a in typing.get_args(annotation))
    if annotation is type(None):
        return value is None
    if annotation is bool:
        return isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if annotation is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if annotation is list:
        return isinstance(value, (list, tuple))
    return isinstance(value, annotation)


def build_config(config_class: type, options: dict[str, Any], owner: str):
    """Check ``options`` against ``config_class`` and return the config; ConfigError names the first bad option, and
    ``owner`` (a class name) or, inside ``created_as``, the scheduler's registered name."""
    owner = _created_as.get() or owner
    types = option_types(config_class)
    for name, value in options.items():
        if name not in types:
            raise ConfigError(unknown_option(owner, name, types))
        if not _accepts(types[name], value):
            raise _value_error(owner, name, types[name], [value])
        if isinstance(value, float) and value != value:
            raise ConfigError(f"{owner}: option {name} is NaN")
    coerced = {k: float(v) if types[k] is float else v for k, v in options.items()}
    return config_class(**coerced)


def parse_option_value(config_class: type, name: str, text: str, owner: str) -> Any:
    """Turn the text of ``name=text`` (a sweep's ``ddim:eta=1.0``) into a value of the option's type."""
    types = option_types(config_class)
    if name not in types:
        raise ConfigError(unknown_option(owner, name, types))
    annotation = types[name]
    candidates = literal_candidates(text)
    for value in candidates:
        if _accepts(annotation, value):
            return float(value) if annotation is float else value
    raise _value_error(owner, name, annotation, [text, *candidates])
