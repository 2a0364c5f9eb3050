"""Every default in one table, and the settings objects built from it.

The CLI (argparse defaults and help), the Python API (dataclass defaults) and a sweep's TOML file all read their
defaults from ``DEFAULTS``, so they cannot drift apart. ``RunSettings`` holds what any run needs (model, metric,
seed, runtime); ``SweepConfig`` adds the sweep's plan (schedulers, step counts, N).
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from ddpm_bench.errors import BenchError, ConfigError
from ddpm_bench.model.data import held_out_data
from ddpm_bench.store import records as R
from ddpm_bench.store.folder_files import read_target_summary
from ddpm_bench.util.hashing import json_digest
from ddpm_bench.util.names import unknown_option
from ddpm_bench.util.options import parse_point, positive_int

DEFAULTS: dict[str, Any] = {
    # what is sampled, and how it is scored
    "model": "embedded:mnist",
    "backbone": "mnist-cnn",
    "reference": "embedded:mnist",
    # real images for the floor (what real data scores at N); None: the reference's held-out images where known
    # (MNIST's test digits for the embedded digits), else drawn from the reference itself
    "floor_data": None,
    "seed": 0,
    # how the UNet runs (timing only: sample i depends on (seed, i) alone, whatever the batch size)
    "batch_size": 128,
    "device": None,
    "precision": "fp32",
    "channels_last": False,
    "compile": False,
    # the main job: a sweep of about 5 minutes on a 2-core CPU
    "schedulers": ["ddpm", "ddim", "pndm"],
    "steps": [5, 10, 20],
    "n": 256,
    "grid_samples": 36,
    # every sample's backbone features, kept beside the records (float32) so that statistics never re-sample
    "keep_features": True,
    # adaptive N for a sweep's comparisons (``sweep --decide``): more samples, up to max_n, only where still tied
    "decide": False,
    # the target search (``target``): step counts tried first (then doubled, then bisected), the samples of a
    # point's first look (doubled while undecided, up to max_n), and the margin of --match (a share of its FID)
    "first_steps": 5,
    "max_steps": 1000,
    "start_n": 256,
    "max_n": 1024,
    "match_margin": 0.1,
    # ``convergence``: the many-step solution each point's samples are measured against (the model's probability-flow
    # ODE as PNDM and DPM-Solver integrate it: DDIM eta = 0 without clipping x_0), and its samples
    "convergence_solution": "ddim:clip_sample=false:1000",
    "convergence_n": 64,
    # ``retime``: batches of every point timed in turn; a point's time is the median of its rounds
    "retime_rounds": 3,
    # one scheduler at one step count (``sample``), and a model's quality card (``quality``)
    "sample_n": 64,
    "quality_scheduler": "ddim",
    "quality_steps": 100,
    "quality_n": 1000,
}

PRECISIONS = ("fp32", "bf16", "fp16")


def default(name: str) -> Any:
    """A default, as a fresh copy (lists are not shared between callers)."""
    value = DEFAULTS[name]
    return list(value) if isinstance(value, list) else value


def _from_table(name: str):
    return field(default_factory=lambda: default(name))


@dataclass
class RunSettings:
    """What every run needs besides its scheduler and step count."""

    model: str = _from_table("model")
    backbone: str = _from_table("backbone")
    reference: str = _from_table("reference")
    floor_data: Optional[str] = _from_table("floor_data")
    seed: int = _from_table("seed")
    batch_size: int = _from_table("batch_size")
    device: Optional[str] = _from_table("device")
    precision: str = _from_table("precision")
    channels_last: bool = _from_table("channels_last")
    compile: bool = _from_table("compile")

    def validate(self):
        positive_int(self.batch_size, "batch_size")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ConfigError(f"seed must be a non-negative integer, got {self.seed!r}")
        if self.precision not in PRECISIONS:
            raise ConfigError(f"precision {self.precision!r} is not one of {', '.join(PRECISIONS)}")
        return self

    def results_key(self) -> dict:
        raise NotImplementedError

    def results_hash(self) -> str:
        """The hash every record of a folder carries: its points were computed with the same ``results_key``."""
        return json_digest(self.results_key())

    @property
    def floor_source(self) -> str:
        """Where the floor's real images come from: ``floor_data``; else real images held out from the reference
        (``data.held_out_data``: MNIST's test digits for the embedded digits); else the reference set itself."""
        return self.floor_data or held_out_data(self.reference) or self.reference


RESULTS_FIELDS = ("seed", "model", "backbone", "reference", "batch_size", "precision", "channels_last", "compile")


def results_key_of(settings: RunSettings, n) -> dict:
    """The settings that determine a point's numbers besides its scheduler and steps, with ``n`` (or "adaptive")."""
    fields = dataclasses.asdict(settings)
    return {"n": n, **{k: fields[k] for k in RESULTS_FIELDS}}


@dataclass
class SweepConfig(RunSettings):
    """Everything a sweep needs. The defaults are the main job: about 5 minutes on a 2-core CPU."""

    schedulers: list[str] = _from_table("schedulers")
    steps: list[int] = _from_table("steps")
    n: int = _from_table("n")
    grid_samples: int = _from_table("grid_samples")
    keep_features: bool = _from_table("keep_features")
    # adaptive N (decide.py): after the sweep at n, more samples (up to max_n) for points in undecided comparisons
    decide: bool = _from_table("decide")
    max_n: int = _from_table("max_n")

    def validate(self) -> "SweepConfig":
        # imported here: the scheduler specs load the plugin registry, which a command that only reads a folder's
        # settings (report, retime) never needs
        from ddpm_bench.schedulers.specs import parse_scheduler_spec

        super().validate()
        if not self.schedulers:
            raise ConfigError("no schedulers given; e.g. --schedulers ddpm,ddim,pndm")
        if not self.steps:
            raise ConfigError("no step counts given; e.g. --steps 5,10,20")
        for steps in self.steps:
            positive_int(steps, "every step count")
        if len(set(self.steps)) != len(self.steps):
            raise ConfigError(f"steps {self.steps!r} name a step count more than once")
        positive_int(self.n, "n")
        positive_int(self.grid_samples, "grid_samples")
        if self.n < 2:
            raise ConfigError("n must be at least 2 to compute FID")
        if self.decide:
            positive_int(self.max_n, "max_n")
            if self.max_n < self.n:
                raise ConfigError(f"max_n ({self.max_n}) must be at least n ({self.n}) for --decide")
            if not self.keep_features:
                raise ConfigError("--decide needs every sample's features; drop --no-features")
        for text in self.schedulers:
            parse_scheduler_spec(text)
        return self

    def results_key(self) -> dict:
        """The settings that determine every point's numbers (not which points there are); with ``decide`` each
        point has its own N, as in a target search, whose folders' records these then match."""
        return results_key_of(self, "adaptive" if self.decide else self.n)

    def to_toml(self) -> str:
        import tomli_w

        values = {k: v for k, v in dataclasses.asdict(self).items() if v is not None}
        values = {**{k: values[k] for k in ("schedulers", "steps", "n")}, **values}  # the plan first, then the rest
        return (
            "# ddpm-bench sweep config; reproduce with: ddpm-bench sweep --config THIS_FILE\n"
            + tomli_w.dumps({"sweep": values})
        )


@dataclass
class TargetConfig(RunSettings):
    """A target search: for each scheduler, the fewest steps whose FID is at most ``fid`` (or not worse than the point
    ``match`` by more than ``margin``) with 95 % confidence; samples per point grow from ``start_n`` to ``max_n``."""

    schedulers: list[str] = _from_table("schedulers")
    fid: Optional[float] = None
    match: Optional[str] = None
    margin: Optional[float] = None
    first_steps: int = _from_table("first_steps")
    max_steps: int = _from_table("max_steps")
    start_n: int = _from_table("start_n")
    max_n: int = _from_table("max_n")
    grid_samples: int = _from_table("grid_samples")

    def validate(self) -> "TargetConfig":
        from ddpm_bench.schedulers.specs import parse_scheduler_spec  # as in SweepConfig.validate

        super().validate()
        if not self.schedulers:
            raise ConfigError("no schedulers given; e.g. --schedulers ddim,pndm")
        for text in self.schedulers:
            parse_scheduler_spec(text)
        if (self.fid is None) == (self.match is None):
            raise ConfigError(
                "give exactly one target: --fid VALUE (e.g. --fid 3) "
                "or --match SCHEDULER:STEPS (e.g. --match ddpm:1000)"
            )
        if self.fid is not None and not self.fid > 0:
            raise ConfigError(f"--fid must be a positive number, got {self.fid!r}")
        if self.match is not None:
            parse_point(self.match)
        if self.margin is not None and (self.match is None or not self.margin >= 0):
            raise ConfigError("--margin is a non-negative FID difference, and only goes with --match")
        for name in ("first_steps", "max_steps", "start_n", "max_n", "grid_samples"):
            positive_int(getattr(self, name), name)
        if self.first_steps > self.max_steps:
            raise ConfigError(f"first_steps {self.first_steps} is above max_steps {self.max_steps}")
        if self.start_n < 2 or self.start_n > self.max_n:
            raise ConfigError(f"start_n must be from 2 up to max_n ({self.max_n}), got {self.start_n}")
        return self

    def results_key(self) -> dict:
        """What determines every point's numbers; N is chosen per point, and recorded in each record (the key of a
        ``sweep --decide``, so such folders and target folders hold each other's points)."""
        return results_key_of(self, "adaptive")


FIELD_TYPES = {"schedulers": list, "steps": list, "n": int, "seed": int, "batch_size": int, "grid_samples": int,
               "channels_last": bool, "compile": bool, "keep_features": bool, "decide": bool, "max_n": int,
               "model": str, "backbone": str, "reference": str, "floor_data": str, "precision": str}


def config_from(**values: Any) -> SweepConfig:
    """A checked SweepConfig from keyword values; those not given come from ``DEFAULTS``."""
    known = {f.name for f in dataclasses.fields(SweepConfig)}
    for key, value in values.items():
        if key not in known:
            raise ConfigError(unknown_option("sweep", key, known))
        expected = FIELD_TYPES.get(key)
        if expected is not None and not isinstance(value, expected):
            raise ConfigError(f"sweep option {key}={value!r} should be a {expected.__name__}")
    return SweepConfig(**values).validate()


def load_config(path: str | Path, **overrides: Any) -> SweepConfig:
    """A SweepConfig from a TOML file (table ``[sweep]``), with command-line overrides (those not None) on top."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except OSError as error:
        raise BenchError(f"cannot read config {path}: {error.strerror}") from error
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise BenchError(f"config {path} is not valid TOML: {error}") from error
    table = data.get("sweep", data)
    if not isinstance(table, dict):
        raise BenchError(f"config {path}: [sweep] must be a table")
    known = {f.name for f in dataclasses.fields(SweepConfig)}
    for key in table:
        if key not in known:
            raise ConfigError(unknown_option(f"config {path}", key, known))
    return config_from(**{**table, **{k: v for k, v in overrides.items() if v is not None}})


def folder_settings(folder: Path) -> RunSettings:
    """The run settings of a sweep folder (its sweep.toml) or a target folder (target.json's settings): what a
    command that works on a finished folder (``convergence``, ``retime``) samples with."""
    if (folder / R.CONFIG).exists():
        return load_config(folder / R.CONFIG)
    summary = read_target_summary(folder)
    if summary is not None:
        values = summary.get("settings", {})
        return RunSettings(**{f.name: values[f.name] for f in dataclasses.fields(RunSettings) if f.name in values})
    raise BenchError(f"{folder} holds neither {R.CONFIG} nor {R.TARGET}: not a sweep or target folder")
