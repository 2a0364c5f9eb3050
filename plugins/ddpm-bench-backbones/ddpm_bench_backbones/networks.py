"""The ``dinov2`` and ``clip`` backbones: Hugging Face ``transformers`` networks behind ddpm-bench's backbone protocol.

- ``dinov2`` (Oquab et al. 2023, DINOv2 ViT-L/14; ``size=base`` for ViT-B/14): the CLS token after the final layer
  norm (``pooler_output``, dgm-eval's ``x_norm_clstoken``), 1,024-d. Stein et al. 2023 ("Exposing flaws of
  generative model evaluation metrics", NeurIPS) found FD on these features agrees with human judgement where FID
  does not; EDM2 (Karras et al. 2024) reports it as FD_DINOv2.
- ``clip`` (Radford et al. 2021, ViT-L/14 at 336 px): the projected image embedding, L2-normalised, 768-d: the
  features of CMMD (Jayasumana et al. 2024, "Rethinking FID"), on which this backbone also gives CMMD
  (ddpm_bench.metrics.cmmd) and FD_CLIP (the Frechet distance on the same normalised embeddings; dgm-eval's FD on
  CLIP features is not normalised, so the two are not comparable).

Both run on the GPU when there is one (the identity says which), in float32, 32 images at a time.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Optional

import torch

from ddpm_bench.errors import BenchError, ConfigError
from ddpm_bench.metrics.cmmd import cmmd_scores
from ddpm_bench_backbones.preprocessing import clip_pixels, dgm_eval_pixels
from ddpm_bench_backbones.weights import config_value, folder_sha256, weights_folder

BATCH = 32  # images per forward pass: a ViT-L's activations for 32 images stay within a few GiB
INSTALL = "pip install ./plugins/ddpm-bench-backbones (transformers)"


def transformers_missing() -> Optional[str]:
    """What to install when ``transformers`` is absent, else None (found without importing it)."""
    return None if importlib.util.find_spec("transformers") else f"needs transformers: {INSTALL}"


def load_network(model_class: str, folder: Path, spec: str) -> torch.nn.Module:
    """``transformers.<model_class>`` from a vetted safetensors folder, in eval mode; one line when it does not fit.

    Every weight the network has must be in the folder: transformers would initialise a missing one at random with a
    warning, and the features would be noise. Weights the network lacks (a full CLIP model's text tower) are left
    unread. transformers' loading bar and key report are kept off the terminal."""
    missing = transformers_missing()
    if missing:
        raise BenchError(f"backbone {spec} {missing}")
    import transformers

    logging = transformers.utils.logging
    logging.disable_progress_bar()
    verbosity = logging.get_verbosity()
    logging.set_verbosity_error()
    try:
        network, info = getattr(transformers, model_class).from_pretrained(
            folder, config=network_config(transformers, model_class, folder), use_safetensors=True,
            local_files_only=True, output_loading_info=True)
    except (OSError, ValueError, RuntimeError) as error:
        reason = " ".join(str(error).split())[:200]
        raise BenchError(f"backbone {spec}: weights in {folder} do not load as {model_class}: {reason}") from error
    finally:
        logging.set_verbosity(verbosity)
    absent = sorted(info.get("missing_keys") or []) + sorted(info.get("mismatched_keys") or [])
    if absent:
        raise BenchError(f"backbone {spec}: weights in {folder} lack {len(absent)} of {model_class}'s tensors "
                         f"(first: {absent[0]}); they are not this network's")
    device = "cuda" if torch.cuda.is_available() else "cpu"
    return network.to(device).eval().requires_grad_(False)


def network_config(transformers, model_class: str, folder: Path):
    """The vision tower's configuration where ``folder`` holds a full CLIP model (openai/clip-vit-large-patch14-336
    does), with the model's ``projection_dim``, which transformers would otherwise leave at its default of 512; None
    (the folder's own configuration) otherwise."""
    config = json.loads((folder / "config.json").read_text())
    if model_class != "CLIPVisionModelWithProjection" or config.get("model_type") != "clip":
        return None
    vision = {**config.get("vision_config", {}), "projection_dim": config.get("projection_dim", 512)}
    vision.pop("model_type", None)
    return transformers.CLIPVisionConfig(**vision)


class TransformersBackbone:
    """What DINOv2 and CLIP share: weights found and vetted, the network loaded, features in batches."""

    name: str
    model_class: str
    repo: str
    min_samples_per_dim = 2  # warn below N = 2 D (ddpm_bench.metrics.backbones.warn_if_few_samples)

    def __init__(self, spec: str, weights: Optional[str], mode: str):
        folder = weights_folder(weights, self.repo, spec)
        self.network = load_network(self.model_class, folder, spec)
        self.device = next(self.network.parameters()).device
        self._identity = f"{spec.split(':')[0]}:{folder_sha256(folder)[:16]}:{mode}:{self.device.type}"

    def identity(self) -> str:
        return self._identity

    def features(self, images: torch.Tensor) -> torch.Tensor:
        parts = []
        with torch.inference_mode():
            for start in range(0, len(images), BATCH):
                pixels = self.pixels(images[start : start + BATCH].cpu()).to(self.device)
                parts.append(self.forward(pixels).float().cpu())
        return torch.cat(parts)

    def pixels(self, images: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


class Dinov2Backbone(TransformersBackbone):
    name = "dinov2"
    frechet_name = "FD_DINOv2"
    model_class = "Dinov2Model"
    feature_dim = 1024
    SIZES = {"large": ("facebook/dinov2-large", 1024), "base": ("facebook/dinov2-base", 768)}
    RESOLUTION = 224

    def __init__(self, size: str = "large", weights: Optional[str] = None):
        """``size``: ``large`` (ViT-L/14, the metric's network) or ``base``, looked up in the Hugging Face cache;
        ``weights``: a folder to load instead (its config decides the size)."""
        self.repo = self.SIZES[self.checked_size(size)][0]
        spec = f"dinov2:size={size}" if weights is None else f"dinov2:weights={weights}"
        super().__init__(spec, weights, mode="dgm-eval-224")
        self.feature_dim = self.network.config.hidden_size
        self.preprocessing = (
            f"uint8 images, grey repeated to 3 channels, resized to {self.RESOLUTION}x{self.RESOLUTION} with PIL's "
            "bicubic filter, scaled to [0, 1] and normalised with ImageNet's mean and std (dgm-eval's DINOv2 "
            f"preprocessing, mode dgm-eval-224); features: the {self.feature_dim}-d CLS token after the final layer "
            f"norm of DINOv2 ({self.repo if weights is None else 'weights from ' + str(weights)})"
        )

    @classmethod
    def checked_size(cls, size: str) -> str:
        if size not in cls.SIZES:
            raise ConfigError(f"backbone dinov2: size={size!r} is not one of {', '.join(sorted(cls.SIZES))}")
        return size

    @classmethod
    def stated_dim(cls, size: str = "large", weights: Optional[str] = None) -> Optional[int]:
        """D without loading the network: the weights folder's ``hidden_size``, else the size's."""
        if weights is not None:
            return config_value(Path(weights).expanduser(), "hidden_size")
        return cls.SIZES.get(size, (None, None))[1]

    def pixels(self, images: torch.Tensor) -> torch.Tensor:
        return dgm_eval_pixels(images, self.RESOLUTION)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.network(pixel_values=pixels).pooler_output


class ClipBackbone(TransformersBackbone):
    name = "clip"
    frechet_name = "FD_CLIP"
    model_class = "CLIPVisionModelWithProjection"
    repo = "openai/clip-vit-large-patch14-336"
    feature_dim = 768

    def __init__(self, weights: Optional[str] = None):
        """``weights``: a folder holding a CLIP model (a full ``CLIPModel`` or its vision tower with projection);
        else ViT-L/14@336 from the Hugging Face cache."""
        super().__init__("clip" if weights is None else f"clip:weights={weights}", weights, mode="clip-shortest-crop")
        self.feature_dim = self.network.config.projection_dim
        self.resolution = self.network.config.image_size
        self.preprocessing = (
            f"uint8 images, grey repeated to 3 channels, shortest side resized to {self.resolution} with PIL's "
            f"bicubic filter and centre-cropped to {self.resolution}x{self.resolution}, scaled to [0, 1] and "
            "normalised with CLIP's mean and std (CLIP's preprocessing, as CMMD uses it; mode clip-shortest-crop); "
            f"features: the {self.feature_dim}-d projected image embedding, L2-normalised (CMMD's), of CLIP "
            f"({self.repo if weights is None else 'weights from ' + str(weights)})"
        )

    @classmethod
    def stated_dim(cls, weights: Optional[str] = None) -> Optional[int]:
        """D without loading the network: the weights folder's ``projection_dim``, else ViT-L/14's 768."""
        return config_value(Path(weights).expanduser(), "projection_dim") if weights else cls.feature_dim

    def pixels(self, images: torch.Tensor) -> torch.Tensor:
        return clip_pixels(images, self.resolution)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        embeddings = self.network(pixel_values=pixels).image_embeds
        return embeddings / embeddings.norm(dim=-1, keepdim=True)

    def feature_scores(self, point) -> dict:
        """CMMD with its 95 % interval, from the point's features (ddpm_bench.metrics.cmmd)."""
        return cmmd_scores(point)
