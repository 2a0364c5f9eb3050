"""The conformance kit's checks of the mathematics: a sampler run on the exact model of a known data set
(conformance_math.py) must solve what it claims to.

- Deterministic samplers converge to the exact probability-flow ODE solution (DDIM eq. 14) from the same x_T as the
  step count grows, at about the order they declare in ``convergence_order``. The error is measured at the last model
  call whose alpha_bar is at most ``WATCH_UNTIL``, against the ODE integrated from the first call's alpha_bar to that
  call's: below that noise level a grid uniform in t takes steps in log-SNR that do not shrink with n (from t = 2h to
  h is log 2 whatever h), which caps every method near first order there, and the final denoising step to
  alpha_bar = 1 has an error floor of its own; both are properties of the grid, not of the method, so they are kept
  out of the slope (the moments check covers the end of the run).
- Every sampler reproduces the data's mean and covariance at many steps, within a tolerance set from the number of
  samples (``Z_TOLERANCE`` standard errors, estimated from the samples' own fourth moments).
- The model calls the loop makes, counted by the model itself, equal the NFE the scheduler declares (``nfe(n)``,
  else ``len(timesteps)``).
- A run stopped in the middle of a step, then (``reset()`` and) a full run, equals a fresh instance's run.

Clipping and thresholding of x_0 are switched off for these checks (where the scheduler has them, and unless the
user's own options set them): they change the ODE the sampler solves.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

import numpy as np
import torch

from ddpm_bench.schedulers import conformance_math as exact

EXACT = {"clip_sample": False, "thresholding": False}
ORDER_STEPS = (20, 25, 40, 50, 100, 125, 200, 250)  # divisors of T = 1000, so leading and trailing grids are exact
WATCH_UNTIL = 0.9
ORDER_SLACK = 0.8  # the measured order must reach this fraction of the declared one
FALL = 2.0  # the error at the most steps must be at least this many times below the error at the fewest
PARTICLES = 200
MOMENT_PARTICLES = 2000
Z_TOLERANCE = 5.0
DATA = exact.standard_mixture(3)


class Passed(str):
    """A passed check's note (what it measured), printed after ``ok``; a plain string is a failure."""


def train_steps(scheduler: Any) -> int:
    config = scheduler.config
    return config["num_train_timesteps"] if isinstance(config, dict) else config.num_train_timesteps


def noise(rows: int, seed: int) -> torch.Tensor:
    """x_T for ``rows`` particles, float64, shaped (N, D, 1, 1) like a batch of tiny images."""
    return torch.randn((rows, DATA.dim, 1, 1), generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def exact_run(scheduler: Any, steps: int, x_T: torch.Tensor, seed: Optional[int] = None,
              watch_until: float = 1.0, stop_after: Optional[int] = None) -> tuple[torch.Tensor, exact.ExactModel]:
    """A run on the exact model; ``seed`` seeds one generator for the batch (None: no generator)."""
    model = exact.ExactModel(DATA, exact.alphas_cumprod_of(scheduler), watch_until)
    generator = None if seed is None else torch.Generator().manual_seed(seed)
    return exact.run_sampler(scheduler, model, x_T, steps, generator, stop_after), model


def is_stochastic(make: Callable[..., Any]) -> bool:
    """Whether two runs from the same x_T with differently seeded generators differ."""
    x_T = noise(16, 0)
    first, second = (exact_run(make(EXACT), 10, x_T, seed)[0] for seed in (1, 2))
    return not torch.equal(first, second)


def declared_nfe(scheduler: Any, steps: int) -> int:
    nfe = getattr(scheduler, "nfe", None)
    return int(nfe(steps)) if callable(nfe) else len(scheduler.timesteps)


def calls_match_declared_nfe(make: Callable[..., Any]) -> Optional[str]:
    for steps in (10, 25):
        scheduler = make(EXACT)
        _, model = exact_run(scheduler, steps, noise(4, 0), seed=0)
        timesteps = scheduler.timesteps
        if timesteps.ndim != 1 or len(timesteps) == 0:
            return f"expected a non-empty 1-d timesteps tensor, got shape {tuple(timesteps.shape)}"
        declared = declared_nfe(scheduler, steps)
        if declared != model.calls:
            return (f"declares nfe({steps}) = {declared} model calls, the loop made {model.calls} (one per entry of "
                    "timesteps): list each timestep once per model call in set_timesteps (a step that calls the "
                    "model twice repeats its timestep), or make nfe() say what the loop does")
    return Passed(f"{model.calls} calls at {steps} steps, as declared")


def resets_all_state(make: Callable[..., Any]) -> Optional[str]:
    """A run stopped after an odd number of calls (mid-step for a two-call sampler), then ``reset()`` where the
    scheduler has one, then a full run (which calls ``set_timesteps``), against a fresh instance's full run with the
    same generator; and the same without the explicit ``reset()``."""
    x_T, steps = noise(8, 0), 10
    fresh = exact_run(make(EXACT), steps, x_T, seed=5)[0]
    for explicit_reset in (False, True):
        scheduler = make(EXACT)
        if explicit_reset and not callable(getattr(scheduler, "reset", None)):
            continue
        scheduler.set_timesteps(steps)
        stop = len(scheduler.timesteps) // 2 | 1
        exact_run(scheduler, steps, x_T, seed=4, stop_after=stop)
        if explicit_reset:
            scheduler.reset()
        again = exact_run(scheduler, steps, x_T, seed=5)[0]
        if not torch.equal(again, fresh):
            return (f"expected identical results to a fresh instance's after a run stopped at model call {stop} of "
                    f"{len(scheduler.timesteps)}{', then reset(),' if explicit_reset else ''} and a full run, max "
                    f"difference {(again - fresh).abs().max().item():.3g}: set_timesteps must call reset(), and "
                    "reset() must clear everything step() keeps (a multistep history, a predictor's pending "
                    "half-step)")
    return None


def order_errors(make: Callable[..., Any]) -> tuple[list[int], list[float]]:
    """RMS distance to the exact probability-flow solution at each step count of ``ORDER_STEPS`` the schedule has."""
    x_T, counts, errors = noise(PARTICLES, 0), [], []
    for steps in ORDER_STEPS:
        scheduler = make(EXACT)
        if steps > train_steps(scheduler):
            continue
        _, model = exact_run(scheduler, steps, x_T, watch_until=WATCH_UNTIL)
        if model.last is None:
            raise AssertionError(f"no model call at alpha_bar <= {WATCH_UNTIL} in a run of {steps} steps")
        (x_start, alpha_bar_start), (x, alpha_bar) = model.first, model.last
        solution = exact.flow_solution(DATA, x_start, alpha_bar_start, alpha_bar)
        counts.append(steps)
        errors.append(float(np.sqrt(np.mean((x - solution) ** 2))))
    return counts, errors


def converges_at_declared_order(make: Callable[..., Any]) -> Optional[str]:
    if is_stochastic(make):
        return Passed("stochastic: no ODE to converge to; its moments are checked")
    counts, errors = order_errors(make)
    order = -float(np.polyfit(np.log(counts), np.log(errors), 1)[0])
    declared = getattr(make(EXACT), "convergence_order", None)
    expected = 1 if declared is None else declared
    table = ", ".join(f"{e:.1e}" for e in errors) + f" at {', '.join(map(str, counts))} steps"
    if not errors[-1] * FALL < errors[0]:
        return (f"expected the error against the exact probability-flow ODE to fall as steps grow, got RMS {table} "
                f"(order {order:.2f}): the sampler does not solve the ODE it is given; check that each model call "
                "gets the timestep of the point it is evaluated at (a step that calls the model twice repeats its "
                "timestep in set_timesteps) and the update formula")
    if order < ORDER_SLACK * expected:
        claim = "its convergence_order" if declared is not None else "no convergence_order declared: at least 1"
        return (f"expected order about {expected} ({claim}), measured {order:.2f} (RMS {table}): a corrector or "
                "multistep formula that is only first order, or a convergence_order set too high")
    return Passed(f"order {order:.2f} (declares {'none' if declared is None else declared}); RMS error {table}")


def moment_gaps(samples: np.ndarray) -> list[tuple[str, float, float, float]]:
    """(statistic, sample value, data value, difference in standard errors) for each mean and covariance entry."""
    n, centred = len(samples), samples - samples.mean(0)
    mean, covariance = DATA.mean(), DATA.covariance()
    gaps = [(f"mean[{i}]", samples[:, i].mean(), mean[i], samples[:, i].std() / np.sqrt(n))
            for i in range(DATA.dim)]
    for i in range(DATA.dim):
        for j in range(i, DATA.dim):
            product = centred[:, i] * centred[:, j]
            gaps.append((f"cov[{i},{j}]", product.mean(), covariance[i, j], product.std() / np.sqrt(n)))
    return [(name, got, want, abs(got - want) / se) for name, got, want, se in gaps]


def reproduces_data_moments(make: Callable[..., Any]) -> Optional[str]:
    scheduler = make(EXACT)
    steps = train_steps(scheduler) // 2
    samples, _ = exact_run(scheduler, steps, noise(MOMENT_PARTICLES, 1), seed=3)
    gaps = moment_gaps(samples.reshape(MOMENT_PARTICLES, -1).numpy())
    name, got, want, z = max(gaps, key=lambda gap: gap[3])
    if not z <= Z_TOLERANCE:
        return (f"expected the samples' mean and covariance within {Z_TOLERANCE:g} standard errors of the data's at "
                f"{steps} steps (N = {MOMENT_PARTICLES}), {name} is {got:.4f} against {want:.4f} ({z:.1f} standard "
                "errors): the samples do not follow the data distribution (look at the step's noise, its update and "
                "its final step)")
    return Passed(f"within {z:.1f} standard errors at {steps} steps (N = {MOMENT_PARTICLES}, largest: {name})")
