"""Scheduler configuration: typed fields with diffusers' names, checked on construction.

Each scheduler declares a frozen dataclass of its options. ``build_config`` turns keyword options into one, rejecting
unknown names (with the closest match) and wrong types with a one-line ConfigError that names the option.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass
from typing import Any, Literal, Optional

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


def _type_name(annotation: Any) -> str:
    if typing.get_origin(annotation) is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(annotation))
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
    """Check ``options`` against ``config_class`` and return the config; ConfigError names the first bad option."""
    types = option_types(config_class)
    for name, value in options.items():
        if name not in types:
            raise ConfigError(unknown_option(owner, name, types))
        if not _accepts(types[name], value):
            raise ConfigError(
                f"{owner}: option {name}={value!r} has the wrong type; expected {_type_name(types[name])}"
            )
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
    for value in literal_candidates(text):
        if _accepts(annotation, value):
            return float(value) if annotation is float else value
    raise ConfigError(f"{owner}: option {name}={text!r} has the wrong type; expected {_type_name(annotation)}")
