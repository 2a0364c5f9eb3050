"""The scheduler protocol as a type: what the sampling loop, the conformance kit and a diffusers pipeline use.

Any object with these members is a ``Scheduler`` (``isinstance`` checks their presence; ``ddpm-bench check NAME``
checks their behaviour). It is diffusers-compatible: a diffusers scheduler passes as it is, and ours drop into a
diffusers pipeline.

Optional members, read where present (``BaseScheduler`` has them all; the protocol does not require them, so that
diffusers' schedulers stay ``Scheduler``s):

- ``nfe(num_inference_steps) -> int``: the model calls a run makes; ``ddpm-bench check`` counts the loop's calls
  against it (without it, ``len(timesteps)`` is taken as declared);
- ``convergence_order``: the order of convergence to the probability-flow ODE solution that ``ddpm-bench check``
  expects to measure for a deterministic sampler (1 if absent);
- ``order``: model calls per step, as diffusers means it;
- ``alphas_cumprod``: alpha_bar_t for t = 0..T-1, which the kit's exact model uses (else made from the config's
  beta schedule);
- ``reset()``: clears what ``step`` keeps between calls; ``set_timesteps`` must leave no state behind either way.
"""

from __future__ import annotations

from typing import Any, Optional, Protocol, runtime_checkable

import torch


@runtime_checkable
class Scheduler(Protocol):
    #: the checked options, with diffusers' field names (``num_train_timesteps``, ``prediction_type``, ...)
    config: Any
    #: after ``set_timesteps``: one entry per model call, so ``len(timesteps)`` is the number of function evaluations
    timesteps: torch.Tensor
    #: the scale of the initial noise x_T (1 for DDPM-family schedulers)
    init_noise_sigma: float

    def set_timesteps(self, num_inference_steps: int, device: Any = None) -> None:
        """Prepare a run of ``num_inference_steps`` steps; resets all state left by an earlier run."""

    def step(self, model_output: torch.Tensor, timestep: Any, sample: torch.Tensor, generator: Any = None,
             return_dict: bool = True) -> Any:
        """One step back from ``timestep``: an object with ``prev_sample`` and ``pred_original_sample``.
        ``generator``: a ``torch.Generator`` or a list of them, one per batch row (per-sample noise)."""

    def add_noise(self, original_samples: torch.Tensor, noise: torch.Tensor, timesteps: torch.Tensor) -> torch.Tensor:
        """Sample q(x_t | x_0), one timestep per batch row."""

    def scale_model_input(self, sample: torch.Tensor, timestep: Optional[Any] = None) -> torch.Tensor:
        """What the model is fed at ``timestep`` (x_t itself for DDPM-family schedulers)."""
