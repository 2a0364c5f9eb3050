"""Feature networks for FID and KID, registered through the ``register_backbones`` plugin hook.

A backbone turns uint8 images (N, C, H, W) into float features (N, D) and states how images meet it (channels,
resizing, value range), which every report repeats. Its ``identity`` (weights hash) is part of every cache key.
"""

from __future__ import annotations

from typing import Callable, Optional, Protocol

import torch

from ddpm_bench.errors import ConfigError
from ddpm_bench.plugins import get_registry
from ddpm_bench.util.batching import FEATURE_BATCH, chunks
from ddpm_bench.util.names import unknown_name


class Backbone(Protocol):
    name: str
    feature_dim: int
    preprocessing: str

    def identity(self) -> str:
        """A string that changes whenever the features could change (weights hash, version)."""

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 images (N, C, H, W) -> features (N, feature_dim)."""

    # Optional: ``describe(images) -> dict``, what the network can say about images beyond FID and KID (the
    # mnist-cnn classifier's confidence); ``ddpm-bench quality`` reports it for samples and real images alike.


def get_backbone(name: str) -> Backbone:
    backbones = get_registry().backbones
    if name not in backbones:
        raise ConfigError(unknown_name("backbone", name, backbones))
    return backbones[name].factory()


def stated_feature_dim(name: str) -> Optional[int]:
    """The feature dimension a registered backbone states without being built (its factory's ``feature_dim``, as a
    backbone class has it); None for an unknown name or a factory that does not say."""
    registration = get_registry().backbones.get(name)
    dim = getattr(registration.factory, "feature_dim", None) if registration is not None else None
    return dim if isinstance(dim, int) else None


def batched_features(backbone: Backbone, images: torch.Tensor, batch_size: int = FEATURE_BATCH,
                     on_chunk: Optional[Callable[[int], None]] = None) -> torch.Tensor:
    """Features of many images, ``batch_size`` at a time; ``on_chunk(rows)`` after each (for progress)."""
    parts = []
    for chunk in chunks(images, batch_size):
        parts.append(backbone.features(chunk))
        if on_chunk is not None:
            on_chunk(len(chunk))
    return torch.cat(parts)
