"""The sweep: schedulers x step counts on one model, each point sampled, timed and scored, recorded as it finishes.

Records go to ``OUT/records.jsonl``, one JSON object per point, each appended with flush and fsync: a sweep that is
killed loses at most the point in progress, and a restart skips the finished points (``force`` recomputes them).
A finished point whose scheduler would now be configured otherwise (a plugin's changed default) is computed again; its
new record supersedes the old one, which stays in the file.
A point that fails (a scheduler raising, non-finite samples) is recorded as failed with its reason and the sweep goes
on. ``OUT/sweep.toml`` holds the fully resolved config; ``ddpm-bench sweep --config OUT/sweep.toml`` reproduces the run.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

import torch

from ddpm_bench import distributed
from ddpm_bench.api import build_scheduler, parse_scheduler_spec, scheduler_config_dict, scheduler_registration
from ddpm_bench.errors import BenchError, ConfigError
from ddpm_bench.images import save_grid
from ddpm_bench.models import load_model, model_folder, read_schedule
from ddpm_bench.provenance import device_description, library_versions
from ddpm_bench.sample_run import prepare_output
from ddpm_bench.sampling import Precision, Sampler
from ddpm_bench.schedulers.config import unknown_option_message

RECORDS = "records.jsonl"
CONFIG = "sweep.toml"
GRIDS = "grids"
FLOOR = "real-data-floor"


@dataclass
class SweepConfig:
    """Everything a sweep needs. The defaults are the main job: about 5 minutes on a 2-core CPU."""

    schedulers: list[str] = field(default_factory=lambda: ["ddpm", "ddim", "pndm"])
    steps: list[int] = field(default_factory=lambda: [5, 10, 20])
    n: int = 256
    seed: int = 0
    model: str = "embedded:mnist"
    backbone: str = "mnist-cnn"
    reference: str = "embedded:mnist"
    batch_size: int = 128
    device: Optional[str] = None
    precision: str = "fp32"
    channels_last: bool = False
    compile: bool = False
    grid_samples: int = 36

    def validate(self) -> "SweepConfig":
        if not self.schedulers:
            raise ConfigError("no schedulers given; e.g. --schedulers ddpm,ddim,pndm")
        if not self.steps or any(isinstance(s, bool) or not isinstance(s, int) or s <= 0 for s in self.steps):
            raise ConfigError(f"steps must be positive integers, got {self.steps!r}")
        for name in ("n", "batch_size", "grid_samples"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ConfigError(f"{name} must be a positive integer, got {value!r}")
        if self.n < 2:
            raise ConfigError("n must be at least 2 to compute FID")
        Precision(self.precision, self.channels_last, self.compile)
        for text in self.schedulers:
            parse_scheduler_spec(text)
        return self

    def results_key(self) -> dict:
        """The settings that determine every point's numbers (not which points there are)."""
        fields = dataclasses.asdict(self)
        return {k: fields[k] for k in ("n", "seed", "model", "backbone", "reference", "batch_size", "precision", "channels_last", "compile")}

    def results_hash(self) -> str:
        return hashlib.sha256(json.dumps(self.results_key(), sort_keys=True).encode()).hexdigest()[:16]

    def to_toml(self) -> str:
        import tomli_w

        values = {k: v for k, v in dataclasses.asdict(self).items() if v is not None}
        return "# ddpm-bench sweep config; reproduce with: ddpm-bench sweep --config THIS_FILE\n" + tomli_w.dumps({"sweep": values})


def load_config(path: str | Path, **overrides: Any) -> SweepConfig:
    """A SweepConfig from a TOML file (table ``[sweep]``), with command-line overrides on top."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except OSError as error:
        raise BenchError(f"cannot read config {path}: {error.strerror}") from error
    except tomllib.TOMLDecodeError as error:
        raise BenchError(f"config {path} is not valid TOML: {error}") from error
    table = data.get("sweep", data)
    known = {f.name: f for f in dataclasses.fields(SweepConfig)}
    for key in table:
        if key not in known:
            raise ConfigError(unknown_option_message(f"config {path}", key, known))
    return config_from(**{**table, **{k: v for k, v in overrides.items() if v is not None}})


def config_from(**values: Any) -> SweepConfig:
    types = {"schedulers": list, "steps": list, "n": int, "seed": int, "batch_size": int, "grid_samples": int,
             "channels_last": bool, "compile": bool, "model": str, "backbone": str, "reference": str, "precision": str}
    for key, value in values.items():
        expected = types.get(key)
        if expected is not None and not isinstance(value, expected):
            raise ConfigError(f"sweep option {key}={value!r} should be a {expected.__name__}")
    return SweepConfig(**values).validate()


# -- the record store ------------------------------------------------------------------------------------------------
class RecordStore:
    """``records.jsonl``: read tolerantly (a torn last line from a kill is cut off), appended durably."""

    def __init__(self, folder: Path, results_hash: str):
        self.path = folder / RECORDS
        self.results_hash = results_hash

    def load(self) -> list[dict]:
        if not self.path.exists():
            return []
        data = self.path.read_bytes()
        complete = data[: data.rfind(b"\n") + 1]
        if len(complete) != len(data):
            with open(self.path, "r+b") as handle:  # a point torn by a kill: drop its partial line
                handle.truncate(len(complete))
        records = []
        for number, line in enumerate(complete.decode().splitlines(), 1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except ValueError:
                raise BenchError(f"{self.path} line {number} is not valid JSON; move the file away to start over") from None
        foreign = {r.get("results_hash") for r in records} - {self.results_hash}
        if foreign:
            raise BenchError(
                f"{self.path} holds records of another sweep config (n, seed, model, backbone, reference, batch size or "
                "precision differ); use another --out, or --force to replace them"
            )
        return records

    def model_mismatch(self, weights_sha256: str) -> Optional[str]:
        """Why the recorded points cannot sit beside new ones of a model with these weights (the model source may
        name a folder or hub id whose weights changed since), or None."""
        recorded = {r["model_sha256"] for r in self.load() if r.get("model_sha256")} - {weights_sha256}
        if not recorded:
            return None
        return (f"{self.path} holds records of a model with other weights (sha256 {sorted(recorded)[0][:16]}, now "
                f"{weights_sha256[:16]}); use another --out, or --force to replace them")

    def append(self, record: dict) -> None:
        line = json.dumps(record, sort_keys=True) + "\n"
        with open(self.path, "a") as handle:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())

    def reset(self) -> None:
        if self.path.exists():
            self.path.unlink()


def point_id(label: str, steps: int) -> str:
    return f"{label}@{steps}"


def grid_file(label: str, steps: int) -> str:
    return f"{GRIDS}/{re.sub(r'[^A-Za-z0-9_.=-]+', '_', label)}-{steps}.png"


# -- running -----------------------------------------------------------------------------------------------------------
def run_sweep(
    config: SweepConfig,
    out: str | Path,
    *,
    force: bool = False,
    progress: Optional[bool] = None,
    log: Callable[[str], None] = lambda line: None,
):
    """Run every point not yet recorded in ``out``; returns all records as a pandas DataFrame.

    Under ``torchrun`` every rank runs this: each samples its shard of every point, the metrics are reduced over the
    group, and rank 0 alone writes (its return value holds the records; other ranks return None).
    """
    config.validate()
    specs = [parse_scheduler_spec(text) for text in config.schedulers]
    with distributed.process_group():
        return _run_points(config, specs, out, force, progress, log)


def _run_points(config: SweepConfig, specs, out, force: bool, progress: Optional[bool], log: Callable[[str], None]):
    """``run_sweep``'s body, on every rank of the process group."""
    main = distributed.is_main()
    folder, store, done, outdated = _prepare_store(config, specs, out, force) if main else (None, None, None, {})
    done = distributed.broadcast(done)
    if isinstance(done, str):
        raise BenchError(done)
    for point, changes in outdated.items():
        log(f"{point}: recorded with another scheduler configuration ({changes}); computing it again")
    # Step-major order: a sweep stopped part-way has compared every scheduler at the step counts it reached.
    pending = [(spec, steps) for steps in config.steps for spec in specs if point_id(spec.label, steps) not in done]
    if pending:
        session = _Session(config, progress and main, FLOOR not in done)
        mismatch = distributed.broadcast(store.model_mismatch(session.model.weights_sha256) if main else None)
        if mismatch:
            raise BenchError(mismatch)
        if main and session.floor is not None:
            store.append(session.floor)
    for number, (spec, steps) in enumerate(pending, 1):
        if main:
            log(f"[{number}/{len(pending)}] {spec.label} at {steps} steps")
        record = session.run_point(spec, steps, folder)
        if main:
            store.append(record)
            if record["status"] == "ok":
                log(f"    NFE {record['nfe']}, {record['seconds_per_image'] * 1000:.1f} ms/image, FID {record['fid']:.3f}, "
                    f"KID {record['kid']:.4f} +- {record['kid_std']:.4f}")
            else:
                log(f"    failed: {record['error']}")
    return records_frame(current_records(store.load())) if main else None


def _prepare_store(config: SweepConfig, specs, out, force: bool):
    """Rank 0: the output folder, its record store, the finished points and the outdated ones (point -> what
    changed); a BenchError's text instead of the points, so that every rank can raise it."""
    try:
        folder = prepare_output(out)
        store = RecordStore(folder, config.results_hash())
        if force:
            store.reset()
        records = current_records(store.load())
        outdated = outdated_points(records, specs, read_schedule(model_folder(config.model))) if records else {}
        done = sorted({r["point"] for r in records} - set(outdated))
        (folder / CONFIG).write_text(config.to_toml())
        return folder, store, done, outdated
    except BenchError as error:
        return None, None, str(error), {}


def current_records(records: list[dict]) -> list[dict]:
    """The last record of each point: a point computed again supersedes its earlier record."""
    return list({record["point"]: record for record in records}.values())


def outdated_points(records: list[dict], specs, model_schedule: dict) -> dict[str, str]:
    """Recorded points whose scheduler would now be built with another configuration: point -> the changed options."""
    now = {spec.label: scheduler_config_dict(build_scheduler(spec, model_schedule)) for spec in specs}
    outdated = {}
    for record in records:
        then, current = record.get("scheduler_config"), now.get(record["scheduler"])
        if then is None or current is None or then == current:
            continue
        changed = sorted(k for k in then.keys() | current.keys() if then.get(k) != current.get(k))
        outdated[record["point"]] = ", ".join(f"{k} {then.get(k)!r} -> {current.get(k)!r}" for k in changed)
    return outdated


class _Session:
    """What every point of a sweep shares: the model, backbone, reference statistics and provenance."""

    def __init__(self, config: SweepConfig, progress: Optional[bool], with_floor: bool):
        from ddpm_bench.metrics.backbones import get_backbone
        from ddpm_bench.metrics.reference import resolve_reference

        self.config, self.progress = config, progress
        self.model = load_model(config.model, config.device or distributed.local_device())
        self.backbone = get_backbone(config.backbone)
        channels, height, _ = self.model.sample_shape
        if not distributed.is_main():
            distributed.barrier()  # rank 0 computes and caches the reference statistics first
        self.reference = resolve_reference(config.reference, self.backbone, height, channels)
        if distributed.is_main():
            distributed.barrier()
        self.precision = Precision(config.precision, config.channels_last, config.compile)
        self.indices = distributed.shard(config.n)
        self.context = {
            "model": config.model, "model_sha256": self.model.weights_sha256, "backbone": config.backbone,
            "preprocessing": self.backbone.preprocessing, "reference": self.reference.description, "n": config.n,
            "seed": config.seed, "batch_size": config.batch_size, "precision": config.precision,
            "channels_last": config.channels_last, "compile": config.compile, "versions": library_versions(),
            "results_hash": config.results_hash(), "world_size": distributed.world_size(),
        }
        self.floor = None
        if with_floor and distributed.is_main():
            self.floor = floor_record(config, self.backbone, self.reference, height, channels, self.context)

    def run_point(self, spec, steps: int, folder: Optional[Path]) -> dict:
        from ddpm_bench.metrics.scoring import Scorer

        config = self.config
        registration = scheduler_registration(spec.name)
        record = {
            **self.context, "point": point_id(spec.label, steps), "scheduler": spec.label, "scheduler_name": spec.name,
            "steps": steps, "plugin": registration.plugin, "plugin_package": registration.package,
            "plugin_version": registration.version, "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        kept, error, sampler = [], None, None
        try:
            scheduler = build_scheduler(spec, self.model.schedule)
            record["scheduler_config"] = scheduler_config_dict(scheduler)
            sampler = Sampler(self.model, scheduler, steps, batch_size=config.batch_size, precision=self.precision,
                              progress=self.progress, label=spec.label)
            scorer = Scorer(self.backbone, self.reference)
            for batch in sampler.stream(config.n, config.seed, self.indices):
                scorer.update(batch.images)
                kept.append(batch.images[: config.grid_samples - sum(len(k) for k in kept)])
        except Exception as exception:  # a failing point is recorded and the sweep goes on
            error = f"{type(exception).__name__}: {exception}"
        errors = [e for e in distributed.gather(error) if e]
        if errors:
            return {**record, "status": "failed", "error": errors[0]}
        metrics = scorer.compute()
        timings = distributed.gather(sampler.stats.to_dict())
        grid = torch.cat(distributed.gather(torch.cat(kept)))[: config.grid_samples]
        if folder is not None:
            save_grid(grid, folder / grid_file(spec.label, steps))
        record.update(status="ok", grid=grid_file(spec.label, steps), device=device_description(sampler.device),
                      **aggregate_timings(timings, config.n), **metrics)
        return record


def aggregate_timings(timings: list[dict], n: int) -> dict:
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


def floor_record(config: SweepConfig, backbone, reference, height: int, channels: int, context: dict) -> dict:
    """FID and KID of N real images drawn from the reference set: what a perfect sampler would score at this N.
    Drawn only when the reference is a data set; an imported mu/sigma reference has no images."""
    from ddpm_bench.metrics.reference import real_subset
    from ddpm_bench.metrics.scoring import score_images

    record = {**context, "point": FLOOR, "scheduler": "real data", "steps": 0, "status": "floor"}
    try:
        images = real_subset(config.reference, config.n, config.seed, height, channels)
        record.update(score_images(backbone, reference, [images[i : i + 500] for i in range(0, len(images), 500)]))
    except BenchError as error:
        record.update(status="floor-unavailable", error=str(error))
    return record


def records_frame(records: list[dict]):
    import pandas as pd

    frame = pd.DataFrame(records)
    if not frame.empty:
        frame = frame.sort_values(["scheduler", "steps"]).reset_index(drop=True)
    return frame
