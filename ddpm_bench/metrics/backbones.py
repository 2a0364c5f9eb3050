"""Feature networks for FID and KID, registered through the ``register_backbones`` plugin hook.

A backbone turns uint8 images (N, C, H, W) into float features (N, D) and states how images meet it (channels,
resizing, value range), which every report repeats. Its ``identity`` (weights hash, options) is part of every cache
key.

Users name a backbone with its options the way schedulers take theirs, ``NAME[:option=value...]``
(``dinov2:size=base``, ``inception:weights=FILE``): the options are the factory's keyword arguments, passed as text
(they are file names and choices), and a backbone built with them says so in its ``identity``.
"""

from __future__ import annotations

import inspect
import sys
from typing import TYPE_CHECKING, Callable, Optional, Protocol

import torch

from ddpm_bench.errors import ConfigError
from ddpm_bench.plugins import Registration, get_registry
from ddpm_bench.util.batching import FEATURE_BATCH, chunks
from ddpm_bench.util.names import unknown_name

if TYPE_CHECKING:
    from ddpm_bench.stats import PointFeatures

FRECHET_NAME = "FID"  # what the Frechet distance is called under a backbone that does not name it (Heusel et al. 2017)


class Backbone(Protocol):
    name: str
    feature_dim: int
    preprocessing: str

    def identity(self) -> str:
        """A string that changes whenever the features could change (weights hash, options, version)."""

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 images (N, C, H, W) -> features (N, feature_dim)."""

    # Optional:
    # - ``frechet_name``: what the Frechet distance on its features is called (``FD_DINOv2``); "FID" when absent;
    # - ``feature_scores(point) -> dict``: scores beyond FID and KID from a point's features
    #   (``ddpm_bench.stats.PointFeatures``), with their intervals (CMMD for CLIP, metrics/cmmd.py);
    # - ``describe(images) -> dict``, what the network can say about images beyond FID and KID (the mnist-cnn
    #   classifier's confidence); ``ddpm-bench quality`` reports it for samples and real images alike.
    # On the factory (the class), read before it is built: ``feature_dim``, or ``stated_dim(**options)`` where an
    # option changes it (``stated_feature_dim``); ``min_samples_per_dim`` (``warn_if_few_samples``).


def parse_backbone_spec(text: str) -> tuple[str, dict[str, str]]:
    """``NAME[:option=value...]`` -> (name, options); the name must be registered, the options must be ones its
    factory takes (a one-line ConfigError naming the backbone and what it takes otherwise)."""
    name, *segments = str(text).strip().split(":")
    registration = backbone_registration(name)
    options: dict[str, str] = {}
    for segment in segments:
        key, sep, value = segment.partition("=")
        if not sep or not key or not value:
            raise ConfigError(f"backbone {text!r}: expected option=value after the name, got {segment!r}")
        if key in options:
            raise ConfigError(f"backbone {text!r}: option {key!r} is given more than once")
        options[key] = value
    accepted = backbone_options(registration.factory)
    unknown = sorted(set(options) - accepted)
    if unknown:
        takes = f"it takes {', '.join(sorted(accepted))}" if accepted else "it takes no options"
        raise ConfigError(f"backbone {name}: unknown option {unknown[0]!r}; {takes}")
    return name, options


def backbone_registration(name: str) -> Registration:
    backbones = get_registry().backbones
    if name not in backbones:
        raise ConfigError(unknown_name("backbone", name, backbones))
    return backbones[name]


def backbone_options(factory: Callable) -> set[str]:
    """The keyword options a backbone factory takes."""
    parameters = inspect.signature(factory).parameters.values()
    return {p.name for p in parameters if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)}


def get_backbone(spec: str) -> Backbone:
    """The backbone ``spec`` names (``mnist-cnn``, ``dinov2:size=base``), built with its options."""
    name, options = parse_backbone_spec(spec)
    return backbone_registration(name).factory(**options)


def stated_feature_dim(spec: str) -> Optional[int]:
    """The feature dimension a registered backbone states without being built: its factory's ``stated_dim(**options)``
    where it has one (a dimension that depends on an option), else its ``feature_dim`` (as a backbone class has it);
    None for an unknown name or a factory that does not say."""
    try:
        name, options = parse_backbone_spec(spec)
    except ConfigError:
        return None
    factory = get_registry().backbones[name].factory
    stated = getattr(factory, "stated_dim", None)
    dim = stated(**options) if callable(stated) else getattr(factory, "feature_dim", None)
    return dim if isinstance(dim, int) else None


def warn_if_few_samples(spec: str, n: int) -> None:
    """A warning on stderr when N samples are fewer than twice the backbone's stated feature dimension D: below N = 2 D
    the sample covariance of D-dimensional features is poorly determined (rank below D until N > D), so the Frechet
    distance is dominated by its finite-N bias and its intervals are wide. Only for backbones that ask for it
    (``min_samples_per_dim``: DINOv2 and CLIP, whose D = 1,024 and 768 meet sweeps of a few hundred samples)."""
    try:
        factory = backbone_registration(parse_backbone_spec(spec)[0]).factory
    except ConfigError:
        return
    ratio, dim = getattr(factory, "min_samples_per_dim", None), stated_feature_dim(spec)
    if ratio and dim and n < ratio * dim:
        print(f"ddpm-bench: warning: n={n:,} samples against {dim}-d {spec} features: below N = {ratio} D = "
              f"{ratio * dim:,} the covariance is poorly determined and the Frechet distance is dominated by its "
              f"finite-N bias; use -n {ratio * dim} or more", file=sys.stderr)


def frechet_name(backbone: Backbone) -> str:
    """What the Frechet distance on ``backbone``'s features is called: ``FD_DINOv2``, ``FD_CLIP``, else FID."""
    return getattr(backbone, "frechet_name", FRECHET_NAME)


def feature_scores(backbone: Backbone, point: PointFeatures) -> dict:
    """The scores beyond FID and KID that ``backbone`` gives from a point's features (CMMD for CLIP), else none."""
    scores = getattr(backbone, "feature_scores", None)
    return scores(point) if scores is not None else {}


def batched_features(backbone: Backbone, images: torch.Tensor, batch_size: int = FEATURE_BATCH,
                     on_chunk: Optional[Callable[[int], None]] = None) -> torch.Tensor:
    """Features of many images, ``batch_size`` at a time; ``on_chunk(rows)`` after each (for progress)."""
    parts = []
    for chunk in chunks(images, batch_size):
        parts.append(backbone.features(chunk))
        if on_chunk is not None:
            on_chunk(len(chunk))
    return torch.cat(parts)
