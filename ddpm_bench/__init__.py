"""ddpm-bench: compare diffusion samplers on real denoising models.

The public API, for users and for plugin authors (docs/plugins.md): everything a scheduler package needs is
importable from here, so a plugin never reaches into a private module.
"""

from ddpm_bench.schedulers.specs import create_scheduler, list_schedulers
from ddpm_bench.errors import BenchError, ConfigError
from ddpm_bench.hookspecs import hookimpl
from ddpm_bench.schedulers.base import BaseScheduler, SchedulerOutput, randn_like_batch, step_output
from ddpm_bench.schedulers.config import ClippingConfig, SchedulerConfig, TimestepSpacing
from ddpm_bench.schedulers.protocol import Scheduler
from ddpm_bench.schedulers.schedules import make_betas, timestep_grid

__version__ = "0.1.0"
__all__ = [
    "BaseScheduler", "BenchError", "ClippingConfig", "ConfigError", "Scheduler", "SchedulerConfig", "SchedulerOutput",
    "TimestepSpacing", "create_scheduler", "hookimpl", "list_schedulers", "make_betas", "randn_like_batch",
    "step_output", "timestep_grid", "__version__",
]
