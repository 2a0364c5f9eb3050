"""ddpm-bench: compare diffusion samplers on real denoising models.

The public API, for users and for plugin authors (docs/plugins.md): everything a scheduler package needs is
importable from here, so a plugin never reaches into a private module.
"""

import importlib

# name -> the module that defines it. Loaded on first use (PEP 562), so that importing one part of the package (the
# report, the statistics) does not import torch, the schedulers and the plugin registry with it.
_PUBLIC = {
    "BaseScheduler": "ddpm_bench.schedulers.base", "SchedulerOutput": "ddpm_bench.schedulers.base",
    "randn_like_batch": "ddpm_bench.schedulers.base", "step_output": "ddpm_bench.schedulers.base",
    "BenchError": "ddpm_bench.errors", "ConfigError": "ddpm_bench.errors",
    "ClippingConfig": "ddpm_bench.schedulers.config", "SchedulerConfig": "ddpm_bench.schedulers.config",
    "TimestepSpacing": "ddpm_bench.schedulers.config",
    "Scheduler": "ddpm_bench.schedulers.protocol",
    "check_scheduler": "ddpm_bench.schedulers.conformance",
    "create_scheduler": "ddpm_bench.schedulers.specs", "list_schedulers": "ddpm_bench.schedulers.specs",
    "hookimpl": "ddpm_bench.hookspecs",
    "make_betas": "ddpm_bench.schedulers.schedules", "timestep_grid": "ddpm_bench.schedulers.schedules",
}


def __getattr__(name: str):
    if name not in _PUBLIC:
        raise AttributeError(f"module 'ddpm_bench' has no attribute {name!r}")
    value = getattr(importlib.import_module(_PUBLIC[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__version__ = "0.1.0"
__all__ = [
    "BaseScheduler", "BenchError", "ClippingConfig", "ConfigError", "Scheduler", "SchedulerConfig", "SchedulerOutput",
    "TimestepSpacing", "check_scheduler", "create_scheduler", "hookimpl", "list_schedulers", "make_betas",
    "randn_like_batch", "step_output", "timestep_grid", "__version__",
]
