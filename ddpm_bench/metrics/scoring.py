"""FID and KID of generated images against reference statistics, through torchmetrics, fed batch by batch.

The backbone runs once per image; its features go to torchmetrics' ``FrechetInceptionDistance`` (Heusel et al.
2017) and ``KernelInceptionDistance`` (Binkowski et al. 2018) through an identity feature module, so both metrics
see the same features and the reference side comes from the cache. FID keeps running sums (memory flat in N); KID
keeps the generated features (N x D floats; 10,000 x 128 is 10 MB).
"""

from __future__ import annotations

import warnings
from typing import Optional

import torch
from torch import nn

from ddpm_bench import distributed
from ddpm_bench.errors import BenchError
from ddpm_bench.metrics.backbones import Backbone
from ddpm_bench.metrics.reference import ReferenceStats

KID_SUBSETS = 100
KID_SUBSET_SIZE = 1000
KID_SEED = 0


class PrecomputedFeatures(nn.Module):
    """torchmetrics' feature extractor slot, filled with features computed elsewhere."""

    def __init__(self, num_features: int):
        super().__init__()
        self.num_features = num_features

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return features


class Scorer:
    """Accumulates generated images and computes FID and KID (mean and std over subsets) against ``reference``."""

    def __init__(
        self,
        backbone: Backbone,
        reference: ReferenceStats,
        kid_subsets: int = KID_SUBSETS,
        kid_subset_size: int = KID_SUBSET_SIZE,
        sync: bool = True,
    ):
        """``sync``: under torchrun, reduce the metric states over all ranks at ``compute`` (every rank must call it);
        the reference side then lives on rank 0 only, so that it is counted once."""
        from torchmetrics.image.fid import FrechetInceptionDistance
        from torchmetrics.image.kid import KernelInceptionDistance

        self.backbone, self.reference, self.kid_subset_size = backbone, reference, kid_subset_size
        dim = len(reference.mu)
        if dim != backbone.feature_dim:
            raise BenchError(f"reference {reference.name} has {dim}-d features but backbone {backbone.name} gives {backbone.feature_dim}")
        self.sync = sync and distributed.world_size() > 1
        holds_reference = not self.sync or distributed.is_main()
        self.fid = FrechetInceptionDistance(feature=PrecomputedFeatures(dim), reset_real_features=False, sync_on_compute=self.sync)
        mu = torch.from_numpy(reference.mu).double()
        sigma = torch.from_numpy(reference.sigma).double()
        n = max(reference.n, 2)
        # torchmetrics keeps sums: sum x and sum x x^T, so that cov = (sum x x^T - n mu mu^T) / (n - 1).
        if holds_reference:
            self.fid.real_features_sum = mu * n
            self.fid.real_features_cov_sum = sigma * (n - 1) + n * torch.outer(mu, mu)
            self.fid.real_features_num_samples = torch.tensor(n)
        self.kid = None
        if reference.features is not None:
            with warnings.catch_warnings():  # "KID will save all extracted features": known, and bounded (see above)
                warnings.simplefilter("ignore", UserWarning)
                self.kid = KernelInceptionDistance(
                    feature=PrecomputedFeatures(dim), subsets=kid_subsets, subset_size=kid_subset_size,
                    reset_real_features=False, sync_on_compute=self.sync,
                )
            if holds_reference:
                self.kid.update(torch.from_numpy(reference.features).double(), real=True)
            else:  # an empty (0, D) state: gathered with rank 0's features, it adds nothing
                self.kid.real_features = [torch.empty(0, dim, dtype=torch.float64)]
        self.inception_score = None
        if hasattr(backbone, "features_and_logits"):
            from torchmetrics.image.inception import InceptionScore

            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                self.inception_score = InceptionScore(feature=PrecomputedFeatures(1008), splits=10, sync_on_compute=self.sync)
        self.n = 0

    def update(self, images: torch.Tensor) -> torch.Tensor:
        """Score a batch; returns its features (float64, one row per image), for whoever keeps them."""
        if self.inception_score is not None:
            features, logits = self.backbone.features_and_logits(images)
            self.inception_score.update(logits.double())
        else:
            features = self.backbone.features(images)
        return self.update_features(features)

    def update_features(self, features: torch.Tensor) -> torch.Tensor:
        """Score a batch of features computed earlier (a point extended with more samples: adaptive.py)."""
        features = features.double()
        self.fid.update(features, real=False)
        if self.kid is not None:
            self.kid.update(features, real=False)
        self.n += len(features)
        return features

    def compute(self) -> dict:
        """The metrics over every rank's images (under torchrun with ``sync``, every rank must call this). On one
        thread: the matrices are small, and threads of torch's pool waiting for a busy CPU made KID's 100 subsets
        take 16 s instead of 0.3 s while another process sampled."""
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return self._compute()
        finally:
            torch.set_num_threads(threads)

    def _compute(self) -> dict:
        n = sum(distributed.gather(self.n)) if self.sync else self.n
        if n < 2:
            raise BenchError(f"FID needs at least 2 generated images, got {n}")
        result = {"fid": float(self.fid.compute()), "kid": None, "kid_std": None, "n": n}
        if self.kid is not None:
            self.kid.subset_size = min(self.kid_subset_size, n, self.reference.n)
            with torch.random.fork_rng():
                torch.manual_seed(KID_SEED)
                kid_mean, kid_std = self.kid.compute()
            result.update(kid=float(kid_mean), kid_std=float(kid_std))
        if self.inception_score is not None:
            with torch.random.fork_rng():
                torch.manual_seed(KID_SEED)
                is_mean, is_std = self.inception_score.compute()
            result.update(inception_score=float(is_mean), inception_score_std=float(is_std))
        return result


def score_images(
    backbone: Backbone, reference: ReferenceStats, batches, kid_subset_size: Optional[int] = None, sync: bool = False
) -> dict:
    """FID/KID of an iterable of uint8 image batches, in this process alone unless ``sync``."""
    scorer = Scorer(backbone, reference, kid_subset_size=kid_subset_size or KID_SUBSET_SIZE, sync=sync)
    for images in batches:
        scorer.update(images)
    return scorer.compute()
