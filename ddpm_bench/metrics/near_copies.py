"""The near-copy rate: the share of samples that lie closer to a reference image than any real image lies to its
nearest other reference image.

Space: pixels, scaled to [-1, 1] (the model's data range), Euclidean distance. A copy is a pixel-level event that a
classifier's feature space forgives (two different "1"s map close together), so copies are measured on pixels.
Threshold: the smallest leave-one-out nearest-neighbour distance within the reference set itself, i.e. how close two
distinct real images ever come (2.35 for the 5,000 embedded digits). Real digits the model never saw stay above it:
of MNIST's 10,000 test digits (the default floor's images), 3 come closer than 2.35 to one of the 5,000 (0.03 %;
the nearest at 2.31). A sample below it is closer to a real image than real data ever is: for a model trained on the
reference set, a sign of a memorised training image. A floor drawn from the reference itself (`--floor-data` naming
the reference) is all copies (rate 1) by construction.

Cost: the reference pixels (5,000 x 784 floats for MNIST) are held in memory; a reference of more than
``MAX_VALUES`` pixel values (Inception-scale data) is not probed, and the record says so.
"""

from __future__ import annotations

from typing import Callable, Optional

import numpy as np
import torch

from ddpm_bench.store import records as R
from ddpm_bench.util.batching import chunks

MAX_VALUES = 200_000_000  # 800 MB of float32 reference pixels
CHUNK = 512
SPACE = "pixel L2 on [-1, 1]"


def flat_pixels(images: torch.Tensor) -> torch.Tensor:
    """uint8 (N, C, H, W) -> float32 (N, C*H*W) on the model's [-1, 1] scale."""
    return images.reshape(len(images), -1).float() / 127.5 - 1.0


class NearCopyProbe:
    """Nearest-reference distances of generated images, against the reference's own leave-one-out threshold."""

    def __init__(self, reference_images: torch.Tensor, remember: Callable = lambda compute: compute()):
        """``remember(compute)``: where the threshold (all pairs of reference images: seconds) may be cached."""
        self.reference = flat_pixels(reference_images)
        self.threshold = float(remember(self._leave_one_out_minimum))

    @classmethod
    def for_reference(cls, images: Optional[torch.Tensor], **options) -> Optional["NearCopyProbe"]:
        """A probe, or None when there are no reference images or too many to hold."""
        if images is None or images.numel() > MAX_VALUES:
            return None
        return cls(images, **options)

    def _leave_one_out_minimum(self) -> float:
        smallest = float("inf")
        for start in range(0, len(self.reference), CHUNK):
            block = torch.cdist(self.reference[start : start + CHUNK], self.reference)
            block[torch.arange(len(block)), torch.arange(start, start + len(block))] = float("inf")
            block[block == 0] = float("inf")  # an exact duplicate in the set is one image twice, not two close ones
            smallest = min(smallest, block.min().item())
        return smallest

    def distances(self, images: torch.Tensor) -> np.ndarray:
        """Each image's distance to its nearest reference image."""
        return np.concatenate([torch.cdist(flat_pixels(chunk), self.reference).min(dim=1).values.numpy()
                               for chunk in chunks(images, CHUNK)])

    def summary(self, distances: np.ndarray) -> dict:
        """The record's fields: rate, count, threshold and space."""
        copies = int((distances < self.threshold).sum())
        return {R.NEAR_COPY_RATE: copies / len(distances), R.NEAR_COPIES: copies,
                "near_copy_threshold": self.threshold, "near_copy_space": SPACE}
