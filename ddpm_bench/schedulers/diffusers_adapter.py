"""Every discrete-time scheduler of the installed diffusers as ``diffusers:<ClassName>``.

The classes are those diffusers itself declares interchangeable with ``DDPMScheduler`` (its ``_compatibles``: DDIM,
PNDM, LMS, Euler, Heun, DPM-Solver, UniPC, ...). Each is configured with diffusers' own option names, so a model's
``scheduler_config.json`` reaches it; the sampler honours ``scale_model_input`` and ``init_noise_sigma``, and counts
the model calls in its loop (Heun and KDPM2 list each of their two calls per step in ``timesteps``).

So ``ddpm-bench sweep --schedulers ddim,diffusers:DDIMScheduler`` compares our DDIM with diffusers' on one model.
"""

from __future__ import annotations

import functools
import importlib.metadata
import importlib.util
import inspect
from typing import Any

import numpy as np

from ddpm_bench.errors import ConfigError
from ddpm_bench.hookspecs import hookimpl
from ddpm_bench.schedulers.base import SchedulerOutput
from ddpm_bench.store.disk_cache import remembered
from ddpm_bench.util.names import unknown_option

PREFIX = "diffusers:"
SOLVER_ORDER = "solver_order"
# the order of convergence each deterministic method claims: DDIM and Euler first order; Heun (Karras et al. 2022 Alg.
# 1) and KDPM2 second; LMS fourth (its step's default order=4); PNDM's pseudo linear multistep second on a grid
# uniform in t (see schedulers/pndm.py); the multistep solvers their configured ``solver_order``
CONVERGENCE_ORDERS = {
    "DDIMScheduler": 1, "EulerDiscreteScheduler": 1, "HeunDiscreteScheduler": 2, "KDPM2DiscreteScheduler": 2,
    "LMSDiscreteScheduler": 4, "PNDMScheduler": 2, "DPMSolverMultistepScheduler": SOLVER_ORDER,
    "DPMSolverSinglestepScheduler": SOLVER_ORDER, "DEISMultistepScheduler": SOLVER_ORDER,
    "UniPCMultistepScheduler": SOLVER_ORDER,
}
# adapted schedulers that ``ddpm-bench check`` fails, and why
KNOWN_FAILURES = {
    "DPMSolverSDEScheduler": "needs the optional dependency torchsde (pip install torchsde), which is not installed",
    "EDMEulerScheduler": "works on EDM's own noise levels (sigma 0.002 to 80, timesteps 0.25 log sigma), not on a "
                         "discrete alphas_cumprod schedule: the kit's exact model cannot be posed for it, and its "
                         "add_noise finds no DDPM timestep among its own (IndexError)",
}


class DiffusersScheduler:
    """A diffusers scheduler behind ddpm-bench's protocol: checked options, generator passed only where accepted,
    ``step`` returning ``prev_sample`` and (where diffusers gives it) ``pred_original_sample``."""

    def __init__(self, scheduler_class: type, **config: Any):
        parameters = inspect.signature(scheduler_class.__init__).parameters
        for name in config:
            if name not in parameters or name == "self":
                raise ConfigError(
                    unknown_option(scheduler_class.__name__, name, [p for p in parameters if p != "self"])
                )
        try:
            self.inner = scheduler_class(**config)
        except (TypeError, ValueError, NotImplementedError, ImportError) as error:  # ImportError: a missing extra
            message = " ".join(str(error).split())
            raise ConfigError(f"{scheduler_class.__name__}: {message}") from error
        self._takes_generator = "generator" in inspect.signature(self.inner.step).parameters

    @property
    def config(self):
        return dict(self.inner.config)

    @property
    def timesteps(self):
        return self.inner.timesteps

    @property
    def init_noise_sigma(self):
        return self.inner.init_noise_sigma

    @property
    def alphas_cumprod(self):
        """diffusers' alpha_bar_t, which the conformance kit's exact model uses (None for EDM's sigma schedule)."""
        return getattr(self.inner, "alphas_cumprod", None)

    @property
    def convergence_order(self):
        """The order the method claims (``CONVERGENCE_ORDERS``), which ``ddpm-bench check`` measures; None where
        none is claimed (the stochastic samplers)."""
        order = CONVERGENCE_ORDERS.get(type(self.inner).__name__)
        return self.inner.config.get("solver_order", 2) if order == SOLVER_ORDER else order

    def set_timesteps(self, num_inference_steps: int, device: Any = None) -> None:
        T = self.inner.config.num_train_timesteps
        if (
            isinstance(num_inference_steps, bool)
            or not isinstance(num_inference_steps, int)
            or not 1 <= num_inference_steps <= T
        ):
            raise ConfigError(f"num_inference_steps={num_inference_steps!r} is outside 1..num_train_timesteps={T}")
        self.inner.set_timesteps(num_inference_steps, device=device)

    def scale_model_input(self, sample, timestep):
        return self.inner.scale_model_input(sample, timestep)

    def add_noise(self, original_samples, noise, timesteps):
        return self.inner.add_noise(original_samples, noise, timesteps)

    def step(self, model_output, timestep, sample, generator=None, return_dict: bool = True):
        kwargs = {"generator": generator} if self._takes_generator else {}
        output = self.inner.step(model_output, timestep, sample, **kwargs)
        result = SchedulerOutput(output.prev_sample, getattr(output, "pred_original_sample", None))
        return result if return_dict else (result.prev_sample,)


class LazyFactory:
    """The factory of one diffusers scheduler class, imported only when the factory is called or its signature is
    read: importing every compatible class takes seconds, which a run of the built-in schedulers, or a finished
    sweep run again, should not pay. Its signature is the class's, so that a model's schedule reaches the options
    the class has."""

    def __init__(self, class_name: str):
        self.__name__ = class_name

    @functools.cached_property
    def scheduler_class(self) -> type:
        import diffusers

        return getattr(diffusers, self.__name__)

    @property
    def __signature__(self) -> inspect.Signature:
        parameters = inspect.signature(self.scheduler_class.__init__).parameters
        return inspect.Signature([p for name, p in parameters.items() if name != "self"])

    def __call__(self, **config: Any) -> DiffusersScheduler:
        return DiffusersScheduler(self.scheduler_class, **config)


def compatible_names(version: str) -> list[str]:
    """The diffusers classes declared interchangeable with DDPMScheduler that the installed diffusers (``version``)
    has, remembered per installation (its version and location): reading them imports diffusers (and torch._dynamo
    with it), most of a finished sweep's run again, which every command would pay when it looks up a scheduler."""
    key = f"diffusers {version} at {importlib.util.find_spec('diffusers').origin}"
    return [str(name) for name in remembered("diffusers-compatible-schedulers", key, _read_compatible_names)]


def _read_compatible_names() -> np.ndarray:
    import diffusers

    available = set(dir(diffusers))  # by name: listing the lazy module imports no scheduler
    return np.array(
        [name for name in sorted({"DDPMScheduler", *diffusers.DDPMScheduler._compatibles}) if name in available]
    )


@hookimpl
def register_schedulers(register):
    version = importlib.metadata.version("diffusers")
    for name in compatible_names(version):
        register(f"{PREFIX}{name}", LazyFactory(name), f"diffusers {version} {name}, adapted")
