"""Hook specifications: what a ddpm-bench plugin can provide.

A plugin is a module named by an entry point in the group ``ddpm_bench``::

    [project.entry-points.ddpm_bench]
    mysampler = "ddpm_bench_mysampler"

and implements one or more of the hooks below, marked with ``@ddpm_bench.hookimpl``. The built-in DDPM, DDIM and
PNDM schedulers are registered this way too, from this project's own ``pyproject.toml``.
"""

import pluggy

hookspec = pluggy.HookspecMarker("ddpm_bench")
hookimpl = pluggy.HookimplMarker("ddpm_bench")


def hook_names() -> list[str]:
    """The names of every hook specification below."""
    return sorted(name for name, value in globals().items() if hasattr(value, "ddpm_bench_spec"))


@hookspec
def register_schedulers(register):
    """Register scheduler factories.

    Called once per process, the first time the registry is needed (``ddpm-bench schedulers``, ``create_scheduler``,
    a sweep), after every plugin module has been imported. Call ``register(name, factory, description)`` once per
    scheduler:

    - ``name``: what users type (``--schedulers NAME``); letters, digits, ``_ . -`` and at most one ``:`` namespace
      separator (``diffusers:EulerDiscreteScheduler``); must not be taken by another plugin;
    - ``factory``: a callable taking keyword config (diffusers' option names) and returning an object that follows
      the scheduler protocol ``ddpm_bench.Scheduler`` (schedulers/protocol.py; ``ddpm-bench check NAME`` checks it);
      a scheduler class is the usual factory;
    - ``description``: one line shown by ``ddpm-bench schedulers``.

    A plugin whose hook raises, or that registers a malformed or taken name, is reported and none of its
    registrations are kept.
    """


@hookspec
def plugin_unavailable():
    """Say what keeps this plugin from working now, or return None when everything it registered can work.

    Called by ``ddpm-bench plugins`` for each loaded plugin that implements it, after loading, with no arguments;
    return one line naming what is missing and how to get it (``needs torch-fidelity (pip install
    'ddpm-bench[inception]')``, ``no weights at PATH``). It must be cheap and must not import heavy optional
    dependencies just to look for them (``importlib.util.find_spec`` will do). ``plugins`` then shows the plugin as
    ``unavailable: <line>`` rather than ``ok``; the plugin stays loaded, and its exit status stays 0.
    """


@hookspec
def register_backbones(register):
    """Register feature networks for FID and KID.

    Called like ``register_schedulers``. Call ``register(name, factory, description)``: ``factory()`` returns a
    ``ddpm_bench.metrics.backbones.Backbone``.
    """
