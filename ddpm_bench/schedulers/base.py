"""The scheduler protocol (diffusers-compatible) and the machinery the built-in schedulers share.

Protocol, as the sampling loop uses it:

- ``Scheduler(**config)`` with diffusers' option names; ``scheduler.config`` holds the checked options;
- ``set_timesteps(num_inference_steps, device=None)`` resets all state; afterwards ``timesteps`` holds one entry per
  model call, so ``len(timesteps)`` is the number of function evaluations (NFE);
- ``step(model_output, timestep, sample, generator=None)`` returns a ``SchedulerOutput`` with ``prev_sample`` and
  ``pred_original_sample``. ``generator`` is a ``torch.Generator`` or a list of them, one per batch row;
- ``add_noise(original_samples, noise, timesteps)``, ``scale_model_input(sample, timestep)``, ``init_noise_sigma``.

Notation in the docstrings: alpha_bar_t = prod_{s<=t}(1 - beta_s) (DDPM paper, Ho et al. 2020, eq. 4; written alpha_t
in the DDIM paper, Song et al. 2021).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Sequence, Union

import numpy as np
import torch

from ddpm_bench.errors import ConfigError
from ddpm_bench.schedulers.config import SchedulerConfig, build_config
from ddpm_bench.schedulers.schedules import make_betas, timestep_grid

Generator = Union[torch.Generator, Sequence[torch.Generator], None]


@dataclass
class SchedulerOutput:
    """What ``step`` returns: x_{t-1} and the step's prediction of x_0."""

    prev_sample: torch.Tensor
    pred_original_sample: Optional[torch.Tensor] = None

    def __iter__(self):
        return iter((self.prev_sample, self.pred_original_sample))


def step_output(prev_sample: torch.Tensor, pred_original_sample: Optional[torch.Tensor], return_dict: bool = True):
    """What ``step`` returns: a ``SchedulerOutput``, or diffusers' tuple ``(prev_sample,)`` when not ``return_dict``."""
    if return_dict:
        return SchedulerOutput(prev_sample=prev_sample, pred_original_sample=pred_original_sample)
    return (prev_sample,)


def randn_like_batch(sample: torch.Tensor, generator: Generator) -> torch.Tensor:
    """Standard normal noise shaped like ``sample``, drawn as diffusers' ``randn_tensor`` draws it.

    One generator: a single ``torch.randn(sample.shape, generator=...)``. A list: row i is drawn from generator i, so a
    sample's noise does not depend on which batch it is in. Noise is drawn on the generator's device, then moved.
    """
    if isinstance(generator, (list, tuple)):
        if len(generator) != sample.shape[0]:
            raise ConfigError(f"got {len(generator)} generators for a batch of {sample.shape[0]}; pass one per row")
        rows = [
            torch.randn((1, *sample.shape[1:]), generator=g, device=g.device, dtype=sample.dtype) for g in generator
        ]
        return torch.cat(rows).to(sample.device)
    device = generator.device if generator is not None else sample.device
    return torch.randn(sample.shape, generator=generator, device=device, dtype=sample.dtype).to(sample.device)


class BaseScheduler:
    """Shared state and helpers: betas, alpha_bar, the timestep grid, add_noise, x_0 prediction, clipping.

    Attributes a subclass reads: ``config`` (the checked options, an instance of ``config_class``); ``betas``,
    ``alphas`` and ``alphas_cumprod`` (beta_t, 1 - beta_t and alpha_bar_t for t = 0..T-1, float32 tensors as in
    diffusers); ``one`` (a tensor 1.0: alpha_bar of clean data, for a last step that ends at x_0);
    ``final_alpha_cumprod`` (alpha_bar after the last step: ``one``, or alpha_bar_0 when the config has
    ``set_alpha_to_one=False``); ``init_noise_sigma`` (1: x_T ~ N(0, I)); ``num_inference_steps`` and ``timesteps``
    (after ``set_timesteps``).
    """

    config_class: type = SchedulerConfig
    #: model calls per step, as diffusers means it (2 for Heun); the loop counts calls itself, this is for diffusers
    order = 1
    #: the order of convergence to the probability-flow ODE solution that ``ddpm-bench check`` expects to measure (a
    #: deterministic sampler's global error falls like steps^-convergence_order); stochastic samplers ignore it
    convergence_order = 1

    def __init__(self, **options: Any):
        self.config = build_config(self.config_class, options, type(self).__name__)
        cfg = self.config
        self.betas = make_betas(
            cfg.beta_schedule, cfg.num_train_timesteps, cfg.beta_start, cfg.beta_end, cfg.trained_betas
        )
        self.alphas = 1.0 - self.betas
        self.alphas_cumprod = torch.cumprod(self.alphas, dim=0)
        self.one = torch.tensor(1.0)
        self.init_noise_sigma = 1.0
        self.num_inference_steps: Optional[int] = None
        self.timesteps = torch.from_numpy(np.arange(0, cfg.num_train_timesteps)[::-1].copy())
        self._prev = {t: t - 1 for t in range(cfg.num_train_timesteps)}
        # alpha_bar after the last step (diffusers' ``set_alpha_to_one``): 1, a clean image, or alpha_bar_0.
        set_alpha_to_one = getattr(cfg, "set_alpha_to_one", True)
        self.final_alpha_cumprod = self.one if set_alpha_to_one else self.alphas_cumprod[0]
        self.reset()

    # -- timesteps -------------------------------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget what earlier steps left behind (a multistep method's history); ``set_timesteps`` calls it. The
        built-in one-step methods keep nothing."""

    def nfe(self, num_inference_steps: int) -> int:
        """The number of model calls (function evaluations) a run of ``num_inference_steps`` steps makes: the length
        of ``timesteps`` after ``set_timesteps``. One per step here; a sampler with more calls per step overrides it
        (Heun, Karras et al. 2022 Alg. 1: 2n - 1), and ``ddpm-bench check`` counts the calls against it."""
        return num_inference_steps

    def set_timesteps(self, num_inference_steps: int, device: Any = None) -> None:
        """One model call per grid point, so NFE = num_inference_steps; resets all state."""
        self.timesteps = torch.from_numpy(self.set_grid(num_inference_steps).copy()).to(device)
        self.reset()

    def check_steps(self, num_inference_steps: Any) -> int:
        """``num_inference_steps`` as an int in 1..num_train_timesteps, or a one-line ConfigError."""
        T = self.config.num_train_timesteps
        if isinstance(num_inference_steps, bool) or not isinstance(num_inference_steps, (int, np.integer)):
            raise ConfigError(f"num_inference_steps must be an integer, got {num_inference_steps!r}")
        if not 1 <= num_inference_steps <= T:
            raise ConfigError(f"num_inference_steps={num_inference_steps} is outside 1..num_train_timesteps={T}")
        return int(num_inference_steps)

    def set_grid(self, num_inference_steps: Any) -> np.ndarray:
        """Validate the step count, build the descending grid of the configured ``timestep_spacing``, and map each
        grid point to the one after it (-1 after the last; ``previous_timestep`` reads it)."""
        n = self.check_steps(num_inference_steps)
        cfg = self.config
        grid = timestep_grid(cfg.timestep_spacing, cfg.num_train_timesteps, n, cfg.steps_offset)
        self.num_inference_steps = n
        self._prev = {int(t): int(p) for t, p in zip(grid, [*grid[1:], -1])}
        return grid

    def previous_timestep(self, timestep: Any) -> int:
        """The grid point after ``timestep`` (-1 after the last), read from the grid itself, whatever the spacing."""
        t = int(timestep)
        if t not in self._prev:
            raise ConfigError(
                f"timestep {t} is not on this scheduler's grid; "
                "call set_timesteps() and step through .timesteps in order"
            )
        return self._prev[t]

    # -- protocol helpers ------------------------------------------------------------------------------------------
    def scale_model_input(self, sample: torch.Tensor, timestep: Any = None) -> torch.Tensor:
        """DDPM-family schedulers feed x_t to the model unchanged."""
        return sample

    def add_noise(self, original_samples: torch.Tensor, noise: torch.Tensor, timesteps: torch.Tensor) -> torch.Tensor:
        """Sample q(x_t | x_0) = N(sqrt(alpha_bar_t) x_0, (1 - alpha_bar_t) I): DDPM paper eq. (4).

        ``timesteps`` holds one timestep per batch row (or one for all); the coefficients broadcast over the rest.
        """
        alphas_cumprod = self.alphas_cumprod.to(device=original_samples.device, dtype=original_samples.dtype)
        timesteps = torch.as_tensor(timesteps, device=original_samples.device).long()
        if timesteps.numel() and (timesteps.min() < 0 or timesteps.max() >= len(alphas_cumprod)):
            raise ConfigError(f"add_noise timesteps must lie in [0, {len(alphas_cumprod) - 1}]")
        shape = (-1,) + (1,) * (original_samples.ndim - 1)
        sqrt_alpha_prod = (alphas_cumprod[timesteps] ** 0.5).flatten().reshape(shape)
        sqrt_one_minus_alpha_prod = ((1 - alphas_cumprod[timesteps]) ** 0.5).flatten().reshape(shape)
        return sqrt_alpha_prod * original_samples + sqrt_one_minus_alpha_prod * noise

    def alpha_bar(self, timestep: int, final: torch.Tensor) -> torch.Tensor:
        """alpha_bar at ``timestep``; ``final`` stands in for alpha_bar_{-1} (the value after the last step)."""
        return self.alphas_cumprod[timestep] if timestep >= 0 else final

    def predict_x0_and_eps(self, model_output: torch.Tensor, sample: torch.Tensor, alpha_prod_t: torch.Tensor):
        """Read x_0 and epsilon off the model output for the configured ``prediction_type``.

        epsilon: x_0 = (x_t - sqrt(1 - alpha_bar_t) eps) / sqrt(alpha_bar_t) (DDPM eq. 15, DDIM eq. 9);
        sample: the model predicts x_0 and eps follows from the same identity;
        v_prediction: v = sqrt(alpha_bar_t) eps - sqrt(1 - alpha_bar_t) x_0 (Salimans & Ho 2022, section 4), so
        x_0 = sqrt(alpha_bar_t) x_t - sqrt(1 - alpha_bar_t) v and eps = sqrt(alpha_bar_t) v + sqrt(1 - alpha_bar_t) x_t.
        """
        beta_prod_t = 1 - alpha_prod_t
        kind = self.config.prediction_type
        if kind == "epsilon":
            return (sample - beta_prod_t ** (0.5) * model_output) / alpha_prod_t ** (0.5), model_output
        if kind == "sample":
            return model_output, (sample - alpha_prod_t ** (0.5) * model_output) / beta_prod_t ** (0.5)
        return (
            (alpha_prod_t**0.5) * sample - (beta_prod_t**0.5) * model_output,
            (alpha_prod_t**0.5) * model_output + (beta_prod_t**0.5) * sample,
        )

    def clip_x0(self, pred_original_sample: torch.Tensor) -> torch.Tensor:
        """Dynamic thresholding (Imagen, Saharia et al. 2022, section 2.3) when ``thresholding``; else clipping to
        [-clip_sample_range, clip_sample_range] when ``clip_sample``."""
        cfg = self.config
        if getattr(cfg, "thresholding", False):
            return self.threshold_sample(pred_original_sample)
        if getattr(cfg, "clip_sample", False):
            return pred_original_sample.clamp(-cfg.clip_sample_range, cfg.clip_sample_range)
        return pred_original_sample

    def threshold_sample(self, sample: torch.Tensor) -> torch.Tensor:
        """Imagen's dynamic thresholding: s = the ``dynamic_thresholding_ratio`` quantile of |x_0| per sample, clamped
        to [1, sample_max_value]; x_0 <- clamp(x_0, -s, s) / s."""
        dtype = sample.dtype
        batch_size = sample.shape[0]
        flat = sample.reshape(batch_size, -1)
        if dtype not in (torch.float32, torch.float64):
            flat = flat.float()
        s = torch.quantile(flat.abs(), self.config.dynamic_thresholding_ratio, dim=1)
        s = torch.clamp(s, min=1, max=self.config.sample_max_value).unsqueeze(1)
        return (torch.clamp(flat, -s, s) / s).reshape(sample.shape).to(dtype)

    def __len__(self) -> int:
        return self.config.num_train_timesteps

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.config})"
