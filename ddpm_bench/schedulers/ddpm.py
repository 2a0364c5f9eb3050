"""DDPM ancestral sampling (Ho et al. 2020, "Denoising Diffusion Probabilistic Models", Algorithm 2).

Each step draws x_{t'} ~ q(x_{t'} | x_t, x_0 = x_0_hat) for the next grid point t' < t, with the posterior of
eq. (6)-(7) written for a strided grid: alpha_t := alpha_bar_t / alpha_bar_{t'} and beta_t := 1 - alpha_t.

Difference from diffusers (0.42) on purpose: no noise is added on the final step (t' = -1), as Algorithm 2 says
("z = 0 if t = 1"). diffusers adds noise whenever t > 0, so under ``timestep_spacing="trailing"`` (last t = T/n - 1)
or with ``steps_offset`` its final image carries fresh noise: of variance beta_t with ``fixed_large`` (with
``fixed_small`` the final beta_tilde is 0, so there the two agree).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Optional

import torch

from ddpm_bench.errors import ConfigError
from ddpm_bench.hookspecs import hookimpl
from ddpm_bench.schedulers.base import BaseScheduler, Generator, randn_like_batch, step_output
from ddpm_bench.schedulers.config import ClippingConfig

VarianceType = Literal["fixed_small", "fixed_large", "learned", "learned_range"]


@dataclass(frozen=True)
class DDPMConfig(ClippingConfig):
    """DDPM options: diffusers' names and defaults."""

    variance_type: VarianceType = "fixed_small"


class DDPMScheduler(BaseScheduler):
    """DDPM ancestral sampler with the fixed (sigma^2 = beta_tilde or beta) or learned variances."""

    config_class = DDPMConfig

    def _variance(self, alpha_prod_t, alpha_prod_t_prev, predicted_variance):
        """sigma_t^2 (DDPM section 3.2): ``fixed_small`` is beta_tilde_t = (1 - alpha_bar_{t'})/(1 - alpha_bar_t) beta_t
        (eq. 7), ``fixed_large`` is beta_t; ``learned`` takes the model's variance as is; ``learned_range``
        interpolates log-variances, Sigma = exp(v log beta_t + (1 - v) log beta_tilde_t) with v = (out + 1)/2
        (Nichol & Dhariwal 2021, eq. 15). Returns the variance."""
        current_beta_t = 1 - alpha_prod_t / alpha_prod_t_prev
        beta_tilde = torch.clamp((1 - alpha_prod_t_prev) / (1 - alpha_prod_t) * current_beta_t, min=1e-20)
        kind = self.config.variance_type
        if kind == "fixed_small":
            return beta_tilde
        if kind == "fixed_large":
            return current_beta_t
        if kind == "learned":
            return predicted_variance
        frac = (predicted_variance + 1) / 2
        return torch.exp(frac * torch.log(current_beta_t) + (1 - frac) * torch.log(beta_tilde))

    def step(
        self,
        model_output: torch.Tensor,
        timestep: Any,
        sample: torch.Tensor,
        generator: Generator = None,
        return_dict: bool = True,
    ):
        t = int(timestep)
        prev_t = self.previous_timestep(t)
        learned = self.config.variance_type in ("learned", "learned_range")
        predicted_variance: Optional[torch.Tensor] = None
        if model_output.shape[1] == 2 * sample.shape[1]:
            model_output, predicted_variance = torch.split(model_output, sample.shape[1], dim=1)
        elif learned:
            raise ConfigError(
                f"variance_type={self.config.variance_type!r} needs a model that outputs 2x{sample.shape[1]} channels "
                f"(mean and variance), got {model_output.shape[1]}; use variance_type='fixed_small'"
            )

        alpha_prod_t = self.alphas_cumprod[t]
        alpha_prod_t_prev = self.alpha_bar(prev_t, self.one)
        beta_prod_t = 1 - alpha_prod_t
        beta_prod_t_prev = 1 - alpha_prod_t_prev
        current_alpha_t = alpha_prod_t / alpha_prod_t_prev
        current_beta_t = 1 - current_alpha_t

        # x_0 prediction (eq. 15), then clipping to the data range as in the paper's code.
        pred_original_sample, _ = self.predict_x0_and_eps(model_output, sample, alpha_prod_t)
        pred_original_sample = self.clip_x0(pred_original_sample)

        # Posterior mean mu_tilde(x_t, x_0) of eq. (7).
        pred_original_sample_coeff = (alpha_prod_t_prev ** (0.5) * current_beta_t) / beta_prod_t
        current_sample_coeff = current_alpha_t ** (0.5) * beta_prod_t_prev / beta_prod_t
        pred_prev_sample = pred_original_sample_coeff * pred_original_sample + current_sample_coeff * sample

        # x_{t'} = mu_tilde + sigma_t z, z ~ N(0, I); z = 0 on the final step (Algorithm 2, line 3).
        if prev_t >= 0:
            noise = randn_like_batch(model_output, generator)
            variance = self._variance(alpha_prod_t, alpha_prod_t_prev, predicted_variance)
            pred_prev_sample = pred_prev_sample + (variance**0.5) * noise
        return step_output(pred_prev_sample, pred_original_sample, return_dict)


@hookimpl
def register_schedulers(register):
    register("ddpm", DDPMScheduler, "DDPM ancestral sampling (Ho et al. 2020), stochastic, NFE = steps")
