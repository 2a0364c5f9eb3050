"""The ddpm-bench-backbones plugin (DINOv2, CLIP) through its real code path, on tiny random-weight networks that the
tests save as safetensors folders. It needs transformers and the plugin, so it runs in tox's ``backbones``
environment, where nothing may be skipped (``DDPM_BENCH_REQUIRE_BACKBONES``); in the core environment it skips."""

import json
import os
import pickle

import numpy as np
import pytest
import torch

if os.environ.get("DDPM_BENCH_REQUIRE_BACKBONES"):
    import ddpm_bench_backbones  # noqa: F401  must be importable here: no skipping in the backbones environment
    import transformers
else:
    transformers = pytest.importorskip("transformers")
    pytest.importorskip("ddpm_bench_backbones")

from ddpm_bench_backbones.preprocessing import clip_pixels, dgm_eval_pixels, resize_like_pil  # noqa: E402

from ddpm_bench.cli import main  # noqa: E402
from ddpm_bench.errors import BenchError, ConfigError  # noqa: E402
from ddpm_bench.metrics.backbones import get_backbone, stated_feature_dim  # noqa: E402

TINY = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64, "patch_size": 14}


@pytest.fixture(scope="module")
def dinov2_folder(tmp_path_factory):
    """A random-weight DINOv2 (32-d) saved as save_pretrained writes it: config.json and model.safetensors."""
    folder = tmp_path_factory.mktemp("dinov2")
    torch.manual_seed(0)
    transformers.Dinov2Model(transformers.Dinov2Config(image_size=224, **TINY)).save_pretrained(
        folder, safe_serialization=True)
    return folder


@pytest.fixture(scope="module")
def clip_folder(tmp_path_factory):
    """A random-weight CLIP vision tower with projection (24-d embeddings) at 84 px, to keep the tests quick."""
    folder = tmp_path_factory.mktemp("clip")
    torch.manual_seed(0)
    transformers.CLIPVisionModelWithProjection(
        transformers.CLIPVisionConfig(image_size=84, projection_dim=24, **TINY)).save_pretrained(
        folder, safe_serialization=True)
    return folder


def digits(n: int, seed: int = 0) -> torch.Tensor:
    from ddpm_bench.model.data import mnist_digits

    images = mnist_digits()[0]
    return images[torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))[:n]]


@pytest.mark.parametrize("spec, dim", [("dinov2", 32), ("clip", 24)])
def test_features_have_the_networks_shape_are_deterministic_and_batch_invariant(spec, dim, dinov2_folder,
                                                                                 clip_folder):
    folder = dinov2_folder if spec == "dinov2" else clip_folder
    backbone = get_backbone(f"{spec}:weights={folder}")
    images = digits(40)
    features = backbone.features(images)
    assert features.shape == (40, dim) and features.dtype == torch.float32 and torch.isfinite(features).all()
    assert backbone.feature_dim == dim == stated_feature_dim(f"{spec}:weights={folder}")
    assert torch.equal(features, get_backbone(f"{spec}:weights={folder}").features(images))  # a fresh load too
    alone = torch.cat([backbone.features(images[i : i + 1]) for i in range(0, 40, 7)])
    torch.testing.assert_close(alone, features[::7], rtol=1e-5, atol=1e-5)
    rgb = backbone.features(images.repeat(1, 3, 1, 1))  # grey is three equal channels
    torch.testing.assert_close(rgb, features, rtol=0, atol=0)
    if spec == "clip":  # CMMD's embeddings are L2-normalised
        torch.testing.assert_close(features.norm(dim=1), torch.ones(40))


def test_identity_names_the_network_weights_and_preprocessing_mode(dinov2_folder, clip_folder):
    dinov2, clip = get_backbone(f"dinov2:weights={dinov2_folder}"), get_backbone(f"clip:weights={clip_folder}")
    assert dinov2.identity().startswith("dinov2:") and "dgm-eval-224" in dinov2.identity()
    assert clip.identity().startswith("clip:") and "clip-shortest-crop" in clip.identity()
    assert "dgm-eval-224" in dinov2.preprocessing and "clip-shortest-crop" in clip.preprocessing
    assert (dinov2.frechet_name, clip.frechet_name) == ("FD_DINOv2", "FD_CLIP")


def test_a_full_clip_model_folder_gives_its_normalised_image_features(tmp_path):
    """openai/clip-vit-large-patch14-336 is a full CLIPModel: the vision tower and its projection are read from it
    (with the model's projection_dim), the text tower left aside."""
    tiny = {key: value for key, value in TINY.items() if key != "patch_size"}
    config = transformers.CLIPConfig(text_config={**tiny, "vocab_size": 99, "max_position_embeddings": 16},
                                     vision_config={**TINY, "image_size": 84}, projection_dim=24)
    torch.manual_seed(0)
    model = transformers.CLIPModel(config).eval()
    model.save_pretrained(tmp_path, safe_serialization=True)
    images = digits(4)
    with torch.no_grad():
        expected = model.get_image_features(pixel_values=clip_pixels(images, 84))
    expected = expected if torch.is_tensor(expected) else expected.pooler_output
    features = get_backbone(f"clip:weights={tmp_path}").features(images)
    torch.testing.assert_close(features, expected / expected.norm(dim=1, keepdim=True), rtol=1e-5, atol=1e-6)


def test_weights_of_another_network_are_refused_not_filled_at_random(dinov2_folder, clip_folder):
    with pytest.raises(BenchError, match="lack .* of CLIPVisionModelWithProjection's tensors"):
        get_backbone(f"clip:weights={dinov2_folder}")
    with pytest.raises(BenchError, match="lack .* of Dinov2Model's tensors"):
        get_backbone(f"dinov2:weights={clip_folder}")


def test_options_are_checked_by_name(dinov2_folder):
    with pytest.raises(ConfigError, match="size='huge' is not one of base, large"):
        get_backbone("dinov2:size=huge")
    with pytest.raises(ConfigError, match="unknown option 'sise'; it takes size, weights"):
        get_backbone("dinov2:sise=base")
    assert stated_feature_dim("dinov2") == 1024 and stated_feature_dim("dinov2:size=base") == 768
    assert stated_feature_dim("clip") == 768


class WritesAFile:
    """A pickle that, when loaded, would create a file: the proof that nothing was unpickled."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (str(self.path), "w"))


def test_a_pickle_checkpoint_is_refused_before_anything_is_unpickled(tmp_path, dinov2_folder):
    witness = tmp_path / "pwned"
    folder = tmp_path / "pickled"
    folder.mkdir()
    (folder / "config.json").write_text((dinov2_folder / "config.json").read_text())
    (folder / "pytorch_model.bin").write_bytes(pickle.dumps(WritesAFile(witness)))
    for weights in (folder, folder / "pytorch_model.bin"):
        with pytest.raises(BenchError, match="refusing weights .*pytorch_model.bin.*safetensors only"):
            get_backbone(f"dinov2:weights={weights}")
    assert not witness.exists()
    # beside a safetensors file, the pickle is never read either
    (folder / "model.safetensors").write_bytes((dinov2_folder / "model.safetensors").read_bytes())
    assert get_backbone(f"dinov2:weights={folder}").features(digits(2)).shape == (2, 32)
    assert not witness.exists()


def test_missing_weights_say_where_to_put_them(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    with pytest.raises(BenchError) as error:
        get_backbone("dinov2:size=base")
    message = str(error.value)
    assert "facebook/dinov2-base" in message and str(tmp_path / "hub") in message and "weights=DIR" in message
    assert "\n" not in message
    with pytest.raises(BenchError, match="does not exist"):
        get_backbone(f"clip:weights={tmp_path / 'nowhere'}")


def test_the_hugging_face_cache_is_found_as_huggingface_hub_lays_it_out(tmp_path, monkeypatch, dinov2_folder):
    snapshot = tmp_path / "hub" / "models--facebook--dinov2-base" / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    for name in ("config.json", "model.safetensors"):
        (snapshot / name).write_bytes((dinov2_folder / name).read_bytes())
    (snapshot.parents[1] / "refs").mkdir()
    (snapshot.parents[1] / "refs" / "main").write_text("abc123")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    assert get_backbone("dinov2:size=base").features(digits(3)).shape == (3, 32)


def test_plugins_says_what_is_missing(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    assert main(["plugins"]) == 0
    line = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("backbones "))
    assert "unavailable: no weights for dinov2 (facebook/dinov2-large) nor clip (openai/clip-vit-large-patch14-336)" \
        in line and str(tmp_path / "hub") in line and "--backbone NAME:weights=DIR" in line


def test_without_transformers_both_plugins_and_the_backbone_name_what_to_install(monkeypatch, dinov2_folder):
    import importlib.util

    import ddpm_bench_backbones
    from ddpm_bench_backbones import networks

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(networks.importlib.util, "find_spec",
                        lambda name, *args: None if name == "transformers" else find_spec(name, *args))
    assert ddpm_bench_backbones.plugin_unavailable() == \
        "needs transformers: pip install ./plugins/ddpm-bench-backbones (transformers)"
    with pytest.raises(BenchError, match="^backbone dinov2:weights=.* needs transformers: pip install"):
        get_backbone(f"dinov2:weights={dinov2_folder}")


def pil_resized(images: torch.Tensor, height: int, width: int) -> np.ndarray:
    from PIL import Image

    return np.stack([np.asarray(Image.fromarray(image.permute(1, 2, 0).numpy()).resize((width, height),
                                                                                        Image.BICUBIC))
                     for image in images]).transpose(0, 3, 1, 2)


@pytest.mark.parametrize("shape, size", [((28, 28), (224, 224)), ((64, 48), (336, 252)), ((300, 300), (224, 224))])
def test_the_bicubic_resize_is_pils_but_for_rounding(shape, size):
    """Noise images, the hardest case (every overshoot clipped): under 1 % of pixels one grey level off, and about
    one in 100,000 two levels."""
    images = torch.randint(0, 256, (3, 3, *shape), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    ours = resize_like_pil(images, *size).numpy().astype(int)
    difference = np.abs(ours - pil_resized(images, *size).astype(int))
    assert difference.max() <= 2 and (difference > 0).mean() < 0.01 and (difference > 1).mean() < 1e-5


def test_dgm_eval_and_clip_preprocessing_match_pil_and_their_normalisation():
    images = torch.randint(0, 256, (2, 1, 40, 30), dtype=torch.uint8, generator=torch.Generator().manual_seed(2))
    rgb = images.repeat(1, 3, 1, 1)
    mean, std = np.array([0.485, 0.456, 0.406])[:, None, None], np.array([0.229, 0.224, 0.225])[:, None, None]
    expected = (pil_resized(rgb, 224, 224) / 255 - mean) / std
    np.testing.assert_allclose(dgm_eval_pixels(images).numpy(), expected, atol=2.01 / 255 / 0.224)
    # CLIP: shortest side (30) to 336, the long side to int(336 * 40 / 30) = 448, centre crop rows 56..392
    mean, std = (np.array([0.48145466, 0.4578275, 0.40821073])[:, None, None],
                 np.array([0.26862954, 0.26130258, 0.27577711])[:, None, None])
    expected = (pil_resized(rgb, 448, 336)[:, :, 56:392] / 255 - mean) / std
    np.testing.assert_allclose(clip_pixels(images).numpy(), expected, atol=2.01 / 255 / 0.261)


def sweep(tmp_path, backbone: str, capsys) -> tuple[int, list[dict], str]:
    """A two-point sweep of 24 samples scored by ``backbone`` against 200 digits (the reference and the floor)."""
    reference = tmp_path / "reference.npz"
    np.savez(reference, images=digits(200, seed=1).numpy())
    out = tmp_path / "sweep"
    status = main(["sweep", "--schedulers", "ddim", "--steps", "3,5", "-n", "24", "--backbone", backbone,
                   "--reference", str(reference), "--floor-data", str(reference), "--out", str(out),
                   "--no-progress"])
    err = capsys.readouterr().err
    records = [json.loads(line) for line in (out / "records.jsonl").read_text().splitlines()] if status == 0 else []
    return status, records, err


def test_a_sweep_with_dinov2_records_fd_dinov2_with_intervals(tmp_path, dinov2_folder, isolated_cache, capsys):
    status, records, err = sweep(tmp_path, f"dinov2:weights={dinov2_folder}", capsys)
    assert status == 0, err
    assert len(records) == 3 and all(r["frechet_name"] == "FD_DINOv2" for r in records)
    assert all(r["fid_low"] <= r["fid_high"] and r["kid"] is not None for r in records)
    assert "dgm-eval-224" in records[0]["preprocessing"]
    assert "n=24 samples against 32-d" in err and "below N = 2 D = 64" in err  # the small-N warning


def test_a_sweep_with_clip_adds_cmmd_with_intervals(tmp_path, clip_folder, isolated_cache, capsys):
    status, records, err = sweep(tmp_path, f"clip:weights={clip_folder}", capsys)
    assert status == 0, err
    assert all(r["frechet_name"] == "FD_CLIP" for r in records)
    assert all(0 <= r["cmmd_low"] <= r["cmmd_high"] and np.isfinite(r["cmmd"]) for r in records)
    # compare shows the backbone's name for its Frechet distance, and CMMD's paired difference with its interval
    assert main(["compare", str(tmp_path / "sweep"), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    (cmmd,) = [r for r in rows if r["metric"] == "cmmd"]
    assert cmmd["paired"] and cmmd["low"] <= cmmd["difference"] <= cmmd["high"]
    assert main(["compare", str(tmp_path / "sweep")]) == 0
    assert "FD_CLIP" in capsys.readouterr().out


def test_a_sweep_refuses_pickle_weights(tmp_path, dinov2_folder, isolated_cache, capsys):
    folder = tmp_path / "pickled"
    folder.mkdir()
    (folder / "config.json").write_text((dinov2_folder / "config.json").read_text())
    (folder / "pytorch_model.bin").write_bytes(pickle.dumps(WritesAFile(tmp_path / "pwned")))
    status, _, err = sweep(tmp_path, f"dinov2:weights={folder}", capsys)
    errors = [line for line in err.splitlines() if line.startswith("ddpm-bench: error:")]
    assert status == 2 and len(errors) == 1 and "refusing weights" in errors[0]
    assert not (tmp_path / "pwned").exists()
