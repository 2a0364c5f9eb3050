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


def test_the_weights_option_names_the_file_and_the_old_flag_still_works(tmp_path, capsys, isolated_cache):
    from ddpm_bench.cli import main
    from ddpm_bench.metrics.backbones import get_backbone

    missing = tmp_path / "elsewhere.pth"
    with pytest.raises(BenchError, match=f"not found at {missing}.*--backbone inception:weights=PATH"):
        get_backbone(f"inception:weights={missing}")
    for argv in (["--backbone", f"inception:weights={missing}"], ["--backbone", "inception", "--inception-weights",
                                                                    str(missing)]):
        assert main(["stats", *argv]) == 2
        assert f"Inception weights not found at {missing}" in capsys.readouterr().err


class WritesAFile:
    """A pickle that, when loaded, would create a file."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (str(self.path), "w"))


def test_a_pickle_named_by_the_option_is_refused_with_nothing_run(tmp_path):
    import pickle

    from ddpm_bench.metrics.backbones import get_backbone

    weights = tmp_path / "weights.pth"
    weights.write_bytes(pickle.dumps(WritesAFile(tmp_path / "pwned"), protocol=2))
    with pytest.raises(BenchError, match="refusing Inception weights"):
        get_backbone(f"inception:weights={weights}")
    assert not (tmp_path / "pwned").exists()


def test_backbone_options_are_checked_by_name():
    from ddpm_bench.errors import ConfigError
    from ddpm_bench.metrics.backbones import get_backbone, stated_feature_dim

    with pytest.raises(ConfigError, match="backbone inception: unknown option 'weight'; it takes weights"):
        get_backbone("inception:weight=x.pth")
    with pytest.raises(ConfigError, match="backbone mnist-cnn: unknown option 'size'; it takes folder"):
        get_backbone("mnist-cnn:size=base")
    with pytest.raises(ConfigError, match="expected option=value after the name, got 'x'"):
        get_backbone("inception:x")
    assert stated_feature_dim("inception:weights=anything.pth") == 2048 and stated_feature_dim("nope") is None
