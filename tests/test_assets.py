"""The assets that ship in the package: the embedded feature network (and the embedded model)."""

import torch

from ddpm_bench.data import mnist_digits
from ddpm_bench.metrics.backbones import get_backbone
from ddpm_bench.metrics.mnist_cnn import accuracy, held_out_split, load_classifier


def test_the_classifier_reaches_98_percent_on_its_held_out_digits():
    images, labels = mnist_digits()
    _, held_out = held_out_split()
    assert len(held_out) == 1000
    assert accuracy(load_classifier(), images[held_out], labels[held_out]) >= 0.98


def test_the_feature_backbone_is_deterministic_and_128_dimensional():
    backbone = get_backbone("mnist-cnn")
    images = mnist_digits()[0][::50]
    first, second = backbone.features(images), backbone.features(images)
    assert first.shape == (100, 128)
    assert torch.equal(first, second)
    assert 0.5 < first.pow(2).mean().sqrt().item() < 2.0  # unit-scale features, as KID expects
    assert backbone.identity().startswith("mnist-cnn:")
