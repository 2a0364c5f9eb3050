"""The near-copy rate counts samples closer to a reference image than any two reference images are."""

import numpy as np
import torch

from ddpm_bench.metrics.near_copies import NearCopyProbe
from ddpm_bench.model.data import mnist_digits


def test_the_threshold_is_the_closest_pair_of_distinct_reference_images():
    images = torch.zeros(3, 1, 2, 2, dtype=torch.uint8)
    images[1, 0, 0, 0] = 255          # distance 2 from image 0 on the [-1, 1] scale
    images[2] = 255                   # far from both
    probe = NearCopyProbe(torch.cat([images, images[:1]]))  # an exact duplicate does not make the threshold 0
    assert probe.threshold == 2.0


def test_copies_and_slightly_perturbed_copies_count_and_fresh_digits_do_not():
    digits = mnist_digits()[0]
    probe = NearCopyProbe(digits[:1000])
    copies = digits[:20].clone()
    copies[:10, 0, 0, 0] = 40  # one pixel changed: still closer than any two distinct digits
    fresh = digits[1000:1100]  # real digits the probe never saw
    summary = probe.summary(probe.distances(torch.cat([copies, fresh])))
    assert summary["near_copies"] == 20 and np.isclose(summary["near_copy_rate"], 20 / 120)
    assert summary["near_copy_space"] == "pixel L2 on [-1, 1]" and summary["near_copy_threshold"] > 1.0


def test_a_reference_too_large_to_hold_is_not_probed():
    assert NearCopyProbe.for_reference(None) is None
    # a view: no memory
    assert NearCopyProbe.for_reference(torch.zeros(1, dtype=torch.uint8).expand(2, 3, 8192, 8192)) is None
