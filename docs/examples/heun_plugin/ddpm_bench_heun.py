"""Heun's second-order sampler (Karras, Aittala, Aila & Laine 2022, "Elucidating the Design Space of Diffusion-Based
Generative Models", Algorithm 1, deterministic) for a discrete-time (DDPM) model.

The probability-flow ODE in DDIM's variables (Song et al. 2021, eq. 14), x_bar = x / sqrt(alpha_bar) and
sigma = sqrt((1 - alpha_bar) / alpha_bar), is dx_bar / dsigma = eps(x, t): Karras et al.'s ODE with d = eps. One step
from grid point t (sigma_i) to the next, t' (sigma_{i+1}):

    predictor (Euler):     x_bar' = x_bar + (sigma_{i+1} - sigma_i) eps(x, t)
    corrector (trapezoid): x_bar' = x_bar + (sigma_{i+1} - sigma_i) (eps(x, t) + eps(x', t')) / 2

The corrector needs a second model call, at t', so ``timesteps`` lists t' twice: once for the corrector of the step
that ends there and once for the predictor of the step that starts there. The last step ends at sigma = 0 (clean
data) and has no corrector (Algorithm 1, line 7), so n steps cost 2n - 1 model calls.
"""

from dataclasses import dataclass
from typing import Any

import torch

from ddpm_bench import BaseScheduler, SchedulerConfig, hookimpl, step_output

__version__ = "0.1.0"


@dataclass(frozen=True)
class HeunConfig(SchedulerConfig):
    """diffusers' option names; no options of its own."""


class HeunScheduler(BaseScheduler):
    config_class = HeunConfig
    order = 2  # model calls per step, as diffusers counts them
    convergence_order = 2  # what `ddpm-bench check heun` measures: the error falls like steps^-2

    def nfe(self, num_inference_steps: int) -> int:
        return 2 * num_inference_steps - 1

    def reset(self) -> None:
        """Forget a predictor whose corrector has not run yet (``set_timesteps`` calls this)."""
        self.pending = None  # (x_bar, eps, sigma) at the start of the step the predictor began

    def set_timesteps(self, num_inference_steps: int, device: Any = None) -> None:
        """g_0, g_1, g_1, g_2, g_2, ..., g_{n-1}, g_{n-1}: every grid point after the first once per model call."""
        grid = torch.from_numpy(self.set_grid(num_inference_steps).copy())
        self.timesteps = torch.cat([grid[:1], grid[1:].repeat_interleave(2)]).to(device)
        self.reset()

    def sigma(self, alpha_bar: torch.Tensor) -> torch.Tensor:
        return ((1 - alpha_bar) / alpha_bar) ** 0.5

    def slope(self, eps_start: torch.Tensor, eps_end: torch.Tensor) -> torch.Tensor:
        """The corrector's slope: the trapezoidal rule, the mean of both ends' (Algorithm 1, line 10)."""
        return (eps_start + eps_end) / 2

    def step(self, model_output, timestep, sample, generator=None, return_dict: bool = True):
        """A predictor when no step is pending, else the corrector of the pending one. Deterministic: ``generator``
        is accepted for the protocol and unused."""
        t = int(timestep)
        alpha_bar = self.alphas_cumprod[t]
        x0, eps = self.predict_x0_and_eps(model_output, sample, alpha_bar)
        if self.pending is None:
            t_next = self.previous_timestep(t)
            alpha_bar_next = self.alpha_bar(t_next, self.one)
            x_bar, sigma = sample / alpha_bar**0.5, self.sigma(alpha_bar)
            x_bar_next = x_bar + (self.sigma(alpha_bar_next) - sigma) * eps
            if t_next >= 0:  # the last step, to sigma = 0, stays Euler
                self.pending = (x_bar, eps, sigma)
            return step_output(alpha_bar_next**0.5 * x_bar_next, x0, return_dict)
        x_bar, eps_start, sigma_start = self.pending
        self.pending = None
        x_bar_next = x_bar + (self.sigma(alpha_bar) - sigma_start) * self.slope(eps_start, eps)
        return step_output(alpha_bar**0.5 * x_bar_next, x0, return_dict)


@hookimpl
def register_schedulers(register):
    register("heun", HeunScheduler, "Heun's 2nd-order sampler (Karras et al. 2022, Alg. 1), NFE = 2 steps - 1")
