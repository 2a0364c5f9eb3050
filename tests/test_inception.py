"""The inception backbone. The missing-weights error is checked everywhere; the end-to-end path needs torch-fidelity
and runs in tox's ``inception`` environment (torch 2.14.1 + torchvision 0.29.1), where it must not be skipped."""

import os

import pytest
import torch

from ddpm_bench.errors import BenchError
from ddpm_bench.metrics import inception


def test_missing_weights_name_the_file_and_where_to_put_it(tmp_path, monkeypatch):
    monkeypatch.delenv(inception.WEIGHTS_ENV, raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    with pytest.raises(BenchError) as error:
        inception.InceptionBackbone()
    message = str(error.value)
    assert str(tmp_path / "torch" / "hub" / "checkpoints" / inception.WEIGHTS_NAME) in message
    assert inception.WEIGHTS_URL in message and "--inception-weights" in message


def _torch_fidelity():
    if os.environ.get("DDPM_BENCH_REQUIRE_INCEPTION"):
        import torch_fidelity  # must be importable here: no skipping in the inception environment

        return torch_fidelity
    return pytest.importorskip("torch_fidelity")


@pytest.fixture
def random_inception_weights(tmp_path, monkeypatch, isolated_cache):
    """A weights file of the right architecture with random values, written the way torch-fidelity reads it."""
    _torch_fidelity()
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    with monkeypatch.context() as patch:  # build the network without loading any weights
        patch.setattr(torch, "load", lambda *args, **kwargs: {})
        patch.setattr(FeatureExtractorInceptionV3, "load_state_dict", lambda self, state: None)
        torch.manual_seed(0)
        state = FeatureExtractorInceptionV3(
            "inception-v3-compat", ["2048"], feature_extractor_weights_path="unused"
        ).state_dict()
    path = tmp_path / inception.WEIGHTS_NAME
    torch.save(state, path)
    monkeypatch.setenv(inception.WEIGHTS_ENV, str(path))
    return path


def test_inception_scores_grey_images_end_to_end(random_inception_weights):
    from ddpm_bench.metrics.backbones import get_backbone
    from ddpm_bench.metrics.reference import stats_from_features
    from ddpm_bench.metrics.scoring import score_images
    from ddpm_bench.model.data import mnist_digits

    backbone = get_backbone("inception")
    digits = mnist_digits()[0]
    real, fake = digits[::250], digits[1::250].flip(-1)
    features = backbone.features(real)
    assert features.shape == (20, 2048) and torch.isfinite(features).all()
    assert torch.equal(features, backbone.features(real))
    result = score_images(backbone, stats_from_features("real", "k", features.double().numpy()), [fake[:8], fake[8:]])
    assert result["fid"] > 0 and result["kid"] is not None and result["n"] == 20
    assert result["inception_score"] >= 1.0
