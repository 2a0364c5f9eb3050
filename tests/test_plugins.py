"""The plugin system with real installed distributions: good, broken, raising, duplicate and malformed plugins."""

import re
import subprocess
import sys
import uuid

import pytest

from ddpm_bench import hookspecs
from ddpm_bench.errors import PluginError
from ddpm_bench.plugins import DISABLE_ENV, STRICT_ENV, load_registry
from plugin_factory import install_plugin

GOOD = """
from ddpm_bench import hookimpl
from ddpm_bench.schedulers.ddim import DDIMScheduler

@hookimpl
def register_schedulers(register):
    register("toy-ddim", DDIMScheduler, "a third-party copy of DDIM")
"""


@pytest.fixture
def site(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.delenv(STRICT_ENV, raising=False)
    monkeypatch.delenv(DISABLE_ENV, raising=False)
    return tmp_path / "site"


def unique(prefix):
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def test_builtins_come_from_entry_points():
    registry = load_registry()
    assert {"ddpm", "ddim", "pndm"} <= set(registry.schedulers)
    for name in ("ddpm", "ddim", "pndm"):
        registration = registry.schedulers[name]
        assert registration.plugin == name
        assert registration.package == "ddpm-bench"
    assert not registry.failures


def test_third_party_plugin_is_registered_with_its_name_and_version(site):
    install_plugin(site, "ddpm-bench-toy", "2.3.4", "toy", unique("toy"), GOOD)
    registry = load_registry()
    registration = registry.schedulers["toy-ddim"]
    assert (registration.plugin, registration.package, registration.version) == ("toy", "ddpm-bench-toy", "2.3.4")
    assert registration.description == "a third-party copy of DDIM"


@pytest.mark.parametrize(
    "source,expected",
    [
        ("raise ImportError('needs libfoo')\n", "ImportError: needs libfoo"),
        ("from ddpm_bench import hookimpl\n@hookimpl\ndef register_schedulers(register):\n    raise RuntimeError('boom')\n", "RuntimeError: boom"),
        (
            "from ddpm_bench import hookimpl\nfrom ddpm_bench.schedulers.ddim import DDIMScheduler\n"
            "@hookimpl\ndef register_schedulers(register):\n    register('ddim', DDIMScheduler, 'mine')\n",
            "already registered by plugin ddim",
        ),
        (
            "from ddpm_bench import hookimpl\n@hookimpl\ndef register_schedulers(register):\n    register('bad name!', dict, '')\n",
            "malformed scheduler name",
        ),
        (
            "from ddpm_bench import hookimpl\n@hookimpl\ndef register_schedulers(register):\n    register('notcallable', 42, '')\n",
            "not callable",
        ),
    ],
    ids=["import-error", "hook-raises", "duplicate-name", "malformed-name", "not-callable"],
)
def test_a_broken_plugin_is_reported_and_skipped(site, source, expected):
    install_plugin(site, "ddpm-bench-broken", "0.0.1", "zzbroken", unique("broken"), source)
    install_plugin(site, "ddpm-bench-toy", "2.3.4", "toy", unique("toy"), GOOD)
    registry = load_registry()
    assert {"ddpm", "ddim", "pndm", "toy-ddim"} <= set(registry.schedulers)
    assert registry.schedulers["ddim"].plugin == "ddim"
    (failure,) = registry.failures
    assert (failure.plugin, failure.package, failure.version) == ("zzbroken", "ddpm-bench-broken", "0.0.1")
    assert expected in failure.error
    assert "zzbroken" not in {p.name for p in registry.plugins}


def test_a_plugin_that_raises_after_registering_keeps_nothing(site):
    source = (
        "from ddpm_bench import hookimpl\nfrom ddpm_bench.schedulers.ddim import DDIMScheduler\n"
        "@hookimpl\ndef register_schedulers(register):\n    register('half', DDIMScheduler, '')\n    raise ValueError('late')\n"
    )
    install_plugin(site, "ddpm-bench-half", "1.0", "half", unique("half"), source)
    registry = load_registry()
    assert "half" not in registry.schedulers
    assert registry.failures[0].error == "ValueError: late"


def test_strict_mode_makes_a_failure_fatal(site, monkeypatch):
    install_plugin(site, "ddpm-bench-broken", "0.0.1", "zzbroken", unique("broken"), "raise ImportError('x')\n")
    monkeypatch.setenv(STRICT_ENV, "1")
    with pytest.raises(PluginError, match=r"zzbroken \(ddpm-bench-broken 0.0.1\).*strict mode"):
        load_registry()


def test_disabled_plugins_are_not_loaded(site, monkeypatch):
    install_plugin(site, "ddpm-bench-broken", "0.0.1", "zzbroken", unique("broken"), "raise ImportError('x')\n")
    monkeypatch.setenv(DISABLE_ENV, "zzbroken, pndm")
    registry = load_registry()
    assert not registry.failures
    assert "pndm" not in registry.schedulers
    assert "ddim" in registry.schedulers


def test_every_hookspec_is_documented():
    specs = [getattr(hookspecs, name) for name in dir(hookspecs) if name.startswith("register_")]
    assert specs
    for spec in specs:
        assert spec.__doc__ and "register(" in spec.__doc__ and "Called" in spec.__doc__


def test_cli_reports_a_broken_plugin_and_still_lists_the_others(tmp_path):
    site = tmp_path / "site"
    install_plugin(site, "ddpm-bench-broken", "0.0.1", "zzbroken", unique("broken"), "raise ImportError('needs libfoo')\n")
    env = {"PYTHONPATH": str(site), "PATH": ""}
    plugins = subprocess.run([sys.executable, "-m", "ddpm_bench", "plugins"], capture_output=True, text=True, env=env)
    assert plugins.returncode == 1
    assert re.search(r"^zzbroken\s+ddpm-bench-broken\s+0\.0\.1\s+FAILED: ImportError: needs libfoo$", plugins.stdout, re.M)
    listing = subprocess.run([sys.executable, "-m", "ddpm_bench", "schedulers"], capture_output=True, text=True, env=env)
    assert listing.returncode == 0
    assert all(name in listing.stdout for name in ("ddpm", "ddim", "pndm"))
    assert "warning: plugin zzbroken (ddpm-bench-broken 0.0.1): ImportError: needs libfoo (skipped)" in listing.stderr
    assert "Traceback" not in listing.stderr
