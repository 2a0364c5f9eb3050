"""Resolving model sources: local folders, hub ids (offline), the model's own schedule, and bad files."""

import json
import os
import shutil
import sys

import processes
import pytest
import torch
from conftest import make_tiny_unet

from ddpm_bench.errors import BenchError
from ddpm_bench.model.loading import load_model, resolve_device
from ddpm_bench.schedulers.specs import build_scheduler, parse_scheduler_spec


def test_loads_a_safetensors_folder(tiny_model_dir):
    model = load_model(str(tiny_model_dir), "cpu")
    reference = make_tiny_unet()
    for name, tensor in reference.state_dict().items():
        assert torch.equal(model.unet.state_dict()[name], tensor)
    assert model.sample_shape == (1, 8, 8)
    assert len(model.weights_sha256) == 64
    assert not model.unet.training


def test_loads_a_bin_folder_with_weights_only(tmp_path, tiny_model_dir):
    shutil.copy(tiny_model_dir / "config.json", tmp_path / "config.json")
    torch.save(make_tiny_unet().state_dict(), tmp_path / "diffusion_pytorch_model.bin")
    model = load_model(str(tmp_path), "cpu")
    assert model.weights_file.name == "diffusion_pytorch_model.bin"


class CodeRunningPayload:
    """Unpickling this would run a shell command."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_pickle_with_code_is_refused(tmp_path, tiny_model_dir):
    shutil.copy(tiny_model_dir / "config.json", tmp_path / "config.json")
    marker = tmp_path / "code-ran"
    torch.save({"weights": CodeRunningPayload(marker)}, tmp_path / "diffusion_pytorch_model.bin")
    with pytest.raises(BenchError, match="cannot read weights .*diffusion_pytorch_model.bin"):
        load_model(str(tmp_path), "cpu")
    assert not marker.exists()


def test_a_pipeline_folder_uses_its_unet_and_scheduler_subfolders(tmp_path, tiny_model_dir):
    shutil.copytree(tiny_model_dir, tmp_path / "unet")
    (tmp_path / "scheduler").mkdir()
    (tmp_path / "scheduler" / "scheduler_config.json").write_text(json.dumps({"beta_end": 0.012}))
    model = load_model(str(tmp_path), "cpu")
    assert model.folder == tmp_path / "unet"
    assert model.schedule == {"beta_end": 0.012}


def test_the_models_schedule_reaches_every_scheduler_unless_overridden(tmp_path, tiny_model_dir):
    shutil.copytree(tiny_model_dir, tmp_path / "m")
    schedule = {
        "_class_name": "DDPMScheduler", "beta_end": 0.015, "variance_type": "fixed_large", "clip_sample": False,
        "num_train_timesteps": 500, "timestep_spacing": "trailing",
    }
    (tmp_path / "m" / "scheduler_config.json").write_text(json.dumps(schedule))
    model = load_model(str(tmp_path / "m"), "cpu")
    ddpm = build_scheduler(parse_scheduler_spec("ddpm"), model.schedule)
    assert (ddpm.config.beta_end, ddpm.config.variance_type, ddpm.config.num_train_timesteps) == (
        0.015, "fixed_large", 500
    )
    assert ddpm.config.timestep_spacing == "leading"  # a sampling choice, not part of the model
    ddim = build_scheduler(parse_scheduler_spec("ddim:clip_sample=true"), model.schedule)
    assert ddim.config.beta_end == 0.015 and ddim.config.clip_sample is True
    pndm = build_scheduler(parse_scheduler_spec("pndm"), model.schedule)
    assert pndm.config.num_train_timesteps == 500


@pytest.mark.parametrize(
    "damage,match",
    [
        (
            lambda d: (d / "diffusion_pytorch_model.safetensors").write_bytes(b"\x00" * 20),
            "cannot read weights .*safetensors",
        ),
        (lambda d: (d / "config.json").write_text("{not json"), "cannot read .*config.json"),
        (
            lambda d: (d / "config.json").write_text(
                json.dumps({**json.loads((d / "config.json").read_text()), "block_out_channels": [8, 32]})
            ),
            "do not match .*config.json",
        ),
        (lambda d: (d / "diffusion_pytorch_model.safetensors").unlink(), "has no weights"),
        (
            lambda d: (d / "config.json").write_text(json.dumps({"_class_name": "UNet2DConditionModel"})),
            "describes a UNet2DConditionModel",
        ),
    ],
    ids=["corrupt-weights", "corrupt-config", "mismatched", "no-weights", "wrong-class"],
)
def test_bad_folders_give_one_line_errors_naming_the_file(tmp_path, tiny_model_dir, damage, match):
    folder = tmp_path / "m"
    shutil.copytree(tiny_model_dir, folder)
    damage(folder)
    with pytest.raises(BenchError, match=match) as error:
        load_model(str(folder), "cpu")
    assert "\n" not in str(error.value)


def test_a_hub_id_missing_offline_says_where_to_put_it(tmp_path, monkeypatch):
    result = processes.run(
        [sys.executable, "-c",
         "from ddpm_bench.model.loading import load_model; load_model('google/ddpm-cifar10-32', 'cpu')"],
        env={"HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path), "PATH": ""},
    )
    assert "is not in the local Hugging Face cache" in result.stderr
    assert "hf download google/ddpm-cifar10-32" in result.stderr


def test_a_hub_id_is_read_from_the_local_cache(tmp_path, tiny_model_dir):
    """The hub cache layout (models--org--name/refs/main, snapshots/<commit>/...) as huggingface_hub writes it."""
    repo = tmp_path / "hub" / "models--someone--tiny-ddpm"
    commit = "0" * 40
    shutil.copytree(tiny_model_dir, repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    code = ("from ddpm_bench.model.loading import load_model; m = load_model('someone/tiny-ddpm', 'cpu'); "
            "print(m.folder.name)")
    result = processes.run(
        [sys.executable, "-c", code],
        env={"HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(tmp_path / "hub"), "PATH": ""},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == commit


@pytest.mark.parametrize(
    "source,match", [("embedded:cifar", "unknown embedded model"), ("no such thing", "not a folder, a hub id")]
)
def test_unknown_sources(source, match):
    with pytest.raises(BenchError, match=match):
        load_model(source, "cpu")


def test_device_resolution():
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device().type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(BenchError, match="unknown device"):
        resolve_device("tpu9")
