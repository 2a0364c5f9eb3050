"""The sweep's public entry point, where the README shows it: ``ddpm_bench.sweep.run_sweep(config, out)``."""

from ddpm_bench.runs.sweep import run_sweep

__all__ = ["run_sweep"]
