"""The conformance kit passes the built-ins and catches each kind of planted fault, saying what it expected."""


import processes
import pytest
from scheduler_helpers import ReturnsNaN

from ddpm_bench.schedulers.conformance import ConformanceError, check_scheduler, run_checks
from ddpm_bench.schedulers.ddim import DDIMScheduler
from ddpm_bench.schedulers.ddpm import DDPMScheduler


@pytest.mark.parametrize("name", ["ddpm", "ddim", "ddim:eta=1.0", "pndm", "pndm:skip_prk_steps=true",
                                  "diffusers:DDIMScheduler", "diffusers:EulerAncestralDiscreteScheduler",
                                  "diffusers:HeunDiscreteScheduler"])
def test_built_ins_and_adapted_schedulers_conform(name):
    check_scheduler(name)


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
    results = {r.name: r for r in run_checks(factory)}
    failed = [r for r in results.values() if not r.passed]
    assert any(r.name.startswith(check) and expected in r.message for r in failed), failed
    with pytest.raises(ConformanceError, match=check.split()[0]):
        check_scheduler(factory)


def test_cli_check(tmp_path):
    ok = processes.ddpm_bench("check", "ddim")
    assert ok.returncode == 0 and "ddim: 8 of 8 checks passed" in ok.stdout
    unknown = processes.ddpm_bench("check", "nope")
    assert unknown.returncode == 2 and "unknown scheduler 'nope'" in unknown.stderr
