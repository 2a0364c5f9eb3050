"""Resolving a model source to a diffusers ``UNet2DModel`` on a device, with the training schedule it came with.

Sources: a local diffusers folder (``config.json`` + ``diffusion_pytorch_model.safetensors`` or ``.bin``, optionally in
a ``unet/`` subfolder as in a pipeline repository), a Hugging Face hub id (``google/ddpm-cifar10-32``), or the embedded
default ``embedded:mnist``. Weights are read with safetensors or ``torch.load(weights_only=True)``: loading never runs
pickled code.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import torch

from ddpm_bench.errors import BenchError, ConfigError
from ddpm_bench.util.hashing import file_sha256

EMBEDDED_MODELS = {"embedded:mnist": Path(__file__).resolve().parents[1] / "assets" / "embedded-mnist"}
WEIGHT_FILES = ("diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.bin")
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.\-]*/[\w.\-]+$")
# The training schedule a model's scheduler_config.json passes on to every sampler built for it.
MODEL_SCHEDULE_KEYS = (
    "num_train_timesteps",
    "beta_start",
    "beta_end",
    "beta_schedule",
    "trained_betas",
    "prediction_type",
    "clip_sample",
    "clip_sample_range",
    "variance_type",
)


@dataclass
class LoadedModel:
    """A UNet ready to sample with, and what identifies it in a record."""

    unet: Any
    source: str
    folder: Path
    weights_file: Path
    weights_sha256: str
    schedule: dict = field(default_factory=dict)
    warmed_up: set = field(default_factory=set)  # (batch rows, precision) already run once, untimed

    @property
    def sample_shape(self) -> tuple[int, int, int]:
        size = self.unet.config.sample_size
        height, width = (size, size) if isinstance(size, int) else tuple(size)
        return (self.unet.config.in_channels, height, width)


def resolve_device(name: Optional[str] = None) -> torch.device:
    """CUDA when available, else CPU; ``name`` ("cpu", "cuda", "cuda:1") overrides."""
    if name is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"unknown device {name!r}; use cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {name!r} requested but CUDA is not available here; use --device cpu")
    return device


def _hub_folder(repo_id: str) -> Path:
    """The local snapshot of a hub repository: from the cache, or downloaded when the hub can be reached."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.constants import HF_HUB_CACHE, HF_HUB_OFFLINE

    patterns = ["*.json", "*.safetensors", "*.bin"]
    try:
        return Path(snapshot_download(repo_id, allow_patterns=patterns, local_files_only=True))
    except Exception as cached_error:
        if HF_HUB_OFFLINE:
            raise BenchError(
                f"model {repo_id!r} is not in the local Hugging Face cache ({HF_HUB_CACHE}) "
                "and HF_HUB_OFFLINE is set; "
                f"run `hf download {repo_id}` where the hub is reachable and copy the cache here, "
                "or pass a local folder"
            ) from cached_error
    try:
        return Path(snapshot_download(repo_id, allow_patterns=patterns))
    except Exception as error:
        raise BenchError(
            f"model {repo_id!r} is not in the local Hugging Face cache ({HF_HUB_CACHE}) and could not be downloaded "
            f"({type(error).__name__}); run `hf download {repo_id}` where the hub is reachable, or pass a local folder"
        ) from error


def model_folder(source: str) -> Path:
    """The folder holding ``config.json`` and the weights for ``source``."""
    if source in EMBEDDED_MODELS:
        folder = EMBEDDED_MODELS[source]
        if not (folder / "config.json").exists():
            raise BenchError(
                f"the embedded model {source} is missing from the installed package ({folder}); reinstall ddpm-bench"
            )
        return folder
    path = Path(source).expanduser()
    if path.exists():
        if not path.is_dir():
            raise BenchError(f"model source {source!r} is a file; pass the diffusers folder that holds config.json")
        return (
            path / "unet"
            if not (path / "config.json").exists() and (path / "unet" / "config.json").exists()
            else path
        )
    if source.startswith("embedded:"):
        raise BenchError(f"unknown embedded model {source!r}; available: {', '.join(EMBEDDED_MODELS)}")
    if HUB_ID.match(source):
        folder = _hub_folder(source)
        return folder / "unet" if (folder / "unet" / "config.json").exists() else folder
    raise BenchError(
        f"model source {source!r} is not a folder, a hub id (org/name) or one of {', '.join(EMBEDDED_MODELS)}"
    )


def _read_json(path: Path) -> dict:
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise BenchError(f"cannot read {path}: {error}") from error
    if not isinstance(value, dict):
        raise BenchError(f"{path} does not hold a JSON object")
    return value


def read_weights(path: Path) -> dict[str, torch.Tensor]:
    """A state dict from safetensors, or from a torch pickle with ``weights_only=True`` (no code is executed)."""
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path))
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise BenchError(
            f"cannot read weights {path}: {type(error).__name__}: {str(error).splitlines()[0][:200]}"
        ) from error
    if not isinstance(state, dict):
        raise BenchError(f"weights {path} do not hold a state dict")
    return state


def read_schedule(folder: Path) -> dict:
    """The training-schedule entries of ``scheduler_config.json`` beside the weights (or in ``../scheduler``)."""
    for candidate in (folder / "scheduler_config.json", folder.parent / "scheduler" / "scheduler_config.json"):
        if candidate.exists():
            config = _read_json(candidate)
            return {k: config[k] for k in MODEL_SCHEDULE_KEYS if k in config}
    return {}


def load_model(source: str, device: Optional[str | torch.device] = None) -> LoadedModel:
    """Resolve ``source`` and load its UNet in fp32 on ``device`` (CUDA when available), in eval mode."""
    from diffusers import UNet2DModel

    folder = model_folder(source)
    config_path = folder / "config.json"
    if not config_path.exists():
        raise BenchError(f"{folder} has no config.json; a diffusers UNet2DModel folder is expected")
    config = _read_json(config_path)
    class_name = config.get("_class_name", "UNet2DModel")
    if class_name != "UNet2DModel":
        raise BenchError(f"{config_path} describes a {class_name}; ddpm-bench samples UNet2DModel checkpoints")
    weights = next((folder / name for name in WEIGHT_FILES if (folder / name).exists()), None)
    if weights is None:
        raise BenchError(f"{folder} has no weights ({' or '.join(WEIGHT_FILES)})")
    try:
        unet = UNet2DModel.from_config(config)
    except Exception as error:
        raise BenchError(f"{config_path} is not a valid UNet2DModel config: {error}") from error
    try:
        unet.load_state_dict(read_weights(weights), strict=True)
    except RuntimeError as error:
        raise BenchError(f"weights {weights} do not match {config_path}: {str(error).splitlines()[0][:200]}") from error
    device = device if isinstance(device, torch.device) else resolve_device(device)
    unet = unet.to(device).eval().requires_grad_(False)
    return LoadedModel(unet, source, folder, weights, file_sha256(weights), read_schedule(folder))
