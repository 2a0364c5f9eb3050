"""How images meet DINOv2 and CLIP, as the metrics' authors prepare them, without Hugging Face's image processors
(whose DINOv2 one resizes to 256 and centre-crops 224) or torchvision.

- DINOv2, as dgm-eval does it (Stein et al. 2023, layer6ai-labs/dgm-eval, ``DINOv2Encoder.transform``): uint8 images
  resized to 224 x 224 with PIL's bicubic filter, scaled to [0, 1], normalised with ImageNet's mean and std.
- CLIP, as CLIP's own preprocessing does it (Radford et al. 2021, ``clip._transform``; ``CLIPImageProcessor``): the
  shortest side resized to the network's size (336 for ViT-L/14@336) with PIL's bicubic filter, a centre crop of
  that size, [0, 1], normalised with CLIP's mean and std. CMMD's reference code (google-research/cmmd) instead resizes
  float images straight to 336 x 336 with torch's non-antialiased bicubic (a = -0.75): for square images the geometry
  is the same, the kernel differs by a grey level or so at edges.

Grey images are repeated to three channels first. PIL's bicubic filter (a = -0.5, antialiased when shrinking, 8-bit
output) is torch's uint8 antialiased bicubic path, a port of Pillow-SIMD's: PIL's result but for rounding, under 1 % of
pixels one grey level off and about one in 100,000 two (tests/test_backbone_plugin.py checks it against PIL itself).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def rgb(images: torch.Tensor) -> torch.Tensor:
    """uint8 (N, C, H, W) images with three channels: grey repeated."""
    if images.dtype != torch.uint8:
        raise ValueError(f"expected uint8 images, got {images.dtype}")
    if images.shape[1] == 1:
        images = images.repeat(1, 3, 1, 1)
    if images.shape[1] != 3:
        raise ValueError(f"expected 1 or 3 channels, got {images.shape[1]}")
    return images


def resize_like_pil(images: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """uint8 RGB images resized as ``PIL.Image.resize((width, height), Image.BICUBIC)`` does, to uint8."""
    if images.shape[2:] == (height, width):
        return images
    return F.interpolate(images.contiguous(memory_format=torch.channels_last), size=(height, width),
                         mode="bicubic", antialias=True).contiguous()


def normalised(images: torch.Tensor, mean: tuple, std: tuple) -> torch.Tensor:
    """uint8 images scaled to [0, 1], then (x - mean) / std per channel, in float32."""
    mean_, std_ = torch.tensor(mean).view(1, 3, 1, 1), torch.tensor(std).view(1, 3, 1, 1)
    return (images.float() / 255 - mean_) / std_


def dgm_eval_pixels(images: torch.Tensor, size: int = 224) -> torch.Tensor:
    """DINOv2's input as dgm-eval prepares it: size x size, PIL bicubic, ImageNet normalisation."""
    return normalised(resize_like_pil(rgb(images), size, size), IMAGENET_MEAN, IMAGENET_STD)


def clip_pixels(images: torch.Tensor, size: int = 336) -> torch.Tensor:
    """CLIP's input as CLIP prepares it: shortest side to ``size`` (PIL bicubic; the long side truncated to an int, as
    torchvision's ``Resize`` and ``CLIPImageProcessor`` compute it), centre crop (torchvision's rounding), CLIP's
    normalisation."""
    images = rgb(images)
    height, width = images.shape[2:]
    short, long = sorted((height, width))
    scaled = int(size * long / short)
    new_height, new_width = (size, scaled) if height <= width else (scaled, size)
    images = resize_like_pil(images, new_height, new_width)
    top, left = int(round((new_height - size) / 2.0)), int(round((new_width - size) / 2.0))
    return normalised(images[:, :, top : top + size, left : left + size], CLIP_MEAN, CLIP_STD)
