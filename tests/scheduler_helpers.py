"""Shared scheduler helpers: diffusers' golden dummy model and inputs, a NaN-returning scheduler, and a loop that steps
two schedulers side by side. (The tiny model and statistics-cache setup are conftest.py's.)"""

from __future__ import annotations

import torch

from ddpm_bench.schedulers.ddim import DDIMScheduler


def dummy_sample_deter() -> torch.Tensor:
    """diffusers' ``SchedulerCommonTest.dummy_sample_deter``: a deterministic 4x3x8x8 batch in [0, 1)."""
    batch_size, num_channels, height, width = 4, 3, 8, 8
    num_elems = batch_size * num_channels * height * width
    sample = torch.arange(num_elems).reshape(num_channels, height, width, batch_size) / num_elems
    return sample.permute(3, 0, 1, 2)


def golden_dummy_model(sample: torch.Tensor, t) -> torch.Tensor:
    """diffusers' golden-test model, ``sample * t / (t + 1)`` on the raw timestep ``t`` (0 to 999).

    diffusers' golden sums and means (test_scheduler_papers) were computed with exactly this model, so it must stay
    as it is. The conformance kit's ``ddpm_bench.schedulers.conformance.dummy_model`` differs on purpose: it scales
    ``t`` to [0, 1) first, so that the outputs stay moderate for any scheduler the kit checks; it reproduces no golden
    value and is no stand-in for this one.
    """
    return sample * t / (t + 1)


def full_loop(scheduler, steps: int = 10, sample=None, **step_kwargs) -> torch.Tensor:
    """Run ``scheduler`` over its timesteps with the golden dummy model, as diffusers' ``full_loop`` does."""
    scheduler.set_timesteps(steps)
    sample = dummy_sample_deter() if sample is None else sample
    for t in scheduler.timesteps:
        sample = scheduler.step(golden_dummy_model(sample, t), t, sample, **step_kwargs).prev_sample
    return sample


class ReturnsNaN(DDIMScheduler):
    """DDIM whose every step returns NaN: the planted non-finite fault (the conformance kit's finite-output check, a
    plugin scheduler's failed sweep point)."""

    def step(self, *args, **kwargs):
        output = super().step(*args, **kwargs)
        output.prev_sample = output.prev_sample * float("nan")
        return output


def paired_loop(
    ours, theirs, steps: int, shape=(2, 3, 8, 8), seed: int = 0, stochastic: bool = False, out_channels=None
):
    """Step ``ours`` and ``theirs`` on the same random model outputs (and equal noise generators).

    Yields (index, timestep, our output, their output); each scheduler continues from its own previous sample.
    """
    ours.set_timesteps(steps)
    theirs.set_timesteps(steps)
    assert torch.equal(ours.timesteps.long(), theirs.timesteps.long()), (ours.timesteps, theirs.timesteps)
    model_rng = torch.Generator().manual_seed(seed)
    x_ours = x_theirs = torch.randn(shape, generator=model_rng)
    out_shape = (shape[0], out_channels or shape[1], *shape[2:])
    gen_ours = torch.Generator().manual_seed(seed + 1)
    gen_theirs = torch.Generator().manual_seed(seed + 1)
    for i, t in enumerate(ours.timesteps):
        model_output = torch.randn(out_shape, generator=model_rng)
        kwargs_ours = {"generator": gen_ours} if stochastic else {}
        kwargs_theirs = {"generator": gen_theirs} if stochastic else {}
        a = ours.step(model_output, t, x_ours, **kwargs_ours)
        b = theirs.step(model_output, t, x_theirs, **kwargs_theirs)
        yield i, int(t), a, b
        x_ours, x_theirs = a.prev_sample, b.prev_sample
