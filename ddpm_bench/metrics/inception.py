"""The ``inception`` backbone: torch-fidelity's port of the 2015 TensorFlow Inception-v3, the FID network of the
DDPM, DDIM and PNDM papers (and of pytorch-fid / TTUR statistics).

Optional: ``pip install ddpm-bench[inception]`` (torch-fidelity, which needs torchvision). The weights file
``weights-inception-2015-12-05-6726825d.pth`` is looked up at ``--inception-weights PATH`` (environment variable
``DDPM_BENCH_INCEPTION_WEIGHTS``), else where torch-fidelity caches it (``$TORCH_HOME/hub/checkpoints``). Nothing is
downloaded at run time.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from ddpm_bench.errors import BenchError
from ddpm_bench.hookspecs import hookimpl
from ddpm_bench.models import file_sha256

WEIGHTS_ENV = "DDPM_BENCH_INCEPTION_WEIGHTS"
WEIGHTS_NAME = "weights-inception-2015-12-05-6726825d.pth"
WEIGHTS_URL = f"https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/{WEIGHTS_NAME}"


def weights_path() -> Path:
    """The Inception weights file to use; BenchError naming the file and where to put it when it is missing."""
    explicit = os.environ.get(WEIGHTS_ENV)
    path = Path(explicit) if explicit else Path(torch.hub.get_dir()) / "checkpoints" / WEIGHTS_NAME
    if not path.is_file():
        raise BenchError(
            f"Inception weights not found at {path}; download {WEIGHTS_URL} and put it there, "
            f"or pass --inception-weights PATH"
        )
    return path


class InceptionBackbone:
    name = "inception"
    feature_dim = 2048
    preprocessing = (
        "uint8 images, grey repeated to 3 channels, resized to 299x299 by torch-fidelity's TensorFlow-1.x-compatible "
        "bilinear interpolation, scaled to [-1, 1]; features: 2048-d pool3 of Inception-v3 (2015-12-05 weights)"
    )

    def __init__(self):
        path = weights_path()
        try:
            from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3
        except ImportError as error:
            raise BenchError(f"the inception backbone needs torch-fidelity: pip install 'ddpm-bench[inception]' ({error})") from error
        try:
            self.model = FeatureExtractorInceptionV3("inception-v3-compat", ["2048", "logits_unbiased"], feature_extractor_weights_path=str(path))
        except Exception as error:
            raise BenchError(f"cannot load Inception weights {path}: {type(error).__name__}: {str(error)[:200]}") from error
        self._identity = f"inception-v3-compat:{file_sha256(path)[:16]}"

    def identity(self) -> str:
        return self._identity

    def _run(self, images: torch.Tensor):
        if images.dtype != torch.uint8:
            raise BenchError(f"the inception backbone takes uint8 images, got {images.dtype}")
        if images.shape[1] == 1:
            images = images.repeat(1, 3, 1, 1)
        with torch.inference_mode():
            return self.model(images.cpu())

    def features(self, images: torch.Tensor) -> torch.Tensor:
        return self._run(images)[0]

    def features_and_logits(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Pool3 features and the unbiased logits over 1008 classes (for the Inception score), in one pass."""
        return self._run(images)


@hookimpl
def register_backbones(register):
    register("inception", InceptionBackbone, "Inception-v3 (TF 2015 port, torch-fidelity): the standard FID network; optional extra")
