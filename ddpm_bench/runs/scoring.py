"""The scoring side of a run: what every point's samples are judged by, and the real-data floor beside them.

1. ``Scoring.open(settings, ...)`` resolves the backbone and the reference statistics through the registries (under
   torchrun, rank 0 fills the statistics cache before the other ranks read it), and builds the near-copy probe when
   the reference's pixels are at hand; ``keep_reference(folder)`` writes the statistics into a results folder
   (``reference.npz``) before its first point is scored, so that its report rebuilds from the folder alone;
2. ``PointScores`` takes a point's features and near-copy distances batch by batch as its samples are drawn;
3. ``Scoring.feature_statistics(features)``: every score of a point from its features (FID and KID with their 95 %
   intervals, FD-infinity, precision/recall/density/coverage);
4. ``Scoring.floor_record(n, provenance)``: the same scores for N real images, the floor a perfect sampler would reach
   at this N.
"""

from __future__ import annotations

import functools
import hashlib
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from ddpm_bench.errors import BenchError
from ddpm_bench.metrics.backbones import Backbone, feature_scores, frechet_name, get_backbone
from ddpm_bench.metrics.manifold import NEAREST_K, RealManifold
from ddpm_bench.metrics.near_copies import NearCopyProbe
from ddpm_bench.metrics.reference import ReferenceStats, real_subset, resolve_reference
from ddpm_bench.metrics.scoring import Scorer, score_images
from ddpm_bench.model.data import load_dataset
from ddpm_bench.settings import RunSettings
from ddpm_bench.stats import PointFeatures, Reference, fd_infinity, point_intervals
from ddpm_bench.store import records as R
from ddpm_bench.store.disk_cache import remembered
from ddpm_bench.store.folder_files import write_reference_stats
from ddpm_bench.util import distributed
from ddpm_bench.util.batching import FEATURE_BATCH, chunks

# what a point's scores hold (feature_statistics); a change recomputes the floor's scores cached under an older one
SCORES_VERSION = 2

# a point's record when its statistics did not fit: what did not, and how to compute them later
STATISTICS_ERROR = "statistics_error"


def statistics_error(features: np.ndarray, error: Exception) -> str:
    """What did not fit when a point's statistics were computed, and how to compute them later."""
    what = str(error) or "out of memory"
    return (f"the statistics of {len(features):,} samples of {features.shape[1]:,} features did not fit ({what}); "
            "the samples and the record are kept, and with keep_features so are the features, from which "
            "'ddpm-bench compare' and 'ddpm-bench report' compute the intervals on a machine where they fit")


def reference_images(source: str, size: int, channels: int) -> Optional[torch.Tensor]:
    """The reference set's images, or None when it is imported statistics (no images) or cannot be read."""
    try:
        return load_dataset(source, size, channels)
    except BenchError:
        return None


@dataclass
class Scoring:
    """What every point of a run is scored with: the feature network, the reference statistics, and the near-copy
    probe (None when the reference's pixels are not at hand); and what the floor draws its real images at."""

    settings: RunSettings
    backbone: Backbone
    reference: ReferenceStats
    near_copies: Optional[NearCopyProbe]
    sample_shape: tuple[int, int, int]  # the model's (channels, height, width): the real images' size
    device: torch.device  # the model's: the floor's cached scores are kept per device type

    @classmethod
    def open(cls, settings: RunSettings, sample_shape: tuple[int, int, int], device: torch.device) -> Scoring:
        """The backbone, reference statistics and near-copy probe that ``settings`` name, at the model's image size."""
        backbone = get_backbone(settings.backbone)
        channels, height, _ = sample_shape
        with distributed.main_first():  # rank 0 computes and caches the reference statistics first
            reference = resolve_reference(settings.reference, backbone, height, channels)
        near_copies = NearCopyProbe.for_reference(
            reference_images(settings.reference, height, channels),
            remember=functools.partial(remembered, "near-copy-threshold", reference.key))
        return cls(settings, backbone, reference, near_copies, sample_shape, device)

    def keep_reference(self, folder: Path) -> None:
        """The reference statistics written into the results folder ``folder`` (by rank 0 alone under torchrun, as
        records are), so that its report judges its points without the statistics cache or the feature network."""
        if distributed.is_main():
            write_reference_stats(folder, self.reference.key, self.reference.mu, self.reference.sigma)

    def provenance(self) -> dict:
        """What a record's scores were computed with: the backbone, its preprocessing, the name of its Frechet distance
        (FID, FD_DINOv2) and the reference."""
        return {R.BACKBONE: self.settings.backbone, R.PREPROCESSING: self.backbone.preprocessing,
                R.FRECHET_NAME: frechet_name(self.backbone),
                R.REFERENCE: self.reference.description, R.REFERENCE_SOURCE: self.settings.reference}

    def scorer(self, sync: bool = True) -> Scorer:
        """FID/KID of this metric; ``sync``: reduced over the ranks of a torchrun group."""
        return Scorer(self.backbone, self.reference, sync=sync)

    @functools.cached_property
    def stats_reference(self) -> Reference:
        """The reference as ``ddpm_bench.stats`` takes it, built once."""
        return self.reference.for_statistics()

    @functools.cached_property
    def manifold(self) -> Optional[RealManifold]:
        """The reference's k-NN balls (manifold.py), built once; None for imported statistics (no features)."""
        if self.reference.features is None:
            return None
        return RealManifold(self.reference.features, remember=functools.partial(
            remembered, f"knn-radii-k{NEAREST_K}", self.reference.key))

    def feature_statistics(self, features: np.ndarray) -> dict:
        """FID and KID with their 95 % intervals and the method behind them (ddpm_bench.stats), FD-infinity,
        precision/recall/density/coverage (manifold.py): every score of a point, from its features, and what they
        cost. Statistics that do not fit in memory leave the point's record without them and say so
        (``statistics_error``, and a warning): the sweep goes on, and keeps the samples and the record."""
        started = time.perf_counter()
        try:
            point = PointFeatures(features, self.stats_reference)
            result = {**point_intervals(point), **fd_infinity(point), **feature_scores(self.backbone, point)}
        except (BenchError, MemoryError) as error:
            result = {STATISTICS_ERROR: statistics_error(features, error)}
            print(f"ddpm-bench: warning: {result[STATISTICS_ERROR]}", file=sys.stderr)
        if self.manifold is not None:
            result.update(self.manifold.scores(features))
        return {**result, "statistics_seconds": time.perf_counter() - started}

    def real_images(self, n: int) -> torch.Tensor:
        """``n`` real images drawn (seeded) from the floor's data set (``--floor-data``, else the reference)."""
        channels, height, _ = self.sample_shape
        return real_subset(self.settings.floor_source, n, self.settings.seed, height, channels)

    def score(self, images: torch.Tensor) -> dict:
        """FID and KID of images held in memory, in this process alone."""
        return score_images(self.backbone, self.reference, chunks(images, FEATURE_BATCH), self.stats_reference)

    def floor_record(self, n: int, provenance: dict) -> dict:
        """What real images score at this N, with the same statistics as a point (intervals, FD-infinity, PRDC,
        near copies), under ``provenance`` (the run's, as every record has it): N images drawn from
        ``--floor-data``, else from the reference set itself. Only when that source is a data set; imported mu/sigma
        statistics have no images. The scores are cached beside the reference statistics under the drawn images'
        checksum: every sweep of the same N, seed and data reuses them."""
        record = {**provenance, R.N: n, R.POINT: R.FLOOR_POINT, R.SCHEDULER: "real data", R.STEPS: 0,
                  R.STATUS: R.FLOOR, R.FLOOR_DATA: self.settings.floor_source}
        try:
            images = self.real_images(n)
        except BenchError as error:
            return {**record, R.STATUS: R.FLOOR_UNAVAILABLE, R.ERROR: str(error)}
        started = time.perf_counter()
        drawn = hashlib.sha256(images.numpy().tobytes()).hexdigest()
        scores = remembered(f"floor-{drawn[:16]}",
                            f"{self.reference.key} {drawn} {self.device.type} scores v{SCORES_VERSION}",
                            lambda: np.array(json.dumps(self.floor_scores(images))))
        # what the floor cost this time: a cached floor's scores carry the cost of their first computation
        return {**record, **json.loads(str(scores)), "statistics_seconds": time.perf_counter() - started}

    def floor_scores(self, images: torch.Tensor) -> dict:
        """Every score of real images, computed by rank 0 alone."""
        scorer = self.scorer(sync=False)
        features = np.concatenate([scorer.update(chunk) for chunk in chunks(images, FEATURE_BATCH)])
        scores = {**scorer.compute(), **self.feature_statistics(features)}
        if self.near_copies is not None:
            scores.update(self.near_copies.summary(self.near_copies.distances(images)))
        return scores


class PointScores:
    """One point's scores, taken batch by batch as its samples are drawn: each batch's features (FID, KID and the
    statistics built on them) and each sample's distance to its nearest reference image (near copies)."""

    def __init__(self, scoring: Scoring):
        self.scoring = scoring
        self.scorer = scoring.scorer()
        self.features: list[np.ndarray] = []
        self.nearest: list[np.ndarray] = []

    def add(self, images: torch.Tensor) -> None:
        self.features.append(self.scorer.update(images))
        if self.scoring.near_copies is not None:
            self.nearest.append(self.scoring.near_copies.distances(images))

    def metrics(self) -> dict:
        """The scorer's metrics of the samples taken, reduced over the ranks (every rank must call it)."""
        return self.scorer.compute()

    def gathered(self, statistics: bool) -> tuple[np.ndarray, dict]:
        """Every rank's features in index order, and the scores read from all the samples: with ``statistics`` (on
        rank 0) ``feature_statistics``, and the near-copy summary. Every rank must call it."""
        features = np.concatenate([part for rank in distributed.gather(self.features) for part in rank])
        scores = self.scoring.feature_statistics(features) if distributed.is_main() and statistics else {}
        if self.scoring.near_copies is not None:
            distances = np.concatenate([part for rank in distributed.gather(self.nearest) for part in rank])
            scores.update(self.scoring.near_copies.summary(distances))
        return features, scores
