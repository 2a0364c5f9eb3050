"""ddpm-bench: compare diffusion samplers on real denoising models."""

from ddpm_bench.api import create_scheduler, list_schedulers
from ddpm_bench.hookspecs import hookimpl

__version__ = "0.1.0"
__all__ = ["create_scheduler", "hookimpl", "list_schedulers", "__version__"]
