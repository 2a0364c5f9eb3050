"""Parity with diffusers' DDPMScheduler, DDIMScheduler and PNDMScheduler over full loops and many configurations.

Random model outputs drive both schedulers; stochastic steps use equal generators. Where diffusers departs from the
papers (see test_scheduler_papers.py) the configurations here avoid the departure.
"""

import itertools

import diffusers
import pytest
import torch
from scheduler_helpers import paired_loop

from ddpm_bench import create_scheduler

ATOL = 1e-5


def assert_loops_match(ours, theirs, steps, stochastic=False, out_channels=None, check_x0=True):
    for i, t, a, b in paired_loop(ours, theirs, steps, stochastic=stochastic, out_channels=out_channels):
        assert a.prev_sample.shape == b.prev_sample.shape
        diff = (a.prev_sample - b.prev_sample).abs().max().item()
        assert diff < ATOL, f"step {i} (t={t}): prev_sample differs by {diff}"
        if check_x0:
            diff = (a.pred_original_sample - b.pred_original_sample).abs().max().item()
            assert diff < ATOL, f"step {i} (t={t}): pred_original_sample differs by {diff}"


BETAS = ["linear", "scaled_linear", "squaredcos_cap_v2"]
PREDICTIONS = ["epsilon", "sample", "v_prediction"]

DDPM_CASES = [
    dict(beta_schedule=b, prediction_type=p, variance_type=v)
    for b, p, v in itertools.product(BETAS, PREDICTIONS, ["fixed_small", "fixed_large"])
] + [
    dict(clip_sample=False),
    dict(clip_sample=True, clip_sample_range=0.5),
    dict(thresholding=True, sample_max_value=1.5),
    dict(thresholding=True, dynamic_thresholding_ratio=0.9, prediction_type="v_prediction"),
    dict(timestep_spacing="linspace"),
    dict(num_train_timesteps=500, beta_start=0.001, beta_end=0.03),
]


@pytest.mark.parametrize("config", DDPM_CASES, ids=str)
@pytest.mark.parametrize("steps", [10, 7])
def test_ddpm_matches_diffusers(config, steps):
    assert_loops_match(
        create_scheduler("ddpm", **config), diffusers.DDPMScheduler(**config), steps, stochastic=True
    )


@pytest.mark.parametrize("variance_type", ["learned", "learned_range"])
def test_ddpm_learned_variances_match_diffusers(variance_type):
    """The model outputs mean and variance channels; ``learned`` takes the variance as is, so keep it positive."""
    ours = create_scheduler("ddpm", variance_type=variance_type)
    theirs = diffusers.DDPMScheduler(variance_type=variance_type)
    if variance_type == "learned":
        ours_step, theirs_step = ours.step, theirs.step

        def positive(step):
            return lambda out, t, x, **kw: step(torch.cat([out[:, :3], out[:, 3:].abs() * 1e-2], 1), t, x, **kw)

        ours.step, theirs.step = positive(ours_step), positive(theirs_step)
    assert_loops_match(ours, theirs, 10, stochastic=True, out_channels=6)


DDIM_CASES = [
    dict(beta_schedule=b, prediction_type=p, eta=e)
    for b, p, e in itertools.product(BETAS, PREDICTIONS, [0.0, 0.5, 1.0])
] + [
    dict(clip_sample=False, eta=0.3),
    dict(clip_sample_range=0.7),
    dict(thresholding=True, sample_max_value=2.0, prediction_type="v_prediction"),
    dict(use_clipped_model_output=False),
    dict(use_clipped_model_output=False, eta=1.0, clip_sample_range=0.7),
    dict(set_alpha_to_one=False),
    dict(steps_offset=1),
    dict(timestep_spacing="trailing"),
    dict(timestep_spacing="trailing", eta=1.0, steps_offset=1),
]


@pytest.mark.parametrize("config", DDIM_CASES, ids=str)
def test_ddim_matches_diffusers(config):
    """diffusers takes eta and use_clipped_model_output per call; ours reads them from its config, whose
    use_clipped_model_output defaults to True where diffusers' is False (test_scheduler_papers.py)."""
    ours = create_scheduler("ddim", **config)
    per_call = {k: getattr(ours.config, k) for k in ("eta", "use_clipped_model_output")}
    theirs = diffusers.DDIMScheduler(**{k: v for k, v in config.items() if k not in per_call})
    step = theirs.step
    theirs.step = lambda out, t, x, **kw: step(out, t, x, **per_call, **kw)
    assert_loops_match(ours, theirs, 10, stochastic=True)


PNDM_CASES = [
    dict(beta_schedule=b, skip_prk_steps=s) for b, s in itertools.product(BETAS, [False, True])
] + [
    dict(set_alpha_to_one=True),
    dict(steps_offset=1),
    dict(timestep_spacing="trailing"),
    dict(timestep_spacing="trailing", skip_prk_steps=True),
    dict(num_train_timesteps=500),
]


@pytest.mark.parametrize("config", PNDM_CASES, ids=str)
@pytest.mark.parametrize("steps", [10, 25])
def test_pndm_matches_diffusers(config, steps):
    """diffusers' PNDM does not return pred_original_sample; only prev_sample is compared."""
    assert_loops_match(create_scheduler("pndm", **config), diffusers.PNDMScheduler(**config), steps, check_x0=False)


@pytest.mark.parametrize("steps", [4, 7, 9, 13, 27, 50, 100])
@pytest.mark.parametrize("skip_prk_steps", [False, True])
def test_pndm_timesteps_and_nfe_match_diffusers(steps, skip_prk_steps):
    ours = create_scheduler("pndm", skip_prk_steps=skip_prk_steps)
    theirs = diffusers.PNDMScheduler(skip_prk_steps=skip_prk_steps)
    ours.set_timesteps(steps)
    theirs.set_timesteps(steps)
    assert ours.timesteps.tolist() == theirs.timesteps.tolist()
    assert len(ours.timesteps) == (steps + 1 if skip_prk_steps else steps + 9)


@pytest.mark.parametrize("name,cls", [("ddpm", diffusers.DDPMScheduler), ("ddim", diffusers.DDIMScheduler)])
@pytest.mark.parametrize("spacing", ["leading", "trailing", "linspace"])
@pytest.mark.parametrize("steps", [1, 3, 10, 50, 1000])
def test_timesteps_match_diffusers(name, cls, spacing, steps):
    ours, theirs = create_scheduler(name, timestep_spacing=spacing), cls(timestep_spacing=spacing)
    ours.set_timesteps(steps)
    theirs.set_timesteps(steps)
    assert ours.timesteps.tolist() == theirs.timesteps.tolist()


@pytest.mark.parametrize(
    "name,cls",
    [("ddpm", diffusers.DDPMScheduler), ("ddim", diffusers.DDIMScheduler), ("pndm", diffusers.PNDMScheduler)],
)
@pytest.mark.parametrize("schedule", BETAS)
def test_add_noise_matches_diffusers(name, cls, schedule):
    ours, theirs = create_scheduler(name, beta_schedule=schedule), cls(beta_schedule=schedule)
    generator = torch.Generator().manual_seed(3)
    x0 = torch.randn(5, 2, 4, 4, generator=generator)
    noise = torch.randn(5, 2, 4, 4, generator=generator)
    t = torch.tensor([0, 1, 250, 998, 999])
    assert torch.allclose(ours.add_noise(x0, noise, t), theirs.add_noise(x0, noise, t), atol=1e-6)
    assert torch.allclose(ours.alphas_cumprod, theirs.alphas_cumprod, atol=0, rtol=0)
