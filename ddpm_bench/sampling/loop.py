"""The sampling loop: N images from any registered scheduler, reproducible per sample, counted and timed honestly.

- Sample i depends only on (seed, i): its initial noise and every per-step noise come from its own CPU generator,
  seeded from (seed, i). Results do not change with batch size, device count or order.
- NFE is counted in the loop (model calls per sample), not taken from the requested step count.
- Time covers the loop (initial noise, model calls, scheduler steps) per batch, after an untimed warm-up; CUDA is
  synchronised around each timed batch.
- ``stream`` yields batches, so a caller that only needs features never holds all N images.
"""

from __future__ import annotations

import contextlib
import statistics
import sys
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator, Optional, Sequence

import numpy as np
import torch

from ddpm_bench.errors import ConfigError, SamplingError
from ddpm_bench.model.data import to_uint8
from ddpm_bench.model.loading import LoadedModel
from ddpm_bench.schedulers.base import randn_like_batch
from ddpm_bench.util.batching import chunks
from ddpm_bench.util.options import positive_int

AUTOCAST_DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}
WARMUP_CALLS = 2


@dataclass(frozen=True)
class Precision:
    """How the UNet runs: autocast dtype, memory format, compilation. The scheduler always works in fp32."""

    dtype: str = "fp32"
    channels_last: bool = False
    compile: bool = False

    def __post_init__(self):
        if self.dtype not in AUTOCAST_DTYPES:
            raise ConfigError(f"precision {self.dtype!r} is not one of {', '.join(AUTOCAST_DTYPES)}")


@dataclass
class SamplingStats:
    """What a run measured: model calls per sample and the wall time of each timed batch."""

    nfe: Optional[int] = None
    batch_seconds: list[float] = field(default_factory=list)
    batch_sizes: list[int] = field(default_factory=list)

    @property
    def images(self) -> int:
        return sum(self.batch_sizes)

    @property
    def total_seconds(self) -> float:
        return sum(self.batch_seconds)

    def per_image(self) -> list[float]:
        return [s / b for s, b in zip(self.batch_seconds, self.batch_sizes)]

    @property
    def seconds_per_image(self) -> float:
        """Median over timed batches of (batch seconds / batch size)."""
        return statistics.median(self.per_image()) if self.batch_seconds else float("nan")

    def to_dict(self) -> dict:
        per_image = self.per_image()
        return {
            "nfe": self.nfe,
            "images": self.images,
            "seconds_per_image": self.seconds_per_image,
            "seconds_per_image_min": min(per_image) if per_image else None,
            "seconds_per_image_max": max(per_image) if per_image else None,
            "total_seconds": self.total_seconds,
            "timed_batches": len(self.batch_seconds),
        }


@dataclass
class SampledBatch:
    indices: list[int]
    images: torch.Tensor  # uint8 (B, C, H, W)


def sample_seed(seed: int, index: int) -> int:
    """The seed of sample ``index`` in a run seeded ``seed``: a hash of both, so runs with nearby seeds share
    nothing."""
    return int(np.random.SeedSequence([seed, index]).generate_state(1, dtype=np.uint64)[0] >> 1)


def sample_generators(seed: int, indices: Sequence[int]) -> list[torch.Generator]:
    return [torch.Generator().manual_seed(sample_seed(seed, i)) for i in indices]


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def prepare_unet(unet, precision: Precision):
    """Apply the memory format and compilation of ``precision`` to the UNet; returns the callable to use."""
    if precision.channels_last:
        unet = unet.to(memory_format=torch.channels_last)
    return torch.compile(unet) if precision.compile else unet


class Sampler:
    """Runs one scheduler at one step count on one model; ``stream`` produces the images batch by batch."""

    def __init__(
        self,
        model: LoadedModel,
        scheduler,
        steps: int,
        *,
        batch_size: int = 64,
        precision: Precision = Precision(),
        progress: Optional[bool] = None,
        label: str = "",
        on_call: Optional[Callable[[int], None]] = None,
    ):
        """``progress``: a tqdm bar (None: on a terminal only). ``on_call(rows)`` is told of every model call."""
        positive_int(batch_size, "batch size")
        self.model, self.scheduler, self.steps = model, scheduler, steps
        self.batch_size, self.precision = batch_size, precision
        self.progress = sys.stderr.isatty() if progress is None else progress
        self.label = label or type(scheduler).__name__
        self.on_call = on_call
        self.device = next(model.unet.parameters()).device
        self.unet = prepare_unet(model.unet, precision)
        self.stats = SamplingStats()
        scheduler.set_timesteps(steps, device=self.device)
        self.timesteps_per_batch = len(scheduler.timesteps)

    def _autocast(self):
        dtype = AUTOCAST_DTYPES[self.precision.dtype]
        if dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=dtype)

    def _model(self, sample: torch.Tensor, t) -> torch.Tensor:
        with self._autocast():
            return self.unet(sample, t).sample.float()

    def _warm_up(self, rows: int) -> None:
        """Untimed model calls before the first timed batch of this shape and precision (allocator, kernel choice,
        compilation), once per loaded model."""
        key = (rows, self.precision)
        if key in self.model.warmed_up:
            return
        self.model.warmed_up.add(key)
        sample = torch.zeros((rows, *self.model.sample_shape), device=self.device)
        t = self.scheduler.timesteps[0]
        for _ in range(WARMUP_CALLS):
            self._model(sample, t)
        _synchronize(self.device)

    def _sample_batch(self, generators: list[torch.Generator], bar) -> torch.Tensor:
        scheduler = self.scheduler
        shape = (len(generators), *self.model.sample_shape)
        sample = randn_like_batch(torch.empty(shape, device=self.device), generators) * scheduler.init_noise_sigma
        scheduler.set_timesteps(self.steps, device=self.device)
        calls = 0
        for k, t in enumerate(scheduler.timesteps):
            model_output = self._model(scheduler.scale_model_input(sample, t), t)
            calls += 1
            prev_sample = scheduler.step(model_output, t, sample, generator=generators).prev_sample
            if prev_sample.shape != sample.shape:
                raise SamplingError(
                    f"{self.label}: step {k + 1} (timestep {int(t)}) returned shape {tuple(prev_sample.shape)} "
                    f"for a sample of shape {tuple(sample.shape)}"
                )
            sample = prev_sample
            if not torch.isfinite(sample).all():
                raise SamplingError(
                    f"{self.label}: non-finite values after step {k + 1}/{len(scheduler.timesteps)} (timestep {int(t)})"
                )
            if bar is not None:
                bar.update(1)
            if self.on_call is not None:
                self.on_call(len(generators))
        if self.stats.nfe not in (None, calls):
            raise SamplingError(f"{self.label}: model calls changed between batches ({self.stats.nfe} then {calls})")
        self.stats.nfe = calls
        return sample

    def stream(self, n: int, seed: int = 0, indices: Optional[Sequence[int]] = None) -> Iterator[SampledBatch]:
        """Samples ``indices`` (default 0..n-1) in batches, yielding uint8 images as each batch finishes."""
        positive_int(n, "number of samples")
        indices = list(range(n)) if indices is None else list(indices)
        batches = chunks(indices, self.batch_size)
        bar = None
        if self.progress:
            from tqdm import tqdm

            bar = tqdm(total=len(batches) * self.timesteps_per_batch, desc=self.label, unit="call", leave=False)
        try:
            with torch.inference_mode():
                if batches:
                    self._warm_up(len(batches[0]))
                for batch in batches:
                    generators = sample_generators(seed, batch)
                    _synchronize(self.device)
                    started = time.perf_counter()
                    sample = self._sample_batch(generators, bar)
                    _synchronize(self.device)
                    self.stats.batch_seconds.append(time.perf_counter() - started)
                    self.stats.batch_sizes.append(len(batch))
                    yield SampledBatch(batch, to_uint8(sample).cpu())
        finally:
            if bar is not None:
                bar.close()


def sample_images(sampler: Sampler, n: int, seed: int = 0) -> torch.Tensor:
    """All N images of a run at once (uint8, N x C x H x W); use ``Sampler.stream`` for large N."""
    return torch.cat([batch.images for batch in sampler.stream(n, seed)])
