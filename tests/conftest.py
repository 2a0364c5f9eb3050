import contextlib
import os
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))

# Tiny models run fastest on one thread, and one thread keeps every result bit-for-bit reproducible.
torch.set_num_threads(1)


def make_tiny_unet(seed: int = 0, sample_size: int = 8, channels: int = 1, out_channels=None):
    """A random-weight UNet2DModel small enough for plumbing tests (about 40k parameters)."""
    from diffusers import UNet2DModel

    torch.manual_seed(seed)
    return UNet2DModel(
        sample_size=sample_size,
        in_channels=channels,
        out_channels=out_channels or channels,
        block_out_channels=(8, 16),
        layers_per_block=1,
        down_block_types=("DownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "UpBlock2D"),
        norm_num_groups=4,
    ).eval()


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """A diffusers folder with a tiny random UNet (safetensors) and no scheduler_config.json."""
    folder = tmp_path_factory.mktemp("tiny-unet")
    make_tiny_unet().save_pretrained(folder, safe_serialization=True)
    return folder


@contextlib.contextmanager
def scoring_env(root: Path):
    """``root`` with a tiny 28x28 model (so that mnist-cnn can score it) at ``root/model`` and a statistics cache of
    its own, for the length of the block."""
    make_tiny_unet(sample_size=28).save_pretrained(root / "model")
    os.environ["DDPM_BENCH_CACHE"] = str(root / "cache")
    try:
        yield root
    finally:
        del os.environ["DDPM_BENCH_CACHE"]
