"""DPM-Solver++(2M): Lu, Zhou, Bao, Chen, Li & Zhu 2022, "DPM-Solver++: Fast Solver for Guided Sampling of Diffusion
Probabilistic Models", Algorithm 2, for a discrete-time (VP) model.

With alpha_t = sqrt(alpha_bar_t), sigma_t = sqrt(1 - alpha_bar_t), lambda_t = log(alpha_t / sigma_t) and x_theta the
data prediction, one step from s = t_{i-1} to t = t_i with h_i = lambda_t - lambda_s is

    first order (DPM-Solver++ 1, eq. 5 / DDIM):  x_t = (sigma_t / sigma_s) x_s - alpha_t (e^{-h_i} - 1) x_theta(x_s, s)
    second order (2M):                           the same with x_theta replaced by
                                                 D_i = (1 + 1/(2 r_i)) x_theta(x_s, s) - 1/(2 r_i) x_theta(x_{s'}, s'),
                                                 r_i = h_{i-1} / h_i, s' = t_{i-2}.

The first step has no history and is first order. The last step ends at sigma = 0 (alpha_bar = 1), where h is
infinite and r_i = 0, so it is first order too and returns the data prediction (as diffusers' ``final_sigmas_type=
"zero"`` does). NFE = steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import torch

from ddpm_bench import BaseScheduler, ConfigError, SchedulerConfig, TimestepSpacing, hookimpl, step_output

__version__ = "0.1.0"


@dataclass(frozen=True)
class DPMSolverConfig(SchedulerConfig):
    """diffusers' names; ``trailing`` spacing by default (the grid starts at t = T - 1, Lin et al. 2024)."""

    timestep_spacing: TimestepSpacing = "trailing"
    solver_order: int = 2


class DPMSolverPlusPlus2M(BaseScheduler):
    config_class = DPMSolverConfig

    @property
    def convergence_order(self) -> int:
        """The solver's order (``solver_order``): 2M converges to the probability-flow solution like steps^-2 and the
        first-order solver (DDIM) like steps^-1, as ``ddpm-bench check dpmpp-2m`` measures."""
        return self.config.solver_order

    def __init__(self, **options: Any):
        super().__init__(**options)
        if self.config.solver_order not in (1, 2):
            raise ConfigError(f"dpmpp-2m: solver_order must be 1 or 2, got {self.config.solver_order}")

    def reset(self) -> None:
        """Forget the previous step's data prediction (``set_timesteps`` calls this): a new run starts first order."""
        self.previous_x0: Optional[torch.Tensor] = None
        self.previous_lambda: Optional[torch.Tensor] = None

    def _alpha_sigma_lambda(self, alpha_bar: torch.Tensor):
        alpha, sigma = alpha_bar**0.5, (1 - alpha_bar) ** 0.5
        return alpha, sigma, torch.log(alpha) - torch.log(sigma)

    def step(self, model_output, timestep, sample, generator=None, return_dict: bool = True):
        """Deterministic: ``generator`` is accepted for the protocol and unused."""
        s = int(timestep)
        t = self.previous_timestep(s)
        alpha_bar_s = self.alphas_cumprod[s]
        alpha_s, sigma_s, lambda_s = self._alpha_sigma_lambda(alpha_bar_s)
        alpha_t, sigma_t, lambda_t = self._alpha_sigma_lambda(self.alpha_bar(t, self.one))
        x0, _ = self.predict_x0_and_eps(model_output, sample, alpha_bar_s)
        h = lambda_t - lambda_s
        first_order = self.config.solver_order == 1 or self.previous_x0 is None or t < 0
        if first_order:
            d = x0
        else:
            r = (lambda_s - self.previous_lambda) / h
            d = (1 + 1 / (2 * r)) * x0 - (1 / (2 * r)) * self.previous_x0
        prev_sample = (sigma_t / sigma_s) * sample - (alpha_t * (torch.exp(-h) - 1.0)) * d
        self.previous_x0, self.previous_lambda = x0, lambda_s
        return step_output(prev_sample, x0, return_dict)


@hookimpl
def register_schedulers(register):
    register("dpmpp-2m", DPMSolverPlusPlus2M, "DPM-Solver++(2M) (Lu et al. 2022), deterministic multistep, NFE = steps")
