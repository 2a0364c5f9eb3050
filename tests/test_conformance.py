"""The conformance kit passes the built-ins, the in-repo plugin and diffusers' schedulers (or names why one fails),
and catches each kind of planted fault, saying what it expected."""

import re

import diffusers
import processes
import pytest
from scheduler_helpers import ReturnsNaN

from ddpm_bench.schedulers.conformance import ConformanceError, check_scheduler, run_checks
from ddpm_bench.schedulers.conformance_solver import moment_gaps
from ddpm_bench.schedulers.ddim import DDIMScheduler
from ddpm_bench.schedulers.ddpm import DDPMScheduler
from ddpm_bench.schedulers.diffusers_adapter import KNOWN_FAILURES

ORDER = "converges to the exact probability-flow ODE"


def measured_order(results) -> float:
    (result,) = [r for r in results if r.name.startswith(ORDER)]
    return float(re.search(r"order (-?[\d.]+)", result.message).group(1))


@pytest.mark.parametrize("name,order", [("ddim", 1), ("pndm", 2), ("pndm:skip_prk_steps=true", 2), ("dpmpp-2m", 2),
                                        ("dpmpp-2m:solver_order=1", 1)])
def test_deterministic_built_ins_converge_at_their_order(name, order):
    assert abs(measured_order(check_scheduler(name)) - order) < 0.6


@pytest.mark.parametrize("name", ["ddpm", "ddim:eta=1.0", "ddpm:variance_type=fixed_large"])
def test_stochastic_built_ins_reproduce_the_data(name):
    results = check_scheduler(name)
    assert any(r.message.startswith("stochastic") for r in results)


@pytest.mark.parametrize("name", sorted({"DDPMScheduler", *diffusers.DDPMScheduler._compatibles}))
def test_adapted_diffusers_schedulers_pass_or_are_known_failures(name):
    failed = [r for r in run_checks(f"diffusers:{name}") if not r.passed]
    assert bool(failed) == (name in KNOWN_FAILURES), failed


def test_the_exact_model_is_the_score_of_the_noised_mixture():
    """eps* = -sqrt(1 - alpha_bar) grad log p_t, against central differences of the mixture density itself."""
    import numpy as np
    from scipy.stats import multivariate_normal

    from ddpm_bench.schedulers.conformance_solver import DATA

    x = DATA.sample(5, seed=1) * 0.7
    for alpha_bar in (0.02, 0.5, 0.97):
        def log_p(points):
            return np.log(sum(w * multivariate_normal(alpha_bar**0.5 * m, alpha_bar * c + (1 - alpha_bar) * np.eye(3))
                              .pdf(points) for w, m, c in zip(DATA.weights, DATA.means, DATA.covariances)))

        step = 1e-5
        grad = np.stack([(log_p(x + step * e) - log_p(x - step * e)) / (2 * step) for e in np.eye(3)], axis=1)
        assert np.allclose(DATA.eps(x, alpha_bar), -((1 - alpha_bar) ** 0.5) * grad, atol=1e-6)


def test_the_flow_solution_is_exact_on_one_gaussian():
    """For data N(m, C) the probability-flow map is affine: x' = sqrt(ab') m + S'^(1/2) S^(-1/2) (x - sqrt(ab) m), with
    S = ab C + (1 - ab) I (all S share C's eigenvectors)."""
    import numpy as np

    from ddpm_bench.schedulers.conformance_math import GaussianMixture, flow_solution

    data = GaussianMixture(np.ones(1), np.array([[0.5, -0.3]]), np.array([[[0.3, 0.1], [0.1, 0.05]]]))
    values, vectors = np.linalg.eigh(data.covariances[0])
    x = np.random.default_rng(0).standard_normal((4, 2))
    start, end = 0.01, 0.95
    scale = np.sqrt((end * values + 1 - end) / (start * values + 1 - start))
    expected = end**0.5 * data.means[0] + (x - start**0.5 * data.means[0]) @ vectors @ np.diag(scale) @ vectors.T
    assert np.abs(flow_solution(data, x, start, end) - expected).max() < 1e-9


def test_the_moment_tolerance_comes_from_the_number_of_samples():
    from ddpm_bench.schedulers.conformance_solver import DATA

    gaps = moment_gaps(DATA.sample(4000, seed=0))
    assert max(z for *_, z in gaps) < 5
    shifted = moment_gaps(DATA.sample(4000, seed=0) + 0.05)
    assert max(z for *_, z in shifted) > 5


class KeepsState(DDIMScheduler):
    """Accumulates across runs: set_timesteps does not reset it."""

    runs = 0

    def set_timesteps(self, n, device=None):
        super().set_timesteps(n, device)
        self.runs += 1

    def step(self, model_output, timestep, sample, **kwargs):
        output = super().step(model_output, timestep, sample, **kwargs)
        output.prev_sample = output.prev_sample * (1 + 0.01 * self.runs)
        return output


class IgnoresGenerator(DDPMScheduler):
    def step(self, model_output, timestep, sample, generator=None, **kwargs):
        return super().step(model_output, timestep, sample, generator=None, **kwargs)


class OneDrawForTheBatch(DDPMScheduler):
    """Draws the batch's noise from the first row's generator only: rows depend on the batch they are in."""

    def step(self, model_output, timestep, sample, generator=None, **kwargs):
        if isinstance(generator, list):
            generator = generator[0]
        return super().step(model_output, timestep, sample, generator=generator, **kwargs)


class ChangesDtype(DDIMScheduler):
    def step(self, *args, **kwargs):
        output = super().step(*args, **kwargs)
        output.prev_sample = output.prev_sample.half()
        return output


class NoBroadcast(DDIMScheduler):
    def add_noise(self, original_samples, noise, timesteps):
        return super().add_noise(original_samples, noise, timesteps[:1])  # the first row's timestep for every row


class AcceptsAnySteps(DDIMScheduler):
    def check_steps(self, n):
        return max(int(n), 1)


@pytest.mark.parametrize(
    "factory,check,expected",
    [
        (KeepsState, "set_timesteps resets all state", "expected identical results"),
        (IgnoresGenerator, "deterministic with a generator", "expected equal runs with equal generators"),
        (OneDrawForTheBatch, "independent of batch size", "expected rows to depend only on their own generator"),
        (ChangesDtype, "shape, dtype and device are kept", "torch.float16"),
        (ReturnsNaN, "a dummy model gives finite outputs", "expected finite values"),
        (NoBroadcast, "add_noise broadcasts", "as if alone"),
        (AcceptsAnySteps, "out-of-range step counts are refused", "expected set_timesteps(0) to raise"),
    ],
    ids=lambda v: getattr(v, "__name__", str(v))[:30],
)
def test_each_planted_fault_is_caught(factory, check, expected):
    with pytest.raises(ConformanceError) as raised:
        check_scheduler(factory)
    failed = str(raised.value).splitlines()[1:]
    assert any(line.startswith(f"FAIL {check}") and expected in line for line in failed), failed


def test_cli_check(tmp_path):
    ok = processes.ddpm_bench("check", "ddim")
    assert ok.returncode == 0 and "ddim: 10 of 10 checks passed" in ok.stdout
    assert re.search(r"order 0\.9\d \(declares 1\); RMS error 3\.\de-02, .* at 20, 25, .* 250 steps", ok.stdout)
    known = processes.ddpm_bench("check", "diffusers:EDMEulerScheduler")
    assert known.returncode == 1 and "known failure: works on EDM's own noise levels" in known.stdout
    unknown = processes.ddpm_bench("check", "nope")
    assert unknown.returncode == 2 and "unknown scheduler 'nope'" in unknown.stderr
