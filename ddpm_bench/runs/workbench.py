"""The sampling side of a run, the one pipeline behind ``sample``, ``quality``, ``sweep`` and ``target``.

1. ``Workbench.open(settings)`` loads the model named by ``settings`` and, to score, the scoring side (scoring.py:
   backbone, reference statistics, near-copy probe, the real-data floor);
2. ``prepare_output(out)`` makes sure the output folder can be written before anything is computed;
3. ``Workbench.run_point(PointRequest(spec, steps, n))`` samples a point, scores it, and returns its record: what
   produced it (``provenance``, one layout for every command), its timing, its metrics, or why it failed;
   ``extend_point`` grows a finished point to more samples;
4. ``Workbench.time_side_by_side(points)``: points timed again in turns, under the same conditions.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np
import torch

from ddpm_bench.errors import BenchError
from ddpm_bench.metrics.backbones import get_backbone
from ddpm_bench.metrics.reference import check_reference
from ddpm_bench.model.data import check_data_source
from ddpm_bench.model.loading import LoadedModel, load_model, model_folder
from ddpm_bench.runs.scoring import PointScores, Scoring
from ddpm_bench.sampling.loop import Precision, SampledBatch, Sampler
from ddpm_bench.schedulers.code_identity import scheduler_code
from ddpm_bench.schedulers.specs import SchedulerSpec, build_scheduler, scheduler_config_dict, scheduler_registration
from ddpm_bench.settings import RunSettings
from ddpm_bench.store import records as R
from ddpm_bench.util import distributed
from ddpm_bench.util.progress import RunProgress, mode_for
from ddpm_bench.util.provenance import device_description, library_versions, run_id


def prepare_output(out: str | Path) -> Path:
    """The output folder, created and checked to be writable (a one-line error otherwise)."""
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as error:
        raise BenchError(f"cannot write to output folder {out}: {error.strerror or error}") from error
    return out


def check_sources(settings: RunSettings, *, score: bool = True) -> None:
    """That the model, backbone and reference a run names exist, each with a one-line error naming the missing one,
    before anything is loaded or compared with earlier records."""
    model_folder(settings.model)
    if score:
        get_backbone(settings.backbone)
        check_reference(settings.reference, settings.backbone)
        if settings.floor_data:
            check_data_source(settings.floor_data, "floor data")


@dataclass(frozen=True)
class PointRequest:
    """One point to sample, and how to follow it while it is sampled.

    ``n`` samples, images 0..n-1 (this rank's ``indices`` of them under torchrun; for ``extend_point``, the N to grow
    to); the first ``grid_samples`` kept for the point's grid; ``statistics``: FID, KID, the intervals, FD-infinity
    and PRDC of these samples (not for samples that only extend a point: ``extend_point`` computes them over all).
    ``progress``: as ``util.progress.mode_for`` reads it; ``on_batch`` is handed every sampled batch; ``tracker``: the
    progress of a run of points (None: one point on its own); ``raise_errors``: a failure raises instead of being
    recorded (one point, one process: the caller reports the error itself)."""

    spec: SchedulerSpec
    steps: int
    n: int
    indices: Optional[Sequence[int]] = None
    grid_samples: int = 36
    statistics: bool = True
    progress: Optional[bool] = None
    on_batch: Optional[Callable[[SampledBatch], None]] = None
    tracker: Optional[RunProgress] = None
    raise_errors: bool = False


@dataclass
class PointRun:
    """A finished point: its record, the first images (for its grid), and every sample's features in index order."""

    record: dict
    grid_images: Optional[torch.Tensor]
    features: Optional[np.ndarray] = None

    @property
    def ok(self) -> bool:
        return self.record[R.STATUS] == R.OK


@dataclass
class Workbench:
    """What every point of a run shares: settings, model, how the UNet runs, and the scoring side (None: unscored)."""

    settings: RunSettings
    model: LoadedModel
    precision: Precision
    scoring: Optional[Scoring] = None

    @classmethod
    def open(cls, settings: RunSettings, *, score: bool = True) -> Workbench:
        """Load the model, and with ``score`` the scoring side, named by ``settings``."""
        settings.validate()
        precision = Precision(settings.precision, settings.channels_last, settings.compile)
        bench = cls(settings, load_model(settings.model, settings.device or distributed.local_device()), precision)
        if score:
            bench.scoring = Scoring.open(settings, bench.model.sample_shape, bench.device)
        return bench

    @property
    def device(self) -> torch.device:
        return next(self.model.unet.parameters()).device

    def provenance(self) -> dict:
        """What produced a result, in the layout every record, ``sample.json`` and ``quality.json`` share."""
        s = self.settings
        facts = {
            R.MODEL: s.model, R.MODEL_SHA256: self.model.weights_sha256, "model_weights": str(self.model.weights_file),
            R.SEED: s.seed, R.BATCH_SIZE: s.batch_size, R.PRECISION: s.precision, "channels_last": s.channels_last,
            "compile": s.compile, R.DEVICE: device_description(self.device), R.RUN: run_id(),
            R.VERSIONS: library_versions(),
            "world_size": distributed.world_size(), R.SAMPLE_SHAPE: list(self.model.sample_shape),
        }
        return {**facts, **(self.scoring.provenance() if self.scoring is not None else {})}

    def run_point(self, request: PointRequest) -> PointRun:
        """Sample the point ``request`` names, score it when the workbench has a scoring side, and describe it. A
        failure on any rank (the scheduler raising, non-finite samples) is returned as a record with status
        ``failed``, unless ``request.raise_errors``."""
        spec, steps = request.spec, request.steps
        record = self.point_facts(spec, steps)
        mode = mode_for(request.progress)
        tracker = self.point_tracker(request, mode)
        kept: list[torch.Tensor] = []
        error = None
        try:
            scheduler = build_scheduler(spec, self.model.schedule)
            record[R.SCHEDULER_CONFIG] = scheduler_config_dict(scheduler)
            sampler = self.sampler(scheduler, spec, steps, progress=mode == "bar",
                                   on_call=tracker.call if tracker is not None else None)
            scores = PointScores(self.scoring) if self.scoring is not None else None
            for batch in sampler.stream(request.n, self.settings.seed, request.indices):
                if scores is not None:
                    scores.add(batch.images)
                if request.on_batch is not None:
                    request.on_batch(batch)
                if tracker is not None:
                    tracker.batch(len(batch.indices))
                kept.append(batch.images[: max(0, request.grid_samples - sum(len(k) for k in kept))])
        except Exception as exception:  # a failing point is recorded, and whoever runs points goes on
            if request.raise_errors:
                raise
            error = f"{type(exception).__name__}: {exception}"
        error = distributed.first_error(error)
        if error:
            return PointRun({**record, R.STATUS: R.FAILED, R.ERROR: error}, None)
        return self.finished_point(record, request, sampler, kept, scores)

    def point_facts(self, spec: SchedulerSpec, steps: int) -> dict:
        """The start of a point's record: its provenance, scheduler, plugin and the hash of the scheduler's code (a
        sweep computes the point again when the plugin's version or this hash changes), and when it started."""
        registration = scheduler_registration(spec.name)
        return {
            **self.provenance(), R.POINT: R.point_id(spec.label, steps), R.SCHEDULER: spec.label,
            R.SCHEDULER_NAME: spec.name, R.STEPS: steps, R.PLUGIN: registration.plugin,
            R.PLUGIN_PACKAGE: registration.package, R.PLUGIN_VERSION: registration.version,
            R.SCHEDULER_CODE: scheduler_code(registration.factory), "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }

    def point_tracker(self, request: PointRequest, mode: str) -> Optional[RunProgress]:
        """The request's tracker; for one point on its own with progress lines, one of its own (rank 0)."""
        if request.tracker is not None or mode != "lines" or not distributed.is_main():
            return request.tracker
        nfe = self.planned_nfe(request.spec, request.steps)
        tracker = RunProgress([nfe * request.n])
        tracker.point(f"{request.spec.label} at {request.steps} steps", request.n, nfe)
        return tracker

    def sampler(self, scheduler, spec: SchedulerSpec, steps: int, *, progress: bool = False,
                on_call: Optional[Callable[[int], None]] = None) -> Sampler:
        """A sampler of ``scheduler`` (built from ``spec``) on this workbench's model, batch size and precision."""
        return Sampler(self.model, scheduler, steps, batch_size=self.settings.batch_size, precision=self.precision,
                       progress=progress, label=spec.label, on_call=on_call)

    def finished_point(self, record: dict, request: PointRequest, sampler: Sampler, kept: list[torch.Tensor],
                       scores: Optional[PointScores]) -> PointRun:
        """The record of a point sampled on every rank: its timing and scores, gathered over the ranks."""
        metrics = {R.N: request.n, **(scores.metrics() if scores is not None and request.statistics else {})}
        timing = distributed.combine_timings(distributed.gather(sampler.stats.to_dict()), request.n)
        grid = torch.cat(distributed.gather(torch.cat(kept)))[: request.grid_samples]
        record.update({R.STATUS: R.OK, **timing, **metrics})
        if scores is None:
            return PointRun(record, grid)
        features, gathered = scores.gathered(request.statistics)
        record.update(gathered)
        return PointRun(record, grid, features)

    def extend_point(self, earlier: PointRun, request: PointRequest) -> PointRun:
        """``earlier`` (a finished point of N samples, with its features) grown to ``request.n`` samples: indices
        N..n-1 are sampled (sample i depends on (seed, i) alone, so the result is the point ``run_point`` would give
        at n, up to timing) and every metric is computed again over all n. One process only. Timing: the
        image-weighted mean of both runs' seconds per image; near copies: both runs' counts."""
        old, n = len(earlier.features), request.n
        more = self.run_point(dataclasses.replace(request, n=n - old, indices=range(old, n), grid_samples=0,
                                                  statistics=False))
        if not more.ok:
            return more
        features = np.concatenate([earlier.features, more.features])
        record = {**more.record, **combined_timing(earlier.record, more.record), R.N: n,
                  **self.scoring.feature_statistics(features), "started": earlier.record.get("started")}
        if R.NEAR_COPIES in earlier.record and R.NEAR_COPIES in more.record:
            copies = earlier.record[R.NEAR_COPIES] + more.record[R.NEAR_COPIES]
            record.update({R.NEAR_COPIES: copies, R.NEAR_COPY_RATE: copies / n})
        return PointRun(record, earlier.grid_images, features)

    def time_side_by_side(self, points: Sequence[tuple[SchedulerSpec, int]], rounds: int | Sequence[int] = 3
                          ) -> list[float]:
        """Seconds per image of each (scheduler, steps), measured side by side: rounds, each sampling one batch of
        every point in turn, so that a busier spell of the machine falls on all points alike; the median over a
        point's rounds. ``rounds``: for every point, or one count per point (round r times the points given more
        than r). Points timed while they are sampled, one after another, are timed minutes or hours apart."""
        rows = self.settings.batch_size
        counts = [rounds] * len(points) if isinstance(rounds, int) else list(rounds)
        times: list[list[float]] = [[] for _ in points]
        for round_number in range(max(counts, default=0)):
            for spec_times, (spec, steps), count in zip(times, points, counts):
                if round_number >= count:
                    continue
                sampler = self.sampler(build_scheduler(spec, self.model.schedule), spec, steps)
                for _batch in sampler.stream(rows, self.settings.seed):
                    pass
                spec_times.append(sampler.stats.seconds_per_image)
        return [float(np.median(t)) for t in times]

    def planned_nfe(self, spec: SchedulerSpec, steps: int) -> int:
        """The model calls a point will make, from its scheduler's timesteps (the step count if it cannot say)."""
        try:
            scheduler = build_scheduler(spec, self.model.schedule)
            scheduler.set_timesteps(steps)
            return len(scheduler.timesteps)
        except Exception:  # the point itself will fail and say why; the estimate just falls back
            return steps


def combined_timing(first: dict, second: dict) -> dict:
    """The timing of a point sampled in two runs (``extend_point``): per-image seconds weighted by each run's images,
    totals summed, the extremes of both."""
    images = first["images"] + second["images"]
    return {
        "nfe": second["nfe"], "images": images,
        "seconds_per_image": (first["seconds_per_image"] * first["images"]
                              + second["seconds_per_image"] * second["images"]) / images,
        "seconds_per_image_min": min(first["seconds_per_image_min"], second["seconds_per_image_min"]),
        "seconds_per_image_max": max(first["seconds_per_image_max"], second["seconds_per_image_max"]),
        "total_seconds": first["total_seconds"] + second["total_seconds"],
        "timed_batches": first["timed_batches"] + second["timed_batches"],
    }
