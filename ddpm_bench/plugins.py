"""The plugin manager: entry points of group ``ddpm_bench``, loaded one at a time.

A plugin that fails to import, implements an unknown hook or none that registers something (pluggy silently skips a
hook function left without ``@hookimpl``), raises in a hook, or registers a malformed or taken name is recorded as a
``PluginFailure`` (plugin name, version, error) and skipped; the others keep working. Environment variables:

- ``DDPM_BENCH_STRICT_PLUGINS=1``: any plugin failure raises ``PluginError`` instead (for CI of plugin authors);
- ``DDPM_BENCH_DISABLE_PLUGINS=name,name``: entry points with these names are not loaded.
"""

from __future__ import annotations

import os
import re
import sys
import traceback
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any, Callable, Optional

import pluggy

from ddpm_bench import hookspecs
from ddpm_bench.errors import PluginError
from ddpm_bench.util.names import did_you_mean

ENTRY_POINT_GROUP = "ddpm_bench"
STRICT_ENV = "DDPM_BENCH_STRICT_PLUGINS"
DISABLE_ENV = "DDPM_BENCH_DISABLE_PLUGINS"
NAME_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_.\-]*(:[A-Za-z][A-Za-z0-9_.\-]*)?$")
KINDS = ("schedulers", "backbones")
REGISTERING_HOOKS = tuple(f"register_{kind}" for kind in KINDS)


@dataclass(frozen=True)
class Registration:
    """One thing a plugin registered, and where it came from."""

    name: str
    factory: Callable[..., Any]
    description: str
    plugin: str
    version: str
    package: str


@dataclass(frozen=True)
class PluginFailure:
    plugin: str
    package: str
    version: str
    error: str
    detail: str = ""

    def __str__(self) -> str:
        return f"plugin {self.plugin} ({self.package} {self.version}): {self.error}"


@dataclass(frozen=True)
class LoadedPlugin:
    name: str
    version: str
    package: str
    module: str
    unavailable: Optional[Callable[[], Optional[str]]] = None  # its plugin_unavailable hook, if it has one

    def status(self) -> str:
        """``ok``, or ``unavailable: what is missing``, as the plugin itself judges now."""
        try:
            reason = self.unavailable() if self.unavailable is not None else None
        except Exception as error:  # a broken check says so rather than hiding the plugin's state
            reason = f"its availability check raised {type(error).__name__}: {error}"
        return f"unavailable: {reason}" if reason else "ok"


@dataclass
class Registry:
    """Everything the loaded plugins registered, by kind and name, and what failed."""

    plugins: list[LoadedPlugin] = field(default_factory=list)
    failures: list[PluginFailure] = field(default_factory=list)
    schedulers: dict[str, Registration] = field(default_factory=dict)
    backbones: dict[str, Registration] = field(default_factory=dict)


def _truthy(value: Optional[str]) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def _disabled_names() -> set[str]:
    return {n.strip() for n in os.environ.get(DISABLE_ENV, "").split(",") if n.strip()}


def _distribution_of(entry_point: metadata.EntryPoint) -> tuple[str, str]:
    """(package name, version) of the distribution that declares ``entry_point``."""
    dist = getattr(entry_point, "dist", None)
    if dist is None:
        return "unknown", "unknown"
    return dist.metadata["Name"] or "unknown", dist.version or "unknown"


class _Collector:
    """Gathers one plugin's registrations so that they are kept all together or not at all."""

    def __init__(self, registry: Registry, plugin: str, package: str, version: str):
        self.registry, self.plugin, self.package, self.version = registry, plugin, package, version
        self.pending: dict[str, list[Registration]] = {kind: [] for kind in KINDS}

    def register_function(self, kind: str) -> Callable[..., None]:
        def register(name: str, factory: Callable[..., Any], description: str = "") -> None:
            if not isinstance(name, str) or not NAME_PATTERN.match(name):
                raise PluginError(f"registered a malformed {kind[:-1]} name {name!r}")
            if not callable(factory):
                raise PluginError(f"registered {name!r} with a factory that is not callable")
            taken = getattr(self.registry, kind).get(name) or next(
                (r for r in self.pending[kind] if r.name == name), None
            )
            if taken is not None:
                raise PluginError(f"registered {kind[:-1]} {name!r}, already registered by plugin {taken.plugin}")
            self.pending[kind].append(
                Registration(name, factory, str(description), self.plugin, self.version, self.package)
            )

        return register

    def commit(self) -> None:
        for kind, registrations in self.pending.items():
            table = getattr(self.registry, kind)
            for registration in registrations:
                table[registration.name] = registration


def _fail(registry: Registry, entry_point: metadata.EntryPoint, error: BaseException) -> None:
    package, version = _distribution_of(entry_point)
    failure = PluginFailure(
        entry_point.name, package, version, f"{type(error).__name__}: {error}",
        "".join(traceback.format_exception(error)),
    )
    if _truthy(os.environ.get(STRICT_ENV)):
        raise PluginError(f"{failure} (strict mode: {STRICT_ENV} is set)") from error
    registry.failures.append(failure)


def unknown_hooks(manager: pluggy.PluginManager, plugin: Any) -> Optional[str]:
    """What is wrong when ``plugin`` implements a hook no specification declares (a misspelt name), or None."""
    unknown = sorted(caller.name for caller in manager.get_hookcallers(plugin) or [] if not caller.has_spec())
    if not unknown:
        return None
    known = hookspecs.hook_names()
    return (f"implements unknown hook {unknown[0]!r}{did_you_mean(unknown[0], known)}; ddpm-bench's hooks are "
            f"{', '.join(known)}")


def registers_nothing(manager: pluggy.PluginManager, plugin: Any) -> Optional[str]:
    """What is wrong when ``plugin`` implements none of the hooks that register something, or None.

    Names the likely cause when it has a function named like such a hook that pluggy skipped for want of the marker.
    """
    implemented = {caller.name for caller in manager.get_hookcallers(plugin) or []}
    if implemented & set(REGISTERING_HOOKS):
        return None
    unmarked = [name for name in REGISTERING_HOOKS if callable(getattr(plugin, name, None))]
    if unmarked:
        functions = (f"a function named {unmarked[0]} is" if len(unmarked) == 1
                     else f"functions named {', '.join(unmarked)} are")
        return f"implements no ddpm-bench hook: {functions} not marked @hookimpl (from ddpm_bench import hookimpl)"
    hooks = ", ".join(REGISTERING_HOOKS)
    if implemented:
        others = ", ".join(sorted(implemented))
        return f"implements no ddpm-bench hook that registers something ({hooks}), only {others}"
    return f"implements no ddpm-bench hook ({hooks})"


def load_registry(entry_points: Optional[list[metadata.EntryPoint]] = None) -> Registry:
    """Import every plugin of the entry point group and collect what its hooks register."""
    registry = Registry()
    manager = pluggy.PluginManager("ddpm_bench")
    manager.add_hookspecs(hookspecs)
    disabled = _disabled_names()
    if entry_points is None:
        entry_points = sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name)
    seen: set[str] = set()
    for entry_point in entry_points:
        package, version = _distribution_of(entry_point)
        if entry_point.name in disabled or entry_point.name in seen:
            continue
        seen.add(entry_point.name)
        try:
            module = entry_point.load()
            manager.register(module, name=entry_point.name)
        except Exception as error:  # a broken plugin must not take down the others
            _fail(registry, entry_point, error)
            continue
        # a misspelt hook (pluggy's check_pending(), for this plugin alone) or an unmarked one would register nothing
        problem = unknown_hooks(manager, module) or registers_nothing(manager, module)
        if problem:
            manager.unregister(module)
            _fail(registry, entry_point, PluginError(problem))
            continue
        collector = _Collector(registry, entry_point.name, package, version)
        try:
            for kind in KINDS:
                hook = getattr(manager.hook, f"register_{kind}")
                for impl in hook.get_hookimpls():
                    if impl.plugin_name == entry_point.name:
                        impl.function(register=collector.register_function(kind))
        except Exception as error:
            manager.unregister(name=entry_point.name)
            _fail(registry, entry_point, error)
            continue
        collector.commit()
        check = next((impl.function for impl in manager.hook.plugin_unavailable.get_hookimpls()
                      if impl.plugin_name == entry_point.name), None)
        registry.plugins.append(
            LoadedPlugin(entry_point.name, version, package, getattr(module, "__name__", str(module)), check)
        )
    return registry


_registry: Optional[Registry] = None


def get_registry() -> Registry:
    """The process-wide registry, loaded on first use."""
    global _registry
    if _registry is None:
        _registry = load_registry()
        for failure in _registry.failures:
            print(f"ddpm-bench: warning: {failure} (skipped)", file=sys.stderr)
    return _registry


def reset_registry() -> None:
    """Forget the loaded plugins, so that the next ``get_registry`` loads them again (tests, installs)."""
    global _registry
    _registry = None
