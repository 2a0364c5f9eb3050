"""A diffusion problem with a known answer, for checking a sampler's mathematics without a trained model.

The data are a small non-isotropic Gaussian mixture p_0 = sum_k w_k N(m_k, C_k). Under the forward process
x_t = sqrt(alpha_bar) x_0 + sqrt(1 - alpha_bar) eps (DDPM eq. 4) every marginal is a mixture again,
p_t = sum_k w_k N(sqrt(alpha_bar) m_k, alpha_bar C_k + (1 - alpha_bar) I), so the ideal noise prediction
eps*(x, t) = -sqrt(1 - alpha_bar) grad log p_t(x) is closed-form: a model that makes no error.

With it the probability-flow ODE (DDIM eq. 14, dx_bar = eps*(x, t) dsigma_bar with x_bar = x / sqrt(alpha_bar) and
sigma_bar = sqrt((1 - alpha_bar) / alpha_bar)) is integrated to tight tolerance, giving the exact solution a
deterministic sampler converges to. On N(0, I) data every x_t is N(0, I), eps* = sqrt(1 - alpha_bar) x and DDIM is
exact, so the mixture's components have unequal means and covariances (the flow bends). Everything is float64.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import numpy as np
import torch
from scipy.integrate import solve_ivp

from ddpm_bench.schedulers.schedules import make_betas

ODE_TOLERANCE = 1e-11


@dataclass
class GaussianMixture:
    """Weights (K,), means (K, D) and covariances (K, D, D) of a mixture, float64."""

    weights: np.ndarray
    means: np.ndarray
    covariances: np.ndarray
    _eig: tuple = field(init=False, repr=False)

    def __post_init__(self):
        values, vectors = np.linalg.eigh(self.covariances)
        self._eig = (values, vectors)

    @property
    def dim(self) -> int:
        return self.means.shape[1]

    def mean(self) -> np.ndarray:
        return self.weights @ self.means

    def covariance(self) -> np.ndarray:
        """Law of total covariance: E[C_k] + Cov[m_k]."""
        centred = self.means - self.mean()
        return np.einsum("k,kij->ij", self.weights, self.covariances) + np.einsum("k,ki,kj->ij", self.weights,
                                                                                 centred, centred)

    def eps(self, x: np.ndarray, alpha_bar: float) -> np.ndarray:
        """eps*(x, t) = -sqrt(1 - alpha_bar) grad log p_t(x) for x of shape (N, D): each component's
        -(S_k)^{-1} (x - sqrt(alpha_bar) m_k) with S_k = alpha_bar C_k + (1 - alpha_bar) I, weighted by its posterior
        responsibility (log-sum-exp for stability)."""
        values, vectors = self._eig
        variances = alpha_bar * values + (1 - alpha_bar)  # (K, D): S_k's eigenvalues, in C_k's eigenbasis
        centred = x[:, None, :] - np.sqrt(alpha_bar) * self.means[None]  # (N, K, D)
        rotated = np.einsum("nkd,kde->nke", centred, vectors)
        log_density = (np.log(self.weights) - 0.5 * np.log(variances).sum(1))[None] - 0.5 * (
            rotated**2 / variances[None]).sum(2)
        responsibility = np.exp(log_density - log_density.max(1, keepdims=True))
        responsibility /= responsibility.sum(1, keepdims=True)
        score = -np.einsum("nke,kde->nkd", rotated / variances[None], vectors)
        return -np.sqrt(1 - alpha_bar) * np.einsum("nk,nkd->nd", responsibility, score)

    def sample(self, n: int, seed: int) -> np.ndarray:
        rng = np.random.default_rng(seed)
        component = rng.choice(len(self.weights), size=n, p=self.weights)
        values, vectors = self._eig
        z = rng.standard_normal((n, self.dim)) * np.sqrt(values[component])
        return self.means[component] + np.einsum("nde,ne->nd", vectors[component], z)


def standard_mixture(dim: int = 3) -> GaussianMixture:
    """Three components of unequal weight, separated means and elongated, rotated covariances (scale about that of
    images in [-1, 1]): the flow of its probability-flow ODE is far from linear."""
    rng = np.random.default_rng(34)
    means = rng.uniform(-0.8, 0.8, size=(3, dim))
    covariances = []
    for spread in (0.5, 0.25, 0.35):
        rotation, _ = np.linalg.qr(rng.standard_normal((dim, dim)))
        scales = spread * np.geomspace(1.0, 0.4, dim)
        covariances.append(rotation @ np.diag(scales**2) @ rotation.T)
    return GaussianMixture(np.array([0.5, 0.3, 0.2]), means, np.array(covariances))


def alphas_cumprod_of(scheduler: Any) -> np.ndarray:
    """The scheduler's own alpha_bar_t, t = 0..T-1, in float64: its ``alphas_cumprod`` when it has one (every
    ``BaseScheduler`` and diffusers scheduler does), else made from its config's beta schedule."""
    found = getattr(scheduler, "alphas_cumprod", None)
    if found is None:
        config = scheduler.config if isinstance(scheduler.config, dict) else vars(scheduler.config)
        betas = make_betas(config.get("beta_schedule", "linear"), config["num_train_timesteps"],
                           config.get("beta_start", 0.0001), config.get("beta_end", 0.02), config.get("trained_betas"))
        found = torch.cumprod(1 - betas, 0)
    return torch.as_tensor(found).double().cpu().numpy()


class ExactModel:
    """eps*(x_t, t) as a model the sampling loop calls: ``model(sample, t)`` on samples (N, D, 1, 1).

    A fractional ``t`` (diffusers' Euler-type schedulers interpolate) reads alpha_bar from sigma interpolated linearly
    in t, sigma = sqrt((1 - alpha_bar) / alpha_bar), as those schedulers interpolate it. The model counts its calls and
    keeps the first and the latest input with their alpha_bar.
    """

    def __init__(self, data: GaussianMixture, alphas_cumprod: np.ndarray, watch_until: float = 1.0):
        self.data, self.watch_until = data, watch_until
        self.sigmas = np.sqrt((1 - alphas_cumprod) / alphas_cumprod)
        self.calls = 0
        self.first: Optional[tuple[np.ndarray, float]] = None
        self.last: Optional[tuple[np.ndarray, float]] = None

    def alpha_bar(self, t: Any) -> float:
        sigma = float(np.interp(float(t), np.arange(len(self.sigmas)), self.sigmas))
        return 1.0 / (1.0 + sigma**2)

    def __call__(self, sample: torch.Tensor, t: Any) -> torch.Tensor:
        alpha_bar = self.alpha_bar(t)
        x = sample.detach().reshape(sample.shape[0], -1).double().cpu().numpy()
        self.calls += 1
        if self.first is None:
            self.first = (x, alpha_bar)
        if alpha_bar <= self.watch_until:
            self.last = (x, alpha_bar)
        return torch.from_numpy(self.data.eps(x, alpha_bar)).to(sample.dtype).reshape(sample.shape)


def flow_solution(data: GaussianMixture, x: np.ndarray, alpha_bar_from: float, alpha_bar_to: float) -> np.ndarray:
    """The exact probability-flow ODE solution (DDIM eq. 14) from x at ``alpha_bar_from`` to ``alpha_bar_to``.

    Integrated in u = log sigma_bar, where dx_bar/du = sigma_bar eps*(sqrt(alpha_bar) x_bar, alpha_bar) stays of
    order x_bar at high noise and vanishes at low noise, with an 8th-order Runge-Kutta (DOP853) to 1e-11.
    """
    def u_of(alpha_bar: float) -> float:
        return 0.5 * np.log((1 - alpha_bar) / alpha_bar)

    def velocity(u: float, flat: np.ndarray) -> np.ndarray:
        sigma = np.exp(u)
        alpha_bar = 1 / (1 + sigma**2)
        x_bar = flat.reshape(x.shape)
        return (sigma * data.eps(np.sqrt(alpha_bar) * x_bar, alpha_bar)).ravel()

    start = (x / np.sqrt(alpha_bar_from)).ravel()
    solution = solve_ivp(velocity, (u_of(alpha_bar_from), u_of(alpha_bar_to)), start, method="DOP853",
                         rtol=ODE_TOLERANCE, atol=ODE_TOLERANCE)
    return np.sqrt(alpha_bar_to) * solution.y[:, -1].reshape(x.shape)


def run_sampler(scheduler: Any, model: Callable, noise: torch.Tensor, steps: int, generator: Any = None,
                stop_after: Optional[int] = None) -> torch.Tensor:
    """The sampling loop of ddpm_bench.sampling, on the exact model: ``set_timesteps``, then for each timestep
    ``scale_model_input``, one model call and ``step``; ``stop_after`` model calls ends it early (mid-run)."""
    scheduler.set_timesteps(steps)
    sample = noise * scheduler.init_noise_sigma
    for k, t in enumerate(scheduler.timesteps):
        if stop_after is not None and k == stop_after:
            break
        output = model(scheduler.scale_model_input(sample, t), t)
        sample = scheduler.step(output, t, sample, generator=generator).prev_sample
    return sample
