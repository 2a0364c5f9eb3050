"""The one run pipeline behind ``sample``, ``quality`` and ``sweep``.

1. ``Workbench.open(settings)`` resolves the model, the backbone and the reference statistics through the registries
   (under torchrun, rank 0 fills the statistics cache before the other ranks read it);
2. ``prepare_output(out)`` makes sure the output folder can be written before anything is computed;
3. ``Workbench.run_point(spec, steps, n)`` samples a point, scores it, and returns its record: what produced it
   (``provenance``, one layout for every command), its timing, its metrics, or why it failed;
4. ``Workbench.floor_record(n)``: the same metrics for N real images, the floor a perfect sampler would reach at this N.
"""

from __future__ import annotations

import functools
import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np
import torch

from ddpm_bench.util import distributed
from ddpm_bench.store import records as R
from ddpm_bench.schedulers.specs import SchedulerSpec, build_scheduler, scheduler_config_dict, scheduler_registration
from ddpm_bench.util.batching import FEATURE_BATCH, chunks
from ddpm_bench.errors import BenchError
from ddpm_bench.model.loading import LoadedModel, load_model, model_folder
from ddpm_bench.metrics.near_copies import NearCopyProbe
from ddpm_bench.util.progress import RunProgress, mode_for
from ddpm_bench.util.provenance import device_description, library_versions
from ddpm_bench.sampling.loop import Precision, SampledBatch, Sampler
from ddpm_bench.settings import RunSettings

# what a point's scores hold (feature_statistics); a change recomputes the floor's scores cached under an older one
# (2: KID over all N samples as "kid", no torchmetrics subset KID)
SCORES_VERSION = 2


def reference_images(source: str, size: int, channels: int) -> Optional[torch.Tensor]:
    """The reference set's images, or None when it is imported statistics (no images) or cannot be read."""
    from ddpm_bench.model.data import load_dataset

    try:
        return load_dataset(source, size, channels)
    except BenchError:
        return None


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
    from ddpm_bench.model.data import check_data_source
    from ddpm_bench.metrics.backbones import get_backbone
    from ddpm_bench.metrics.reference import check_reference

    model_folder(settings.model)
    if score:
        get_backbone(settings.backbone)
        check_reference(settings.reference, settings.backbone)
        if settings.floor_data:
            check_data_source(settings.floor_data, "floor data")


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
    """What every point of a run shares: settings, model, how the UNet runs, and the metric (backbone, reference)."""

    settings: RunSettings
    model: LoadedModel
    precision: Precision
    backbone: object = None
    reference: object = None
    near_copies: object = None  # a NearCopyProbe when the reference's pixels are at hand
    _stats_reference: object = None
    _manifold: object = None

    @classmethod
    def open(cls, settings: RunSettings, *, score: bool = True) -> "Workbench":
        """Load the model, and with ``score`` the backbone and reference statistics, named by ``settings``."""
        from ddpm_bench.metrics.backbones import get_backbone
        from ddpm_bench.store.disk_cache import remembered
        from ddpm_bench.metrics.reference import resolve_reference

        settings.validate()
        precision = Precision(settings.precision, settings.channels_last, settings.compile)
        model = load_model(settings.model, settings.device or distributed.local_device())
        bench = cls(settings, model, precision)
        if score:
            bench.backbone = get_backbone(settings.backbone)
            channels, height, _ = model.sample_shape
            with distributed.main_first():  # rank 0 computes and caches the reference statistics first
                bench.reference = resolve_reference(settings.reference, bench.backbone, height, channels)
            bench.near_copies = NearCopyProbe.for_reference(
                reference_images(settings.reference, height, channels),
                remember=functools.partial(remembered, "near-copy-threshold", bench.reference.key))
        return bench

    @property
    def device(self) -> torch.device:
        return next(self.model.unet.parameters()).device

    def provenance(self) -> dict:
        """What produced a result, in the layout every record, ``sample.json`` and ``quality.json`` share."""
        s = self.settings
        facts = {
            R.MODEL: s.model, R.MODEL_SHA256: self.model.weights_sha256, "model_weights": str(self.model.weights_file),
            R.SEED: s.seed, "batch_size": s.batch_size, "precision": s.precision, "channels_last": s.channels_last,
            "compile": s.compile, "device": device_description(self.device), "versions": library_versions(),
            "world_size": distributed.world_size(), "sample_shape": list(self.model.sample_shape),
        }
        if self.backbone is not None:
            facts.update({R.BACKBONE: s.backbone, "preprocessing": self.backbone.preprocessing,
                          R.REFERENCE: self.reference.description, R.REFERENCE_SOURCE: s.reference})
        return facts

    def scorer(self, sync: bool = True):
        """FID/KID of this workbench's metric; ``sync``: reduced over the ranks of a torchrun group."""
        from ddpm_bench.metrics.scoring import Scorer

        return Scorer(self.backbone, self.reference, sync=sync)

    def run_point(
        self,
        spec: SchedulerSpec,
        steps: int,
        n: int,
        *,
        indices: Optional[Sequence[int]] = None,
        progress: Optional[bool] = None,
        grid_samples: int = 36,
        on_batch: Optional[Callable[[SampledBatch], None]] = None,
        raise_errors: bool = False,
        tracker: Optional[RunProgress] = None,
        statistics: bool = True,
    ) -> PointRun:
        """Sample images 0..n-1 (this rank's ``indices`` of them under torchrun) with one scheduler at one step
        count, score them when the workbench has a metric, and describe the point. A failure on any rank (the
        scheduler raising, non-finite samples) is returned as a record with status ``failed``, unless
        ``raise_errors`` (one point, one process: the caller reports the error itself). ``statistics``: FID, KID,
        the intervals, FD-infinity and PRDC of these samples (not for samples that only extend a point:
        ``extend_point`` computes them over all)."""
        registration = scheduler_registration(spec.name)
        record = {
            **self.provenance(), R.POINT: R.point_id(spec.label, steps), R.SCHEDULER: spec.label,
            R.SCHEDULER_NAME: spec.name, R.STEPS: steps, "plugin": registration.plugin,
            "plugin_package": registration.package, "plugin_version": registration.version,
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        kept, features, nearest, error = [], [], [], None
        mode = mode_for(progress)
        if tracker is None and mode == "lines" and distributed.is_main():  # one point on its own
            nfe = self.planned_nfe(spec, steps)
            tracker = RunProgress([nfe * n])
            tracker.point(f"{spec.label} at {steps} steps", n, nfe)
        try:
            scheduler = build_scheduler(spec, self.model.schedule)
            record[R.SCHEDULER_CONFIG] = scheduler_config_dict(scheduler)
            sampler = Sampler(self.model, scheduler, steps, batch_size=self.settings.batch_size,
                              precision=self.precision, progress=mode == "bar", label=spec.label,
                              on_call=tracker.call if tracker is not None else None)
            scorer = self.scorer() if self.backbone is not None else None
            for batch in sampler.stream(n, self.settings.seed, indices):
                if scorer is not None:
                    features.append(scorer.update(batch.images))
                if self.near_copies is not None:
                    nearest.append(self.near_copies.distances(batch.images))
                if on_batch is not None:
                    on_batch(batch)
                if tracker is not None:
                    tracker.batch(len(batch.indices))
                kept.append(batch.images[: max(0, grid_samples - sum(len(k) for k in kept))])
        except Exception as exception:  # a failing point is recorded, and whoever runs points goes on
            if raise_errors:
                raise
            error = f"{type(exception).__name__}: {exception}"
        error = distributed.first_error(error)
        if error:
            return PointRun({**record, R.STATUS: R.FAILED, R.ERROR: error}, None)
        metrics = {R.N: n, **(scorer.compute() if scorer is not None and statistics else {})}
        timing = distributed.combine_timings(distributed.gather(sampler.stats.to_dict()), n)
        grid = torch.cat(distributed.gather(torch.cat(kept)))[:grid_samples]
        record.update({R.STATUS: R.OK, **timing, **metrics})
        all_features = None
        if scorer is not None:
            all_features = np.concatenate([part for rank in distributed.gather(features) for part in rank])
            if distributed.is_main() and statistics:
                record.update(self.feature_statistics(all_features))
        if self.near_copies is not None:
            distances = np.concatenate([part for rank in distributed.gather(nearest) for part in rank])
            record.update(self.near_copies.summary(distances))
        return PointRun(record, grid, all_features)

    def extend_point(self, earlier: PointRun, spec: SchedulerSpec, steps: int, n: int, **options) -> PointRun:
        """``earlier`` (a finished point of N samples, with its features) grown to ``n`` samples: indices N..n-1 are
        sampled (sample i depends on (seed, i) alone, so the result is the point ``run_point`` would give at ``n``,
        up to timing) and every metric is computed again over all ``n``. ``options`` go to ``run_point``. One process
        only. Timing: the image-weighted mean of both runs' seconds per image; near copies: both runs' counts."""
        old = len(earlier.features)
        more = self.run_point(spec, steps, n - old, indices=range(old, n), grid_samples=0, statistics=False, **options)
        if not more.ok:
            return more
        features = np.concatenate([earlier.features, more.features])
        record = {**more.record, **combined_timing(earlier.record, more.record), R.N: n,
                  **self.feature_statistics(features), "started": earlier.record.get("started")}
        if R.NEAR_COPIES in earlier.record and R.NEAR_COPIES in more.record:
            copies = earlier.record[R.NEAR_COPIES] + more.record[R.NEAR_COPIES]
            record.update({R.NEAR_COPIES: copies, R.NEAR_COPY_RATE: copies / n})
        return PointRun(record, earlier.grid_images, features)

    def time_side_by_side(self, points: Sequence[tuple[SchedulerSpec, int]], rounds: int | Sequence[int] = 3
                          ) -> list[float]:
        """Seconds per image of each (scheduler, steps), measured side by side: rounds, each sampling one batch of
        every point in turn, so that a busier spell of the machine falls on all points alike; the median over a
        point's rounds. ``rounds``: for every point, or one count per point (round r times the points given more
        than r). Points searched one after another were timed minutes or hours apart."""
        rows = self.settings.batch_size
        counts = [rounds] * len(points) if isinstance(rounds, int) else list(rounds)
        times: list[list[float]] = [[] for _ in points]
        for round_number in range(max(counts, default=0)):
            for spec_times, (spec, steps), count in zip(times, points, counts):
                if round_number >= count:
                    continue
                sampler = Sampler(self.model, build_scheduler(spec, self.model.schedule), steps, batch_size=rows,
                                  precision=self.precision, progress=False, label=spec.label)
                for _batch in sampler.stream(rows, self.settings.seed):
                    pass
                spec_times.append(sampler.stats.seconds_per_image)
        return [float(np.median(t)) for t in times]

    def feature_statistics(self, features: np.ndarray) -> dict:
        """FID and KID with their 95 % intervals (stats.py), FD-infinity, precision/recall/density/coverage
        (manifold.py): every score of a point, from its features, and what they cost."""
        from ddpm_bench.stats import REPLICATES, PointFeatures, fd_infinity, point_intervals

        started = time.perf_counter()
        point = PointFeatures(features, self.stats_reference())
        result = {**point_intervals(point), **fd_infinity(point)}
        if self.manifold() is not None:
            result.update(self.manifold().scores(features))
        return {**result, "interval_method": f"basic bootstrap over sample indices, {REPLICATES} replicates, reference fixed",
                "statistics_seconds": time.perf_counter() - started}

    def manifold(self):
        """The reference's k-NN balls (manifold.py), built once per workbench; None for imported statistics."""
        if self._manifold is None and self.reference.features is not None:
            from ddpm_bench.metrics.manifold import NEAREST_K, RealManifold
            from ddpm_bench.store.disk_cache import remembered

            self._manifold = RealManifold(self.reference.features, remember=functools.partial(
                remembered, f"knn-radii-k{NEAREST_K}", self.reference.key))
        return self._manifold

    def stats_reference(self):
        """The reference side for stats.py, built once per workbench."""
        if self._stats_reference is None:
            self._stats_reference = self.reference.for_statistics()
        return self._stats_reference

    def planned_nfe(self, spec: SchedulerSpec, steps: int) -> int:
        """The model calls a point will make, from its scheduler's timesteps (the step count if it cannot say)."""
        try:
            scheduler = build_scheduler(spec, self.model.schedule)
            scheduler.set_timesteps(steps)
            return len(scheduler.timesteps)
        except Exception:  # the point itself will fail and say why; the estimate just falls back
            return steps

    def real_images(self, n: int) -> torch.Tensor:
        """``n`` real images drawn (seeded) from the floor's data set (``--floor-data``, else the reference)."""
        from ddpm_bench.metrics.reference import real_subset

        channels, height, _ = self.model.sample_shape
        return real_subset(self.settings.floor_source, n, self.settings.seed, height, channels)

    def score(self, images: torch.Tensor) -> dict:
        """FID and KID of images held in memory, in this process alone."""
        from ddpm_bench.metrics.scoring import score_images

        return score_images(self.backbone, self.reference, chunks(images, FEATURE_BATCH), self.stats_reference())

    def floor_record(self, n: int) -> dict:
        """What real images score at this N, with the same statistics as a point (intervals, FD-infinity, PRDC,
        near copies): N images drawn from ``--floor-data``, else from the reference set itself. Only when that
        source is a data set; imported mu/sigma statistics have no images. The scores are cached beside the
        reference statistics under the drawn images' checksum: every sweep of the same N, seed and data reuses them."""
        from ddpm_bench.store.disk_cache import remembered

        record = {**self.provenance(), R.N: n, R.POINT: R.FLOOR_POINT, R.SCHEDULER: "real data", R.STEPS: 0,
                  R.STATUS: R.FLOOR, R.FLOOR_DATA: self.settings.floor_source}
        try:
            images = self.real_images(n)
        except BenchError as error:
            return {**record, R.STATUS: R.FLOOR_UNAVAILABLE, R.ERROR: str(error)}
        started = time.perf_counter()
        drawn = hashlib.sha256(images.numpy().tobytes()).hexdigest()
        scores = remembered(f"floor-{drawn[:16]}", f"{self.reference.key} {drawn} {self.device.type} scores v{SCORES_VERSION}",
                            lambda: np.array(json.dumps(self.floor_scores(images))))
        # what the floor cost this time: a cached floor's scores carry the cost of their first computation
        return {**record, **json.loads(str(scores)), "statistics_seconds": time.perf_counter() - started}

    def floor_scores(self, images: torch.Tensor) -> dict:
        scorer = self.scorer(sync=False)  # rank 0 alone computes the floor
        features = np.concatenate([scorer.update(chunk) for chunk in chunks(images, FEATURE_BATCH)])
        scores = {**scorer.compute(), **self.feature_statistics(features)}
        if self.near_copies is not None:
            scores.update(self.near_copies.summary(self.near_copies.distances(images)))
        return scores


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
