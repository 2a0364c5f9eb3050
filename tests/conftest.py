"""The tests' shared setup, in one place: the tiny model, its statistics cache and the scoring environment.

Scheduler-side helpers (diffusers' golden dummy model and inputs, the NaN-returning scheduler, paired loops) live in
scheduler_helpers.py, installed plugin distributions in plugin_factory.py, subprocesses in processes.py.
"""

import contextlib
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))

# Tiny models run fastest on one thread, and one thread keeps every result bit-for-bit reproducible.
torch.set_num_threads(1)

SCORING_SIZE = 28  # mnist-cnn, the default backbone, scores 28x28 images


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


def save_tiny_unet(folder: Path, **options) -> Path:
    """``make_tiny_unet(**options)`` saved as a diffusers folder (safetensors, no scheduler_config.json)."""
    make_tiny_unet(**options).save_pretrained(folder, safe_serialization=True)
    return folder


def save_scoring_model(folder: Path, seed: int = 0) -> Path:
    """The tiny model at 28x28, so that mnist-cnn can score its samples, saved at ``folder``."""
    return save_tiny_unet(folder, seed=seed, sample_size=SCORING_SIZE)


def cache_env(root: Path) -> dict:
    """The variable that points ddpm-bench's statistics cache at ``root/cache``: merge it into a subprocess's
    ``env``; ``statistics_cache`` sets it in this process."""
    from ddpm_bench.store.disk_cache import CACHE_ENV

    return {CACHE_ENV: str(root / "cache")}


@contextlib.contextmanager
def statistics_cache(root: Path):
    """The statistics cache at ``root/cache`` for the length of the block; the variable is restored after it."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in cache_env(root).items():
            patch.setenv(name, value)
        yield root


@contextlib.contextmanager
def scoring_env(root: Path):
    """``root`` with the tiny 28x28 model at ``root/model`` and a statistics cache of its own at ``root/cache``, for
    the length of the block."""
    save_scoring_model(root / "model")
    with statistics_cache(root):
        yield root


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """A diffusers folder with a tiny random 8x8 UNet (safetensors) and no scheduler_config.json."""
    return save_tiny_unet(tmp_path_factory.mktemp("tiny-unet"))


@pytest.fixture(scope="module")
def env(tmp_path_factory, request):
    """``scoring_env`` for a whole test module: a folder of the module's own (``model/``, ``cache/``) whose cache stays
    set until the module's last test ends. Module-scoped, so each module computes its own statistics as before."""
    name = request.module.__name__.rpartition(".")[2].removeprefix("test_").replace("_", "-")
    with scoring_env(tmp_path_factory.mktemp(name)) as root:
        yield root


@pytest.fixture
def isolated_cache(tmp_path):
    """A statistics cache of the test's own at ``tmp_path/cache``: nothing read from or left in ~/.cache."""
    with statistics_cache(tmp_path):
        yield tmp_path / "cache"
