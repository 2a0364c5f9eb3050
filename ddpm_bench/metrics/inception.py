"""The ``inception`` backbone: torch-fidelity's port of the 2015 TensorFlow Inception-v3, the FID network of the
DDPM, DDIM and PNDM papers (and of pytorch-fid / TTUR statistics).

Optional: ``pip install ddpm-bench[inception]`` (torch-fidelity, which needs torchvision). The weights file
``weights-inception-2015-12-05-6726825d.pth`` is looked up at ``--backbone inception:weights=PATH``, else at
``--inception-weights PATH`` (environment variable ``DDPM_BENCH_INCEPTION_WEIGHTS``), else where torch-fidelity caches
it (``$TORCH_HOME/hub/checkpoints``). Nothing is downloaded at run time.

torch-fidelity reads its weights with ``torch.load(weights_only=False)``, which runs any code pickled into the file. So
the file a user names is never handed to it: its bytes are read once and vetted with ``torch.load(weights_only=True)``
(a file that is not a plain tensor state dict is refused with one line, before torch-fidelity is even imported); the
vetted tensors are written afresh to a private temporary file, and that is what torch-fidelity loads. The network then
checks every key and shape (``load_state_dict(strict=True)``). The file's SHA-256 should begin with ``6726825d`` (the
prefix in the published file's name); another hash is a one-line warning, not an error, so that retrained or converted
weights still work, and the hash is part of the backbone's identity (and so of every cache key and record).
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import os
import sys
import tempfile
from pathlib import Path
from typing import Optional

import torch

from ddpm_bench.errors import BenchError
from ddpm_bench.hookspecs import hookimpl

WEIGHTS_ENV = "DDPM_BENCH_INCEPTION_WEIGHTS"
WEIGHTS_NAME = "weights-inception-2015-12-05-6726825d.pth"
WEIGHTS_URL = f"https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/{WEIGHTS_NAME}"
PUBLISHED_SHA256_PREFIX = "6726825d"


def vetted_state_dict(path: Path) -> tuple[dict[str, torch.Tensor], str]:
    """The tensors of a weights file, read without running any pickled code, and the file's SHA-256; a one-line
    BenchError naming the file when it is not a plain tensor state dict."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise BenchError(f"cannot read Inception weights {path}: {error.strerror or error}") from error
    try:
        state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as error:
        reason = " ".join(str(error).split())[:160]
        raise BenchError(f"refusing Inception weights {path}: not a plain tensor state dict ({type(error).__name__}: "
                         f"{reason}); torch-fidelity would run code from it") from error
    if not isinstance(state, dict) or not state or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
    ):
        raise BenchError(
            f"refusing Inception weights {path}: it holds a {type(state).__name__}, not a state dict of tensors"
        )
    return state, hashlib.sha256(data).hexdigest()


def weights_location(weights: Optional[str] = None) -> Path:
    """Where the Inception weights are looked for: the backbone's ``weights`` option, else ``--inception-weights`` /
    the environment, else torch's cache."""
    explicit = weights or os.environ.get(WEIGHTS_ENV)
    return Path(explicit) if explicit else Path(torch.hub.get_dir()) / "checkpoints" / WEIGHTS_NAME


def weights_path(weights: Optional[str] = None) -> Path:
    """The Inception weights file to use; BenchError naming the file and where to put it when it is missing."""
    path = weights_location(weights)
    if not path.is_file():
        raise BenchError(
            f"Inception weights not found at {path}; download {WEIGHTS_URL} and put it there, "
            f"or pass --backbone inception:weights=PATH (or --inception-weights PATH)"
        )
    return path


@hookimpl
def plugin_unavailable() -> Optional[str]:
    """What the inception backbone lacks now: torch-fidelity, or the weights file (None when it has both)."""
    if importlib.util.find_spec("torch_fidelity") is None:
        return "needs torch-fidelity (pip install 'ddpm-bench[inception]')"
    path = weights_location()
    return None if path.is_file() else (f"no weights at {path} (--backbone inception:weights=PATH, or download "
                                         f"{WEIGHTS_URL})")


class InceptionBackbone:
    name = "inception"
    feature_dim = 2048
    preprocessing = (
        "uint8 images, grey repeated to 3 channels, resized to 299x299 by torch-fidelity's TensorFlow-1.x-compatible "
        "bilinear interpolation, scaled to [-1, 1]; features: 2048-d pool3 of Inception-v3 (2015-12-05 weights)"
    )

    def __init__(self, weights: Optional[str] = None):
        """``weights``: the weights file (``--backbone inception:weights=FILE``); else found as ``weights_location``
        says."""
        path = weights_path(weights)
        state, sha256 = vetted_state_dict(path)  # before torch-fidelity is imported: a bad file is refused either way
        if not sha256.startswith(PUBLISHED_SHA256_PREFIX):
            print(f"ddpm-bench: warning: Inception weights {path} have SHA-256 {sha256[:16]}..., not the published "
                  f"file's {PUBLISHED_SHA256_PREFIX}...; FIDs from them are not comparable with published ones",
                  file=sys.stderr)
        try:
            from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3
        except ImportError as error:
            raise BenchError(
                f"the inception backbone needs torch-fidelity: pip install 'ddpm-bench[inception]' ({error})"
            ) from error
        with tempfile.TemporaryDirectory(prefix="ddpm-bench-inception-") as private:
            vetted = Path(private) / WEIGHTS_NAME
            torch.save(state, vetted)  # plain tensors only: what torch-fidelity unpickles from here runs no code
            try:
                self.model = FeatureExtractorInceptionV3("inception-v3-compat", ["2048", "logits_unbiased"],
                                                         feature_extractor_weights_path=str(vetted))
            except Exception as error:  # strict load_state_dict: a missing or unexpected key, a wrong shape
                reason = " ".join(str(error).split())[:200]
                raise BenchError(
                    f"Inception weights {path} do not fit the network: {type(error).__name__}: {reason}"
                ) from error
        self._identity = f"inception-v3-compat:{sha256[:16]}"

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
    register(
        "inception", InceptionBackbone,
        "Inception-v3 (TF 2015 port, torch-fidelity): the standard FID network; optional extra",
    )
