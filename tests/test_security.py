"""No file a user names runs code when read. Each test builds a file whose unpickling would create a marker file (and
proves it would, by unpickling a twin the unsafe way), hands it to one reading path, and checks that the path refuses
it with one line and that the marker never appears."""

from pathlib import Path

import numpy as np
import processes
import pytest
import torch
from conftest import cache_env, save_tiny_unet

from ddpm_bench.errors import BenchError


class Trap:
    """Unpickling this opens (and so creates) ``marker``."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.fixture
def trap(tmp_path):
    """(marker, make): ``make(kind, path)`` writes a booby-trapped file of that kind and proves it is one."""
    marker = tmp_path / "MARKER"

    def make(kind: str, path: Path) -> Path:
        control = tmp_path / f"control-{path.name}"
        for target, trap_marker in ((control, tmp_path / "CONTROL"), (path, marker)):
            if kind == "torch":
                torch.save({"weight": torch.zeros(2), "payload": Trap(trap_marker)}, target)
            else:
                np.savez(target, images=np.array([Trap(trap_marker)], dtype=object),
                         mu=np.array([Trap(trap_marker)], dtype=object), sigma=np.zeros((1, 1)))
        if kind == "torch":
            torch.load(control, weights_only=False)
        else:
            with np.load(control, allow_pickle=True) as archive:
                archive["images"]
        assert (tmp_path / "CONTROL").exists(), "the trap does not fire when unpickled: the test would prove nothing"
        return path

    return marker, make


def test_inception_weights_are_refused_before_torch_fidelity_sees_them(trap, tmp_path, monkeypatch):
    from ddpm_bench.metrics import inception

    marker, make = trap
    weights = make("torch", tmp_path / inception.WEIGHTS_NAME)
    monkeypatch.setenv(inception.WEIGHTS_ENV, str(weights))
    with pytest.raises(BenchError) as error:
        inception.InceptionBackbone()
    assert f"refusing Inception weights {weights}: not a plain tensor state dict" in str(error.value)
    assert "\n" not in str(error.value) and not marker.exists()


def test_the_cli_refuses_inception_weights_in_one_line_with_exit_2(trap, tmp_path):
    marker, make = trap
    weights = make("torch", tmp_path / "weights.pth")
    env = {**cache_env(tmp_path), "PATH": ""}
    result = processes.ddpm_bench("stats", "--backbone", "inception", "--inception-weights", str(weights), env=env)
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "refusing Inception weights" in result.stderr and not marker.exists()


def test_inception_weights_that_are_not_a_state_dict_are_refused(tmp_path, monkeypatch):
    from ddpm_bench.metrics import inception

    weights = tmp_path / "list.pth"
    torch.save([torch.zeros(1)], weights)
    monkeypatch.setenv(inception.WEIGHTS_ENV, str(weights))
    with pytest.raises(BenchError, match="holds a list, not a state dict of tensors"):
        inception.InceptionBackbone()


def test_a_model_folder_with_pickled_code_is_refused(trap, tmp_path):
    from ddpm_bench.model.loading import load_model

    marker, make = trap
    folder = save_tiny_unet(tmp_path / "model")
    (folder / "diffusion_pytorch_model.safetensors").unlink()
    make("torch", folder / "diffusion_pytorch_model.bin")
    with pytest.raises(BenchError, match="cannot read weights"):
        load_model(str(folder), "cpu")
    assert not marker.exists()


def test_a_training_checkpoint_with_pickled_code_is_refused(trap, tmp_path):
    from ddpm_bench.model.training import TrainConfig, train

    marker, make = trap
    out = tmp_path / "run"
    out.mkdir()
    make("torch", out / "checkpoint.pt")
    config = TrainConfig(steps=1, batch_size=2, block_out_channels=(8, 16, 16), norm_num_groups=4)
    with pytest.raises(BenchError, match="cannot read checkpoint"):
        train(config, out, log=lambda line: None)
    assert not marker.exists()


def test_a_data_set_npz_with_object_arrays_is_refused(trap, tmp_path):
    from ddpm_bench.model.data import load_dataset

    marker, make = trap
    data = make("npz", tmp_path / "digits.npz")
    with pytest.raises(BenchError, match="is not an .npz of image arrays"):
        load_dataset(str(data), 28, 1)
    assert not marker.exists()


def test_imported_statistics_with_object_arrays_are_refused(trap, tmp_path, isolated_cache):
    from ddpm_bench.metrics.reference import import_published_stats

    marker, make = trap
    stats = make("npz", tmp_path / "published.npz")
    with pytest.raises(BenchError, match="is not a statistics file with 'mu' and 'sigma' arrays"):
        import_published_stats(stats, "evil", "mnist-cnn")
    assert not marker.exists()


def test_a_cached_statistics_file_with_object_arrays_is_rebuilt_not_run(trap, tmp_path, capsys):
    from ddpm_bench.metrics.reference import read_stats

    marker, make = trap
    cached = make("npz", tmp_path / "cached.npz")
    assert read_stats(cached) is None
    assert "unreadable" in capsys.readouterr().err and not marker.exists()
