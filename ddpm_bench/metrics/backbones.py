"""Feature networks for FID and KID, registered through the ``register_backbones`` plugin hook.

A backbone turns uint8 images (N, C, H, W) into float features (N, D) and states how images meet it (channels,
resizing, value range), which every report repeats. Its ``identity`` (weights hash) is part of every cache key.
"""

from __future__ import annotations

import difflib
from typing import Protocol

import torch

from ddpm_bench.errors import ConfigError
from ddpm_bench.plugins import get_registry


class Backbone(Protocol):
    name: str
    feature_dim: int
    preprocessing: str

    def identity(self) -> str:
        """A string that changes whenever the features could change (weights hash, version)."""

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 images (N, C, H, W) -> features (N, feature_dim)."""


def get_backbone(name: str) -> Backbone:
    backbones = get_registry().backbones
    if name not in backbones:
        close = difflib.get_close_matches(name, list(backbones), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(f"unknown backbone {name!r}{hint}; available: {', '.join(sorted(backbones)) or 'none'}")
    return backbones[name].factory()


def batched_features(backbone: Backbone, images: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
    """Features of many images, ``batch_size`` at a time."""
    return torch.cat([backbone.features(images[i : i + batch_size]) for i in range(0, len(images), batch_size)])
