"""Where DINOv2 and CLIP weights come from, and the rule they must meet: safetensors only.

A backbone's weights are a folder as ``save_pretrained`` writes it (``config.json`` and ``*.safetensors``): the one
named by the ``weights=DIR`` option, else the model's snapshot in the Hugging Face cache (``$HF_HUB_CACHE``, else
``$HF_HOME/hub``, else ``~/.cache/huggingface/hub``), where ``huggingface-cli download`` puts it. Nothing is downloaded
at run time.

A pickle checkpoint (``pytorch_model.bin``, ``*.pt``, ``*.pth``) runs any code pickled into it when loaded, so it is
refused before anything reads it, the rule ddpm-bench applies to Inception's weights (metrics/inception.py):
``weights=`` naming such a file, or a folder without a safetensors file, is one line saying so, and the network is
then loaded with ``use_safetensors=True``, which reads no pickle even where one lies beside the safetensors file. The
SHA-256 of ``config.json`` and the safetensors files is part of the backbone's identity, and so of every cache key.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Optional

from ddpm_bench.errors import BenchError

PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle")


def hub_cache() -> Path:
    """The Hugging Face hub cache folder, as huggingface_hub resolves it (without importing it)."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"])
    home = os.environ.get("HF_HOME") or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "huggingface"
    return Path(home) / "hub"


def cached_snapshot(repo: str) -> Optional[Path]:
    """The cached snapshot folder of ``repo`` (``facebook/dinov2-large``): its ``main`` revision, else the newest
    snapshot; None when the cache has none."""
    folder = hub_cache() / f"models--{repo.replace('/', '--')}"
    main = folder / "refs" / "main"
    if main.is_file() and (folder / "snapshots" / main.read_text().strip()).is_dir():
        return folder / "snapshots" / main.read_text().strip()
    snapshots = sorted((folder / "snapshots").glob("*"), key=lambda path: path.stat().st_mtime)
    return snapshots[-1] if snapshots else None


def missing_weights(repo: str, spec: str) -> str:
    """The one line that says where a backbone's weights should be."""
    return (f"no weights for backbone {spec}: {repo} is not in the Hugging Face cache ({hub_cache()}); download it "
            f"there (huggingface-cli download {repo} config.json model.safetensors) or pass --backbone "
            f"{spec.split(':')[0]}:weights=DIR, a folder holding config.json and model.safetensors")


def weights_folder(weights: Optional[str], repo: str, spec: str) -> Path:
    """The folder to load ``spec``'s network from: ``weights`` (a folder, or a safetensors file in one), else
    ``repo``'s cached snapshot; a one-line BenchError when it is missing or is a pickle checkpoint."""
    if weights is None:
        folder = cached_snapshot(repo)
        if folder is None:
            raise BenchError(missing_weights(repo, spec))
    else:
        folder = Path(weights).expanduser()
        if folder.is_file():
            if folder.suffix.lower() != ".safetensors":
                raise BenchError(refusal(folder, spec))
            folder = folder.parent
        elif not folder.is_dir():
            raise BenchError(f"backbone {spec}: weights folder {folder} does not exist (weights=DIR: a folder holding "
                             "config.json and model.safetensors, as save_pretrained writes it)")
    return vetted_folder(folder, spec)


def refusal(path: Path, spec: str) -> str:
    return (f"refusing weights {path} for backbone {spec}: a pickle checkpoint runs code when loaded; safetensors "
            "only (use the model's model.safetensors, or convert the checkpoint where you trust it)")


def vetted_folder(folder: Path, spec: str) -> Path:
    """``folder`` when it holds ``config.json`` and a safetensors file; else a one-line BenchError (a refusal where
    it holds only a pickle checkpoint). Nothing in the folder is read."""
    if not any(folder.glob("*.safetensors")):
        pickles = sorted(path for path in folder.iterdir() if path.suffix.lower() in PICKLE_SUFFIXES)
        if pickles:
            raise BenchError(refusal(pickles[0], spec))
        raise BenchError(f"backbone {spec}: no safetensors weights in {folder} (expected model.safetensors)")
    if not (folder / "config.json").is_file():
        raise BenchError(f"backbone {spec}: no config.json in {folder}")
    return folder


def folder_sha256(folder: Path) -> str:
    """SHA-256 over ``config.json`` and every safetensors file of ``folder``, by name: what the features depend on."""
    digest = hashlib.sha256()
    for path in [folder / "config.json", *sorted(folder.glob("*.safetensors"))]:
        digest.update(path.name.encode() + b"\0")
        with open(path, "rb") as handle:
            while block := handle.read(1 << 24):
                digest.update(block)
    return digest.hexdigest()


def config_value(folder: Path, *keys: str) -> Optional[int]:
    """The first of ``keys`` found in ``config.json`` (or its ``vision_config``, as a full CLIP model's has it)."""
    try:
        config = json.loads((folder / "config.json").read_text())
    except (OSError, ValueError):
        return None
    for scope in (config, config.get("vision_config") or {}):
        for key in keys:
            if isinstance(scope.get(key), int):
                return scope[key]
    return None
