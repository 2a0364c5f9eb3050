"""Precision, recall, density and coverage agree with the authors' implementation and move the right way."""

import contextlib
import io

import numpy as np
import prdc
import pytest

from ddpm_bench.metrics.manifold import RealManifold


@pytest.mark.parametrize("shift", [0.0, 0.7])
def test_the_four_values_equal_the_reference_implementation(shift):
    rng = np.random.default_rng(1)
    real = rng.normal(size=(600, 16)).astype(np.float32)
    fake = (rng.normal(size=(200, 16)) * 0.8 + shift).astype(np.float32)
    with contextlib.redirect_stdout(io.StringIO()):  # prdc prints the set sizes
        expected = prdc.compute_prdc(real, fake, nearest_k=5)
    ours = RealManifold(real).scores(fake)
    for name, value in expected.items():
        assert ours[f"prdc_{name}"] == pytest.approx(float(value), abs=1e-12), name


def test_low_diversity_keeps_precision_and_loses_recall_and_coverage():
    rng = np.random.default_rng(2)
    real = rng.normal(size=(800, 8))
    manifold = RealManifold(real)
    faithful = manifold.scores(rng.normal(size=(400, 8)))
    collapsed = manifold.scores(rng.normal(size=(400, 8)) * 0.3)  # samples crowd the mode
    assert collapsed["prdc_precision"] >= faithful["prdc_precision"] - 0.02
    assert collapsed["prdc_recall"] < faithful["prdc_recall"] - 0.3
    assert collapsed["prdc_coverage"] < faithful["prdc_coverage"] - 0.3
    assert 0.8 < faithful["prdc_density"] < 1.2  # about 1 when the two distributions agree (the paper's section 3.2)


def test_too_few_samples_for_k_neighbours_give_no_values_rather_than_an_error():
    rng = np.random.default_rng(3)
    manifold = RealManifold(rng.normal(size=(50, 4)))
    assert manifold.scores(rng.normal(size=(6, 4))) == {}
    assert set(manifold.scores(rng.normal(size=(7, 4)))) >= {"prdc_precision", "prdc_coverage"}


def test_distances_equal_scikit_learns():
    import sklearn.metrics

    from ddpm_bench.metrics.manifold import pairwise_distances

    rng = np.random.default_rng(4)
    x, y = (rng.normal(size=(300, 128)) * 3).astype(np.float32), (rng.normal(size=(70, 128)) * 3).astype(np.float32)
    for a, b in ((x, y), (y, y)):
        ours, theirs = pairwise_distances(a, b), sklearn.metrics.pairwise_distances(a, b, metric="euclidean")
        assert ours.dtype == theirs.dtype == np.float32
        np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=0)
