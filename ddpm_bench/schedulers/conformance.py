"""The conformance kit: what the sampler and the sweep rely on, and the mathematics, checked on any scheduler.

Use it in a plugin's own tests::

    from ddpm_bench.schedulers.conformance import check_scheduler

    def test_conforms():
        check_scheduler("my-sampler")        # or a factory: check_scheduler(MySampler, some_option=1)

or from the shell: ``ddpm-bench check my-sampler``. The first four checks run the sampler on a data set whose exact
denoiser is known (conformance_solver.py: convergence order to the probability-flow ODE, data moments, model calls
against the declared NFE, state left by an interrupted run); the others run it on a dummy model. Each failed check
says what was expected and what came back; a passed one may say what it measured.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional, Union

import torch

from ddpm_bench.schedulers import conformance_solver as solver
from ddpm_bench.schedulers.conformance_math import run_sampler
from ddpm_bench.schedulers.conformance_solver import Passed, train_steps
from ddpm_bench.schedulers.specs import accepted_options, build_scheduler, parse_scheduler_spec

SHAPE = (4, 3, 8, 8)
STEPS = 10


@dataclass
class CheckResult:
    name: str
    passed: bool
    message: str = ""

    def __str__(self) -> str:
        return f"{'ok  ' if self.passed else 'FAIL'} {self.name}" + (f": {self.message}" if self.message else "")


class ConformanceError(AssertionError):
    """Raised by ``check_scheduler`` with every failed check in its message."""


def dummy_model(sample: torch.Tensor, t) -> torch.Tensor:
    """diffusers' golden-test model, ``sample * t / (t + 1)``, with ``t`` scaled to [0, 1) so outputs stay moderate."""
    t = float(t) / 1000.0
    return sample * t / (t + 1)


def _run(make: Callable[[], Any], seeds: list[int], steps: int = STEPS,
         dtype=torch.float32) -> torch.Tensor:
    """A full loop on a batch whose row i has its own generator seeded ``seeds[i]``, from per-row initial noise."""
    generators = [torch.Generator().manual_seed(s) for s in seeds]
    noise = torch.cat([torch.randn((1, *SHAPE[1:]), generator=g) for g in generators]).to(dtype)
    return run_sampler(make(), dummy_model, noise, steps, generators)


def _resolve(target: Union[str, Callable[..., Any]], config: dict) -> Callable[..., Any]:
    """The factory of fresh instances: ``make(defaults)`` builds one with ``defaults`` (the options of them that the
    scheduler has) under the user's ``config``."""
    if isinstance(target, str):
        spec = parse_scheduler_spec(target)
        return lambda defaults=None: build_scheduler(spec, {**(defaults or {}), **config})
    accepted = accepted_options(target)

    def make(defaults: Optional[dict] = None):
        kept = {k: v for k, v in (defaults or {}).items() if accepted is None or k in accepted}
        return target(**{**kept, **config})

    return make


def keeps_shape_dtype_device(make: Callable[[], Any]) -> Optional[str]:
    for dtype in (torch.float32, torch.float64):
        sample = _run(make, [0, 1, 2, 3], dtype=dtype)
        if sample.shape != SHAPE or sample.dtype != dtype or sample.device.type != "cpu":
            return f"expected {SHAPE} {dtype} on cpu, got {tuple(sample.shape)} {sample.dtype} on {sample.device}"
    return None


def finite_outputs(make: Callable[[], Any]) -> Optional[str]:
    sample = _run(make, [0, 1, 2, 3])
    if not torch.isfinite(sample).all():
        return f"expected finite values, got {int((~torch.isfinite(sample)).sum())} non-finite of {sample.numel()}"
    return None


def deterministic(make: Callable[[], Any]) -> Optional[str]:
    first, second = _run(make, [5, 6, 7, 8]), _run(make, [5, 6, 7, 8])
    if not torch.equal(first, second):
        return f"expected equal runs with equal generators, max difference {(first - second).abs().max().item():.3g}"
    return None


def independent_of_batch_size(make: Callable[[], Any]) -> Optional[str]:
    whole = _run(make, [1, 2, 3, 4])
    halves = torch.cat([_run(make, [1, 2]), _run(make, [3, 4])])
    if not torch.allclose(whole, halves, atol=1e-6):
        return ("expected rows to depend only on their own generator, max difference "
                f"{(whole - halves).abs().max().item():.3g}")
    return None


def add_noise_broadcasts(make: Callable[[], Any]) -> Optional[str]:
    scheduler = make()
    x0, noise = torch.randn(SHAPE), torch.randn(SHAPE)
    t = torch.tensor([1, 100, 500, 900])
    noisy = scheduler.add_noise(x0, noise, t)
    if noisy.shape != SHAPE:
        return f"expected shape {SHAPE}, got {tuple(noisy.shape)}"
    for i in range(SHAPE[0]):
        row = scheduler.add_noise(x0[i : i + 1], noise[i : i + 1], t[i : i + 1])
        if not torch.allclose(noisy[i : i + 1], row, atol=1e-6):
            return (f"expected row {i} noised at t={int(t[i])} as if alone, max difference "
                    f"{(noisy[i:i+1] - row).abs().max().item():.3g}")
    return None


def refuses_out_of_range_steps(make: Callable[[], Any]) -> Optional[str]:
    total = train_steps(make())
    for steps in (0, -1, total + 1):
        try:
            make().set_timesteps(steps)
        except Exception:
            continue
        return f"expected set_timesteps({steps}) to raise, it returned"
    return None


# each check: its name, and a function of the scheduler factory giving None or a Passed note, or what it expected
# and got; the first four run the sampler on the exact model of a known data set (conformance_solver.py)
CHECKS: list[tuple[str, Callable[[Callable[[], Any]], Optional[str]]]] = [
    ("the loop's model calls equal the declared NFE", solver.calls_match_declared_nfe),
    ("set_timesteps resets all state, also in the middle of a run", solver.resets_all_state),
    ("converges to the exact probability-flow ODE at its declared order (deterministic samplers)",
     solver.converges_at_declared_order),
    ("reproduces the data's mean and covariance at many steps", solver.reproduces_data_moments),
    ("shape, dtype and device are kept", keeps_shape_dtype_device),
    ("a dummy model gives finite outputs", finite_outputs),
    ("deterministic with a generator", deterministic),
    ("independent of batch size with one generator per row", independent_of_batch_size),
    ("add_noise broadcasts over a batch of timesteps", add_noise_broadcasts),
    ("out-of-range step counts are refused", refuses_out_of_range_steps),
]


def run_checks(target: Union[str, Callable[..., Any]], **config: Any) -> list[CheckResult]:
    """Every check, run on fresh instances; a check that raises fails with the exception as its message."""
    make = _resolve(target, config)
    return [run_check(name, check, make) for name, check in CHECKS]


def run_check(name: str, check: Callable[[Callable[[], Any]], Optional[str]], make: Callable[[], Any]) -> CheckResult:
    try:
        message = check(make)
    except Exception as error:  # the kit reports, it does not crash
        return CheckResult(name, False, f"raised {type(error).__name__}: {error}")
    return CheckResult(name, message is None or isinstance(message, Passed), message or "")


def check_scheduler(target: Union[str, Callable[..., Any]], **config: Any) -> list[CheckResult]:
    """Run every check; raise ConformanceError listing the failures, else return the results."""
    results = run_checks(target, **config)
    failures = [r for r in results if not r.passed]
    if failures:
        raise ConformanceError("scheduler does not conform:\n" + "\n".join(str(f) for f in failures))
    return results
