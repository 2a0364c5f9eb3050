"""``ddpm-bench schedulers`` and ``ddpm-bench plugins``: what the registry holds, and which plugins failed to load."""

from __future__ import annotations

import argparse

from ddpm_bench.cli.table import print_table


def add_parsers(subparsers) -> None:
    schedulers = subparsers.add_parser("schedulers",
                                       help="list the registered schedulers with their plugin and version")
    schedulers.set_defaults(handler=run_schedulers)
    plugins = subparsers.add_parser("plugins", help="list loaded plugins and those that failed, with the reason")
    plugins.set_defaults(handler=run_plugins)


def run_schedulers(args: argparse.Namespace) -> int:
    # imported when the command runs (here and in run_plugins): the registry loads pluggy and the scheduler modules
    from ddpm_bench.schedulers.specs import list_schedulers

    rows = [(s.name, f"{s.plugin} ({s.package} {s.version})", s.description) for s in list_schedulers()]
    print_table(("name", "plugin", "description"), rows)
    return 0


def run_plugins(args: argparse.Namespace) -> int:
    from ddpm_bench.plugins import get_registry

    registry = get_registry()
    rows = [(p.name, p.package, p.version, p.module, p.status()) for p in registry.plugins]
    rows += [(f.plugin, f.package, f.version, "", f"FAILED: {f.error}") for f in registry.failures]
    print_table(("plugin", "package", "version", "module", "status"), rows)
    return 1 if registry.failures else 0
