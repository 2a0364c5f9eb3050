"""Scoring generated images: their features, batch by batch, and FID and KID against reference statistics.

The backbone runs once per image. FID (Heusel et al. 2017) and KID (Binkowski et al. 2018, the unbiased MMD^2 over
all N samples) are computed from the features by ``ddpm_bench.stats``, the one implementation behind a point's
estimates and its bootstrap intervals; tests/test_metrics.py checks both against torchmetrics'
``FrechetInceptionDistance`` and ``KernelInceptionDistance`` (and FID against scipy's sqrtm). torchmetrics' own metrics
are not run beside them: they would compute FID a second time, and its KID averages seed-fixed random subsets of the
reference, which shift every point alike. The Inception Score (Salimans et al. 2016) still comes from torchmetrics, for
backbones that give logits.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from torch import nn

from ddpm_bench.errors import BenchError
from ddpm_bench.metrics.backbones import Backbone
from ddpm_bench.metrics.reference import ReferenceStats
from ddpm_bench.stats import PointFeatures
from ddpm_bench.util import distributed


class PrecomputedFeatures(nn.Module):
    """torchmetrics' feature extractor slot, filled with features computed elsewhere."""

    def __init__(self, num_features: int):
        super().__init__()
        self.num_features = num_features

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return features


class Scorer:
    """Features of generated images against ``reference``, and their Inception Score when the backbone has logits."""

    def __init__(self, backbone: Backbone, reference: ReferenceStats, sync: bool = True):
        """``sync``: under torchrun, reduce the Inception Score's state over all ranks at ``compute`` (every rank
        must call it)."""
        dim = len(reference.mu)
        if dim != backbone.feature_dim:
            raise BenchError(
                f"reference {reference.name} has {dim}-d features "
                f"but backbone {backbone.name} gives {backbone.feature_dim}"
            )
        self.backbone = backbone
        self.inception_score = None
        if hasattr(backbone, "features_and_logits"):
            from torchmetrics.image.inception import InceptionScore

            with warnings.catch_warnings():  # "will save all extracted features": the logits, N x 1008
                warnings.simplefilter("ignore", UserWarning)
                self.inception_score = InceptionScore(feature=PrecomputedFeatures(1008), splits=10,
                                                      sync_on_compute=sync and distributed.world_size() > 1)

    def update(self, images: torch.Tensor) -> np.ndarray:
        """A batch's features, one row per image, in float32 as a sweep folder stores them (every score is computed
        from them, so that one recomputed from the folder is the record's)."""
        if self.inception_score is None:
            return self.backbone.features(images).float().numpy()
        features, logits = self.backbone.features_and_logits(images)
        self.inception_score.update(logits.double())
        return features.float().numpy()

    def compute(self) -> dict:
        """The Inception Score over every rank's images (under torchrun with ``sync``, every rank must call this);
        empty without logits."""
        if self.inception_score is None:
            return {}
        with torch.random.fork_rng():
            torch.manual_seed(0)  # its splits are a random permutation: fixed, so a point scores the same twice
            mean, std = self.inception_score.compute()
        return {"inception_score": float(mean), "inception_score_std": float(std)}


def score_images(backbone: Backbone, reference: ReferenceStats, batches, stats_reference=None) -> dict:
    """FID, KID (and the Inception Score) of an iterable of uint8 image batches, in this process alone.
    ``stats_reference``: ``reference`` as ``ddpm_bench.stats.Reference`` where the caller has it
    (``runs.scoring.Scoring``), else made here."""
    scorer = Scorer(backbone, reference, sync=False)
    features = np.concatenate([scorer.update(images) for images in batches])
    stats_reference = stats_reference or reference.for_statistics()
    return {**PointFeatures(features, stats_reference).estimates(), "n": len(features), **scorer.compute()}
