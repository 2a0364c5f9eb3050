"""PNDM: pseudo numerical methods for diffusion models (Liu, Ren, Lin & Zhao 2022, ICLR).

The transfer part phi (eq. 11) moves x from t to t' given a noise estimate e:

    x_{t'} = sqrt(alpha_bar_{t'}/alpha_bar_t) x_t
             - (alpha_bar_{t'} - alpha_bar_t) e
               / (alpha_bar_t sqrt(1 - alpha_bar_{t'}) + sqrt(alpha_bar_t (1 - alpha_bar_t) alpha_bar_{t'}))

The gradient part combines noise estimates: F-PNDM (``skip_prk_steps=False``) warms up with three pseudo Runge-Kutta
steps (eq. 13, four model calls each, at t, the midpoint, the midpoint and t') and then runs the pseudo linear
multistep method (eq. 12: e' = (55 e_t - 59 e_{t-1} + 37 e_{t-2} - 9 e_{t-3}) / 24), so n steps cost n + 9 model calls.
S-PNDM / PLMS (``skip_prk_steps=True``) starts with a pseudo improved Euler step and lower-order linear multistep
formulas instead (n + 1 calls), as diffusers does.

Difference from diffusers (0.42) on purpose: every step (and each Runge-Kutta midpoint) is measured on the grid
itself; diffusers uses t - T//n (and T//n//2), which is wrong for ``linspace`` and ``trailing`` spacings when n does
not divide T. For ``leading`` spacing the two agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ddpm_bench.errors import ConfigError
from ddpm_bench.hookspecs import hookimpl
from ddpm_bench.schedulers.base import BaseScheduler, Generator, step_output
from ddpm_bench.schedulers.config import SchedulerConfig

RK_WARMUP_STEPS = 3


@dataclass(frozen=True)
class PNDMConfig(SchedulerConfig):
    """PNDM options: diffusers' names and defaults."""

    skip_prk_steps: bool = False
    set_alpha_to_one: bool = False


class PNDMScheduler(BaseScheduler):
    """F-PNDM (Runge-Kutta warm-up, then 4th-order linear multistep) or S-PNDM/PLMS."""

    config_class = PNDMConfig
    #: measured by ``ddpm-bench check``: about 2.5 over 20-250 steps, tending to 2.0 (500 -> 1000 steps). The linear
    #: multistep formula of eq. (12) is fourth order for a grid uniform in the ODE's own variable; the grid is uniform
    #: in t, not in sigma_bar = sqrt((1 - alpha_bar) / alpha_bar), and averaging the noise estimates with equal
    #: weights in t where the transfer integrates in sigma_bar leaves a second-order term.
    convergence_order = 2

    def nfe(self, num_inference_steps: int) -> int:
        """F-PNDM: 4 calls in each of the 3 Runge-Kutta steps, then one per step (n + 9); PLMS: one more call for its
        first step's improved Euler (n + 1, or 1 for a single step)."""
        if self.config.skip_prk_steps:
            return num_inference_steps + 1 if num_inference_steps > 1 else 1
        return num_inference_steps + 3 * RK_WARMUP_STEPS

    def reset(self) -> None:
        """Clear the Runge-Kutta accumulator and the multistep history of earlier epsilons."""
        self.ets: list[torch.Tensor] = []
        self.counter = 0
        self.cur_model_output: Any = 0
        self.cur_sample = None
        self.num_prk_calls = 0

    def set_timesteps(self, num_inference_steps: int, device: Any = None) -> None:
        """Model-call timesteps: for F-PNDM each of the first three grid intervals [g_k, g_{k+1}] is visited at
        g_k, m_k, m_k, g_{k+1} (m_k its midpoint), then g_3, ..., g_{n-1}; for PLMS g_0, g_1, g_1, g_2, ..., g_{n-1}."""
        grid = self.set_grid(num_inference_steps)
        self.reset()
        if self.config.skip_prk_steps:
            calls = np.concatenate([grid[:1], grid[1:2], grid[1:]]) if len(grid) > 1 else grid
        else:
            if len(grid) <= RK_WARMUP_STEPS:
                raise ConfigError(
                    f"pndm needs at least {RK_WARMUP_STEPS + 1} steps for its Runge-Kutta warm-up, got {len(grid)}; "
                    "use more steps or pndm:skip_prk_steps=true"
                )
            # m_k = g_{k+1} + (g_k - g_{k+1}) // 2: the midpoint, rounded towards g_k as diffusers rounds it.
            self._midpoints = {
                int(g): int(grid[k + 1] + (g - grid[k + 1]) // 2) for k, g in enumerate(grid[:RK_WARMUP_STEPS])
            }
            prk = [t for k in range(RK_WARMUP_STEPS) for t in self._prk_calls(grid, k)]
            self.num_prk_calls = len(prk)
            calls = np.concatenate([np.array(prk, dtype=np.int64), grid[RK_WARMUP_STEPS:]])
        self._grid_points = grid
        self.timesteps = torch.from_numpy(calls.astype(np.int64)).to(device)

    def _prk_calls(self, grid: np.ndarray, k: int) -> list[int]:
        start = int(grid[k])
        mid = self._midpoints[start]
        return [start, mid, mid, int(grid[k + 1])]

    def _transfer(self, sample, timestep: int, prev_timestep: int, eps):
        """The transfer part phi(x_t, e, t, t') of eq. (11)."""
        alpha_prod_t = self.alphas_cumprod[timestep]
        alpha_prod_t_prev = self.alpha_bar(prev_timestep, self.final_alpha_cumprod)
        beta_prod_t = 1 - alpha_prod_t
        beta_prod_t_prev = 1 - alpha_prod_t_prev
        sample_coeff = (alpha_prod_t_prev / alpha_prod_t) ** (0.5)
        model_output_denom_coeff = alpha_prod_t * beta_prod_t_prev ** (0.5) + (
            alpha_prod_t * beta_prod_t * alpha_prod_t_prev
        ) ** (0.5)
        return sample_coeff * sample - (alpha_prod_t_prev - alpha_prod_t) * eps / model_output_denom_coeff

    def step(
        self, model_output: torch.Tensor, timestep: Any, sample: torch.Tensor, generator: Generator = None,
        return_dict: bool = True,
    ):
        """Deterministic: ``generator`` is accepted for the protocol and unused."""
        t = int(timestep)
        alpha_prod_t = self.alphas_cumprod[t]
        pred_original_sample, eps = self.predict_x0_and_eps(model_output, sample, alpha_prod_t)
        if self.counter < self.num_prk_calls:
            prev_sample = self._step_prk(eps, t, sample)
        else:
            prev_sample = self._step_plms(eps, t, sample)
        self.counter += 1
        return step_output(prev_sample, pred_original_sample, return_dict)

    def _step_prk(self, eps, t: int, sample):
        """Pseudo Runge-Kutta (eq. 13): e' = (e1 + 2 e2 + 2 e3 + e4)/6, each stage transferred from x at g_k."""
        stage = self.counter % 4
        start = int(self._grid_points[self.counter // 4])
        mid, end = self._midpoints[start], self.previous_timestep(start)
        if stage == 0:
            self.cur_model_output = 1 / 6 * eps
            self.ets.append(eps)
            self.cur_sample = sample
        elif stage in (1, 2):
            self.cur_model_output += 1 / 3 * eps
        else:
            eps = self.cur_model_output + 1 / 6 * eps
            self.cur_model_output = 0
        target = mid if stage in (0, 1) else end
        return self._transfer(self.cur_sample, start, target, eps)

    def _step_plms(self, eps, t: int, sample):
        """Pseudo linear multistep (eq. 12) with lower orders while fewer past estimates exist."""
        prev_t = self.previous_timestep(t) if self.counter != 1 else t
        if self.counter != 1:
            self.ets = self.ets[-3:]
            self.ets.append(eps)
        else:
            # PLMS only: redo the first interval with the improved-Euler average of both ends' estimates.
            t = int(self._grid_points[0])
        ets = self.ets
        if len(ets) == 1 and self.counter == 0:
            self.cur_sample = sample
        elif len(ets) == 1 and self.counter == 1:
            eps = (eps + ets[-1]) / 2
            sample, self.cur_sample = self.cur_sample, None
        elif len(ets) == 2:
            eps = (3 * ets[-1] - ets[-2]) / 2
        elif len(ets) == 3:
            eps = (23 * ets[-1] - 16 * ets[-2] + 5 * ets[-3]) / 12
        else:
            eps = (1 / 24) * (55 * ets[-1] - 59 * ets[-2] + 37 * ets[-3] - 9 * ets[-4])
        return self._transfer(sample, t, prev_t, eps)


@hookimpl
def register_schedulers(register):
    register(
        "pndm",
        PNDMScheduler,
        "PNDM (Liu et al. 2022); F-PNDM with Runge-Kutta warm-up (NFE = steps + 9) or PLMS with skip_prk_steps=true",
    )
