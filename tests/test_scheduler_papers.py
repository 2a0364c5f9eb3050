"""Where the papers are the reference: golden loops, exactness on a one-point data set, and diffusers' known bugs."""

import inspect

import diffusers
import pytest
import torch
from scheduler_helpers import dummy_sample_deter, full_loop, golden_dummy_model

from ddpm_bench import create_scheduler


def _abs_stats(sample):
    return torch.sum(torch.abs(sample)).item(), torch.mean(torch.abs(sample)).item()


# Golden values from diffusers' own scheduler tests (tests/schedulers/test_scheduler_{ddpm,ddim,pndm}.py), with
# diffusers' DDIM default use_clipped_model_output=False.
DIFFUSERS_DDIM = {"use_clipped_model_output": False}


@pytest.mark.parametrize(
    "name,config,expected_sum,expected_mean",
    [
        ("ddim", DIFFUSERS_DDIM, 172.0067, 0.223967),
        ("ddim", {**DIFFUSERS_DDIM, "prediction_type": "v_prediction"}, 52.5302, 0.0684),
        ("ddim", {**DIFFUSERS_DDIM, "set_alpha_to_one": True, "beta_start": 0.01}, 149.8295, 0.1951),
        ("ddim", {**DIFFUSERS_DDIM, "set_alpha_to_one": False, "beta_start": 0.01}, 149.0784, 0.1941),
        ("pndm", {}, 198.1318, 0.2580),
        ("pndm", {"set_alpha_to_one": True, "beta_start": 0.01}, 230.0399, 0.2995),
        ("pndm", {"set_alpha_to_one": False, "beta_start": 0.01}, 186.9482, 0.2434),
    ],
)
def test_golden_full_loops(name, config, expected_sum, expected_mean):
    result_sum, result_mean = _abs_stats(full_loop(create_scheduler(name, **config), steps=10))
    assert abs(result_sum - expected_sum) < 1e-2
    assert abs(result_mean - expected_mean) < 1e-3


@pytest.mark.parametrize(
    "config,expected_sum,expected_mean",
    [({}, 258.9606, 0.3372), ({"prediction_type": "v_prediction"}, 202.0296, 0.2631)],
)
def test_golden_ddpm_1000_steps(config, expected_sum, expected_mean):
    """diffusers' DDPM golden loop: every training timestep, without set_timesteps, noise from torch.manual_seed(0)."""
    scheduler = create_scheduler("ddpm", **config)
    sample, generator = dummy_sample_deter(), torch.manual_seed(0)
    for t in reversed(range(len(scheduler))):
        sample = scheduler.step(golden_dummy_model(sample, t), t, sample, generator=generator).prev_sample
    result_sum, result_mean = _abs_stats(sample)
    assert abs(result_sum - expected_sum) < 1e-2
    assert abs(result_mean - expected_mean) < 1e-3


class ExactDenoiser:
    """The ideal denoiser for a data set of one point x0:
    eps(x_t, t) = (x_t - sqrt(alpha_bar_t) x0) / sqrt(1 - alpha_bar_t).

    Its deterministic probability-flow trajectory from x_T is x_t = sqrt(alpha_bar_t) x0 + sqrt(1 - alpha_bar_t) eps0.
    It records how far each input lies from that trajectory at the timestep it is evaluated at. ``predicts`` makes it
    the ideal denoiser of another point instead, while the trajectory stays x0's (a model whose predictions get clipped
    to x0).
    """

    def __init__(self, scheduler, x0, x_T, t_start, predicts=None):
        self.scheduler, self.x0 = scheduler, x0
        self.predicts = x0 if predicts is None else predicts
        alpha_bar = scheduler.alphas_cumprod[int(t_start)]
        self.eps0 = (x_T - alpha_bar**0.5 * x0) / (1 - alpha_bar) ** 0.5
        self.max_off_trajectory = 0.0

    def __call__(self, sample, t):
        alpha_bar = self.scheduler.alphas_cumprod[int(t)]
        on_trajectory = alpha_bar**0.5 * self.x0 + (1 - alpha_bar) ** 0.5 * self.eps0
        self.max_off_trajectory = max(self.max_off_trajectory, (sample - on_trajectory).abs().max().item())
        return (sample - alpha_bar**0.5 * self.predicts) / (1 - alpha_bar) ** 0.5


def run_exact(scheduler, steps, **step_kwargs):
    generator = torch.Generator().manual_seed(0)
    x0 = torch.rand(2, 1, 4, 4, generator=generator) * 2 - 1
    x_T = torch.randn(2, 1, 4, 4, generator=generator)
    scheduler.set_timesteps(steps)
    model = ExactDenoiser(scheduler, x0, x_T, scheduler.timesteps[0])
    if "generator" in inspect.signature(scheduler.step).parameters:
        step_kwargs["generator"] = generator
    sample = x_T
    for t in scheduler.timesteps:
        sample = scheduler.step(model(sample, t), t, sample, **step_kwargs).prev_sample
    return (sample - x0).abs().max().item(), model.max_off_trajectory


def sample_with(scheduler, model, steps, x_T, **step_kwargs):
    scheduler.set_timesteps(steps)
    sample = x_T
    for t in scheduler.timesteps:
        sample = scheduler.step(model(sample, t), t, sample, **step_kwargs).prev_sample
    return sample


SPACINGS = [("leading", 10), ("linspace", 10), ("linspace", 7), ("trailing", 10), ("trailing", 7), ("quadratic", 12)]


@pytest.mark.parametrize("name,config", [("ddim", {}), ("pndm", {}), ("pndm", {"skip_prk_steps": True})], ids=str)
@pytest.mark.parametrize("spacing,steps", SPACINGS)
def test_deterministic_samplers_stay_on_the_exact_trajectory(name, config, spacing, steps):
    """With the exact denoiser, DDIM eq. (12) with eta = 0 and PNDM's transfer (eq. 11) move exactly along the
    probability-flow trajectory, so every model call sees a point of it at the timestep it is called with. A step
    measured to the wrong timestep (diffusers' t - T//n) leaves the trajectory."""
    scheduler = create_scheduler(name, timestep_spacing=spacing, set_alpha_to_one=True, **config)
    final_error, off_trajectory = run_exact(scheduler, steps)
    assert off_trajectory < 1e-4
    assert final_error < 1e-4


@pytest.mark.parametrize(
    "name,config", [("ddpm", {}), ("ddpm", {"variance_type": "fixed_large"}), ("ddim", {"eta": 1.0})], ids=str
)
@pytest.mark.parametrize("spacing,steps", SPACINGS)
def test_stochastic_samplers_end_exactly_on_the_data_point(name, config, spacing, steps):
    """The exact denoiser predicts x0 exactly, so the last step (to alpha_bar = 1) must return x0: no noise on the
    final step (DDPM Algorithm 2: z = 0 at the end)."""
    scheduler = create_scheduler(name, timestep_spacing=spacing, clip_sample=False, **config)
    final_error, _ = run_exact(scheduler, steps)
    assert final_error < 1e-4


@pytest.mark.parametrize(
    "cls,config,steps",
    [
        (diffusers.DDIMScheduler, {"timestep_spacing": "linspace", "set_alpha_to_one": True}, 10),
        (diffusers.DDIMScheduler, {"timestep_spacing": "trailing", "set_alpha_to_one": True}, 7),
        (diffusers.PNDMScheduler, {"timestep_spacing": "linspace", "set_alpha_to_one": True}, 10),
    ],
)
def test_diffusers_leaves_the_trajectory_there(cls, config, steps):
    """The same check fails for diffusers 0.42 (issues #12633, #11347), which is why ours does not follow it there."""
    _, off_trajectory = run_exact(cls(**config), steps)
    assert off_trajectory > 1e-2


def test_diffusers_adds_noise_on_the_final_ddpm_step_under_trailing_spacing():
    """With fixed_small variances that noise is scaled by beta_tilde = 0 at the end; with fixed_large it is not."""
    scheduler = diffusers.DDPMScheduler(timestep_spacing="trailing", clip_sample=False, variance_type="fixed_large")
    final_error, _ = run_exact(scheduler, 10)
    assert final_error > 1e-2


def test_ddpm_adds_no_noise_on_the_final_step_under_trailing_spacing():
    scheduler = create_scheduler("ddpm", timestep_spacing="trailing")
    scheduler.set_timesteps(10)
    last = scheduler.timesteps[-1]
    assert int(last) == 99
    x, eps = torch.randn(2, 1, 4, 4), torch.randn(2, 1, 4, 4)
    first = scheduler.step(eps, last, x, generator=torch.Generator().manual_seed(1)).prev_sample
    second = scheduler.step(eps, last, x, generator=torch.Generator().manual_seed(2)).prev_sample
    assert torch.equal(first, second)
    t0 = scheduler.timesteps[0]
    noisy_a = scheduler.step(eps, t0, x, generator=torch.Generator().manual_seed(1)).prev_sample
    noisy_b = scheduler.step(eps, t0, x, generator=torch.Generator().manual_seed(2)).prev_sample
    assert not torch.equal(noisy_a, noisy_b)


def as_v_model(scheduler, eps_model):
    """The v-prediction model equivalent to an epsilon model: v = sqrt(ab) eps - sqrt(1 - ab) x0_hat."""

    def model(sample, t):
        alpha_bar = scheduler.alphas_cumprod[int(t)]
        eps = eps_model(sample, t)
        x0 = (sample - (1 - alpha_bar) ** 0.5 * eps) / alpha_bar**0.5
        return alpha_bar**0.5 * eps - (1 - alpha_bar) ** 0.5 * x0

    return model


@pytest.mark.parametrize("name", ["ddpm", "ddim", "pndm"])
def test_v_prediction_equals_the_equivalent_epsilon_model(name):
    """Salimans & Ho's v and epsilon parameterisations describe the same sampler. diffusers' PNDM converts a
    *combination* of v's at one timestep, so it does not pass this; ours converts each model
    output where it was made."""
    eps_scheduler = create_scheduler(name)
    v_scheduler = create_scheduler(name, prediction_type="v_prediction")
    x_T = torch.randn(2, 1, 4, 4, generator=torch.Generator().manual_seed(0))
    a = sample_with(eps_scheduler, golden_dummy_model, 12, x_T, generator=torch.Generator().manual_seed(5))
    b = sample_with(v_scheduler, as_v_model(v_scheduler, golden_dummy_model), 12, x_T,
                    generator=torch.Generator().manual_seed(5))
    assert torch.allclose(a, b, atol=1e-4)


def test_quadratic_spacing_is_the_ddim_papers_grid():
    """DDIM Appendix D.2 / its code: seq = int((linspace(0, sqrt(0.8 T), n))^2)."""
    scheduler = create_scheduler("ddim", timestep_spacing="quadratic")
    scheduler.set_timesteps(10)
    expected = [int(s) for s in (torch.linspace(0, (800.0) ** 0.5, 10, dtype=torch.float64) ** 2)][::-1]
    assert scheduler.timesteps.tolist() == expected
    assert scheduler.timesteps.tolist()[0] == 800 - 1 or scheduler.timesteps.tolist()[0] == 800


def run_clipped(scheduler, steps):
    """The exact denoiser of a point beyond the clip range [-1, 1]: every x_0 prediction gets clipped. Returns how far
    the samples stray from the probability-flow trajectory of the clipped point."""
    generator = torch.Generator().manual_seed(0)
    beyond = torch.randn(2, 1, 4, 4, generator=generator).sign() * 1.5
    x_T = torch.randn(2, 1, 4, 4, generator=generator)
    scheduler.set_timesteps(steps)
    model = ExactDenoiser(scheduler, beyond.clamp(-1, 1), x_T, scheduler.timesteps[0], predicts=beyond)
    sample_with(scheduler, model, steps, x_T)
    return model.max_off_trajectory


@pytest.mark.parametrize("steps", [10, 100, 500])
def test_clipped_ddim_follows_the_trajectory_of_its_clipped_prediction(steps):
    """Eq. (12) applied to one consistent prediction: eps re-derived from the clipped x_0 (eq. 9) keeps DDIM on the
    trajectory of what it predicts, at any number of steps."""
    assert run_clipped(create_scheduler("ddim", clip_sample=True), steps) < 1e-4


def test_diffusers_clipped_ddim_strays_more_the_more_steps_it_takes():
    """diffusers' default keeps the unclipped eps beside the clipped x_0: a pull per step that does not shrink with the
    step size, so more steps take the samples further off, where a sampler should converge."""
    strays = [run_clipped(diffusers.DDIMScheduler(clip_sample=True), steps) for steps in (10, 100, 500)]
    assert strays[0] > 1e-2
    assert strays[0] < strays[1] < strays[2]
