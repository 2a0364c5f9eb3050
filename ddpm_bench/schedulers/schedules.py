"""Noise (beta) schedules and inference timestep grids shared by every scheduler.

Names and formulas follow diffusers so that a diffusers ``scheduler_config.json`` means the same thing here.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ddpm_bench.errors import ConfigError

BETA_SCHEDULES = ("linear", "scaled_linear", "squaredcos_cap_v2")
TIMESTEP_SPACINGS = ("leading", "trailing", "linspace", "quadratic")


def cosine_betas(num_train_timesteps: int, max_beta: float = 0.999) -> torch.Tensor:
    """Betas of the cosine schedule, Nichol & Dhariwal 2021 eq. (17):
    alpha_bar(t) = cos^2(((t/T + s)/(1 + s)) * pi/2), s = 0.008.

    beta_t = min(1 - alpha_bar(t+1)/alpha_bar(t), max_beta), computed in float64 and stored as float32 as diffusers
    does.
    """

    def alpha_bar(t: float) -> float:
        return math.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2

    betas = [
        min(1 - alpha_bar((i + 1) / num_train_timesteps) / alpha_bar(i / num_train_timesteps), max_beta)
        for i in range(num_train_timesteps)
    ]
    return torch.tensor(betas, dtype=torch.float32)


def make_betas(
    beta_schedule: str, num_train_timesteps: int, beta_start: float, beta_end: float, trained_betas=None
) -> torch.Tensor:
    """The forward-process variances beta_1..beta_T (DDPM paper, Ho et al. 2020, section 2).

    ``linear`` is the DDPM paper's schedule (section 4: 1e-4 to 0.02 over T = 1000); ``scaled_linear`` is linear in
    sqrt(beta) (latent diffusion); ``squaredcos_cap_v2`` is the cosine schedule.
    """
    if trained_betas is not None:
        betas = torch.tensor(trained_betas, dtype=torch.float32)
        if betas.ndim != 1 or len(betas) != num_train_timesteps:
            raise ConfigError(f"trained_betas must be a list of num_train_timesteps={num_train_timesteps} numbers")
        return betas
    if beta_schedule == "linear":
        return torch.linspace(beta_start, beta_end, num_train_timesteps, dtype=torch.float32)
    if beta_schedule == "scaled_linear":
        return torch.linspace(beta_start**0.5, beta_end**0.5, num_train_timesteps, dtype=torch.float32) ** 2
    if beta_schedule == "squaredcos_cap_v2":
        return cosine_betas(num_train_timesteps)
    raise ConfigError(f"beta_schedule {beta_schedule!r} is not one of {', '.join(BETA_SCHEDULES)}")


def timestep_grid(
    spacing: str, num_train_timesteps: int, num_inference_steps: int, steps_offset: int = 0
) -> np.ndarray:
    """The descending training timesteps at which an ``num_inference_steps``-step sampler evaluates the model.

    - ``leading``: 0, T//n, 2T//n, ... plus ``steps_offset`` (DDIM paper's uniform grid, section 4.2 / Appendix D.2);
    - ``trailing``: round(T - k*T/n) - 1, so the first step starts at t = T-1 (Lin et al. 2024, table 2);
    - ``linspace``: n points evenly spread over [0, T-1], rounded;
    - ``quadratic``: floor((i * sqrt(0.8 T)/(n-1))^2), the DDIM paper's CIFAR-10 grid (Appendix D.2, its code's
      ``skip_type="quad"``), plus ``steps_offset``.

    Raises ConfigError when the grid would repeat a timestep or leave [0, T-1].
    """
    T, n = num_train_timesteps, num_inference_steps
    if spacing == "leading":
        grid = (np.arange(0, n) * (T // n)).round()[::-1].astype(np.int64) + steps_offset
    elif spacing == "trailing":
        grid = np.round(np.arange(T, 0, -T / n)).astype(np.int64) - 1
    elif spacing == "linspace":
        grid = np.linspace(0, T - 1, n).round()[::-1].astype(np.int64)
    elif spacing == "quadratic":
        grid = (np.linspace(0, np.sqrt(T * 0.8), n) ** 2).astype(np.int64)[::-1] + steps_offset
    else:
        raise ConfigError(f"timestep_spacing {spacing!r} is not one of {', '.join(TIMESTEP_SPACINGS)}")
    grid = np.ascontiguousarray(grid)
    if len(grid) != n or np.any(np.diff(grid) >= 0):
        raise ConfigError(
            f"timestep_spacing={spacing!r} gives repeated timesteps for {n} steps of T={T}; "
            "use fewer steps or another spacing"
        )
    if grid[0] > T - 1 or grid[-1] < 0:
        raise ConfigError(
            f"timestep_spacing={spacing!r} with steps_offset={steps_offset} "
            f"puts timestep {int(grid[0])} outside [0, {T - 1}] "
            f"for {n} steps"
        )
    return grid
