"""Image grids and PNG files from uint8 image batches (N, C, H, W)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch


def to_pil(image: torch.Tensor):
    from PIL import Image

    array = image.permute(1, 2, 0).numpy()
    return Image.fromarray(array[:, :, 0] if array.shape[2] == 1 else array)


def grid(images: torch.Tensor, columns: int | None = None, padding: int = 2):
    """One PIL image with the batch laid out in rows, ``padding`` pixels of black between cells."""
    n, channels, height, width = images.shape
    columns = columns or math.ceil(math.sqrt(n))
    rows = math.ceil(n / columns)
    canvas = np.zeros(
        (channels, rows * (height + padding) + padding, columns * (width + padding) + padding), dtype=np.uint8
    )
    for i, image in enumerate(images.numpy()):
        r, c = divmod(i, columns)
        top, left = padding + r * (height + padding), padding + c * (width + padding)
        canvas[:, top : top + height, left : left + width] = image
    return to_pil(torch.from_numpy(canvas))


def save_grid(images: torch.Tensor, path: Path, columns: int | None = None, scale: int = 1) -> Path:
    image = grid(images, columns)
    if scale > 1:
        from PIL import Image

        image = image.resize((image.width * scale, image.height * scale), Image.NEAREST)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
    return path


def save_pngs(images: torch.Tensor, indices, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for index, image in zip(indices, images):
        to_pil(image).save(folder / f"{index:06d}.png")
