"""The plugin system with real installed distributions: good, broken, raising, duplicate and malformed plugins."""

import re
import uuid
from pathlib import Path

import processes
import pytest
import torch
from plugin_factory import install_plugin

from ddpm_bench import hookspecs
from ddpm_bench.errors import PluginError
from ddpm_bench.plugins import DISABLE_ENV, STRICT_ENV, load_registry

GOOD = """
from ddpm_bench import hookimpl
from ddpm_bench.schedulers.ddim import DDIMScheduler

@hookimpl
def register_schedulers(register):
    register("toy-ddim", DDIMScheduler, "a third-party copy of DDIM")
"""


UNMARKED = """
from ddpm_bench.schedulers.ddim import DDIMScheduler

def register_schedulers(register):
    register("heun", DDIMScheduler, "forgot @hookimpl")
"""
UNMARKED_REASON = ("PluginError: implements no ddpm-bench hook: a function named register_schedulers is not marked "
                   "@hookimpl (from ddpm_bench import hookimpl)")


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
        (
            "from ddpm_bench import hookimpl\n@hookimpl\ndef register_schedulers(register):\n"
            "    raise RuntimeError('boom')\n",
            "RuntimeError: boom",
        ),
        (
            "from ddpm_bench import hookimpl\nfrom ddpm_bench.schedulers.ddim import DDIMScheduler\n"
            "@hookimpl\ndef register_schedulers(register):\n    register('ddim', DDIMScheduler, 'mine')\n",
            "already registered by plugin ddim",
        ),
        (
            "from ddpm_bench import hookimpl\n@hookimpl\ndef register_schedulers(register):\n"
            "    register('bad name!', dict, '')\n",
            "malformed scheduler name",
        ),
        (
            "from ddpm_bench import hookimpl\n@hookimpl\ndef register_schedulers(register):\n"
            "    register('notcallable', 42, '')\n",
            "not callable",
        ),
        (
            "from ddpm_bench import hookimpl\nfrom ddpm_bench.schedulers.ddim import DDIMScheduler\n"
            "@hookimpl\ndef register_schedulerz(register):\n    register('typo', DDIMScheduler, '')\n",
            "implements unknown hook 'register_schedulerz' (did you mean 'register_schedulers'?)",
        ),
        (UNMARKED, UNMARKED_REASON),
        ("from ddpm_bench.schedulers.ddim import DDIMScheduler\n",
         "PluginError: implements no ddpm-bench hook (register_schedulers, register_backbones)"),
        ("from ddpm_bench import hookimpl\n@hookimpl\ndef plugin_unavailable():\n    return None\n",
         "implements no ddpm-bench hook that registers something (register_schedulers, register_backbones), "
         "only plugin_unavailable"),
    ],
    ids=["import-error", "hook-raises", "duplicate-name", "malformed-name", "not-callable", "misspelt-hook",
         "unmarked-hook", "no-hook", "only-availability-hook"],
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
        "@hookimpl\ndef register_schedulers(register):\n    register('half', DDIMScheduler, '')\n"
        "    raise ValueError('late')\n"
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


def test_strict_mode_makes_an_unmarked_hook_fatal(site, monkeypatch):
    install_plugin(site, "ddpm-bench-heun", "0.1.0", "heun", unique("heun"), UNMARKED)
    monkeypatch.setenv(STRICT_ENV, "1")
    with pytest.raises(PluginError, match=r"heun \(ddpm-bench-heun 0.1.0\): .*register_schedulers is not marked "
                                          r"@hookimpl.*strict mode"):
        load_registry()


def test_disabled_plugins_are_not_loaded(site, monkeypatch):
    install_plugin(site, "ddpm-bench-broken", "0.0.1", "zzbroken", unique("broken"), "raise ImportError('x')\n")
    monkeypatch.setenv(DISABLE_ENV, "zzbroken, pndm")
    registry = load_registry()
    assert not registry.failures
    assert "pndm" not in registry.schedulers
    assert "ddim" in registry.schedulers


HOOKSPECS = hookspecs.hook_names()
ROOT = Path(__file__).resolve().parents[1]


def test_every_hookspec_is_documented():
    assert HOOKSPECS == ["plugin_unavailable", "register_backbones", "register_schedulers"]
    guide = (ROOT / "docs" / "plugins.md").read_text()
    for name in HOOKSPECS:
        spec = getattr(hookspecs, name)
        assert spec.__doc__ and "Called" in spec.__doc__, name
        assert f"def {name}(" in guide, f"docs/plugins.md shows no worked example of {name}"


def test_every_hookspec_is_exercised_by_a_test():
    """datasette's meta-test: a hook that no test implements can break unnoticed."""
    tests = "".join(path.read_text() for path in (ROOT / "tests").glob("test_*.py"))
    for name in HOOKSPECS:
        assert f"def {name}(" in tests, f"no test implements {name}"


BACKBONE_PLUGIN = """
import torch
from ddpm_bench import hookimpl

class MeanPixels:
    name = "mean-pixels"
    feature_dim = 2
    preprocessing = "mean and spread of the pixel values, in [0, 1]"

    def identity(self):
        return "mean-pixels:1"

    def features(self, images):
        x = images.float().flatten(1) / 255
        return torch.stack([x.mean(1), x.std(1)], dim=1)

@hookimpl
def register_backbones(register):
    register("mean-pixels", MeanPixels, "two pixel statistics, for tests")
"""


def test_a_plugin_backbone_scores_like_a_builtin(site, isolated_cache):
    from ddpm_bench import plugins
    from ddpm_bench.metrics.backbones import get_backbone
    from ddpm_bench.metrics.reference import reference_stats
    from ddpm_bench.metrics.scoring import score_images
    from ddpm_bench.model.data import mnist_digits

    install_plugin(site, "ddpm-bench-meanpix", "0.2.0", "meanpix", unique("meanpix"), BACKBONE_PLUGIN)
    plugins.reset_registry()
    try:
        registration = plugins.get_registry().backbones["mean-pixels"]
        assert (registration.plugin, registration.package, registration.version) == (
            "meanpix", "ddpm-bench-meanpix", "0.2.0"
        )
        backbone = get_backbone("mean-pixels")
        digits = mnist_digits()[0]
        reference = reference_stats("embedded:mnist", backbone)
        assert reference.n == 5000 and reference.mu.shape == (2,)
        same = score_images(backbone, reference, [digits[:1000]])
        blank = score_images(backbone, reference, [torch.zeros_like(digits[:1000])])
        assert same["fid"] < 0.01 < blank["fid"]
    finally:
        plugins.reset_registry()


def test_a_misspelt_hook_is_shown_as_broken_by_the_cli(tmp_path):
    site = tmp_path / "site"
    source = ("from ddpm_bench import hookimpl\nfrom ddpm_bench.schedulers.ddim import DDIMScheduler\n"
              "@hookimpl\ndef register_schedulerz(register):\n    register('typo', DDIMScheduler, '')\n")
    install_plugin(site, "ddpm-bench-typo", "0.0.1", "typo", unique("typo"), source)
    plugins = processes.ddpm_bench("plugins", env={"PYTHONPATH": str(site), "PATH": ""})
    assert plugins.returncode == 1
    assert re.search(r"^typo\s+ddpm-bench-typo\s+0\.0\.1\s+FAILED: PluginError: implements unknown hook "
                     r"'register_schedulerz' \(did you mean 'register_schedulers'\?\)", plugins.stdout, re.M)
    assert re.search(r"^ddim\s+ddpm-bench\s+\S+\s+ddpm_bench.schedulers.ddim\s+ok$", plugins.stdout, re.M)


def test_an_unmarked_hook_is_shown_as_broken_by_the_cli(tmp_path):
    site = tmp_path / "site"
    install_plugin(site, "ddpm-bench-heun", "0.1.0", "heun", unique("heun"), UNMARKED)
    plugins = processes.ddpm_bench("plugins", env={"PYTHONPATH": str(site), "PATH": ""})
    assert plugins.returncode == 1
    failed = rf"^heun\s+ddpm-bench-heun\s+0\.1\.0\s+FAILED: {re.escape(UNMARKED_REASON)}$"
    assert re.search(failed, plugins.stdout, re.M), plugins.stdout
    for builtin in ("ddpm", "ddim", "pndm", "mnist-cnn", "inception", "diffusers"):
        assert re.search(rf"^{builtin}\s+ddpm-bench\s+.*\s(ok|unavailable: .*)$", plugins.stdout, re.M), builtin


def test_cli_reports_a_broken_plugin_and_still_lists_the_others(tmp_path):
    site = tmp_path / "site"
    install_plugin(
        site, "ddpm-bench-broken", "0.0.1", "zzbroken", unique("broken"), "raise ImportError('needs libfoo')\n"
    )
    env = {"PYTHONPATH": str(site), "PATH": ""}
    plugins = processes.ddpm_bench("plugins", env=env)
    assert plugins.returncode == 1
    assert re.search(
        r"^zzbroken\s+ddpm-bench-broken\s+0\.0\.1\s+FAILED: ImportError: needs libfoo$", plugins.stdout, re.M
    )
    listing = processes.ddpm_bench("schedulers", env=env)
    assert listing.returncode == 0
    assert all(name in listing.stdout for name in ("ddpm", "ddim", "pndm"))
    assert "warning: plugin zzbroken (ddpm-bench-broken 0.0.1): ImportError: needs libfoo (skipped)" in listing.stderr
    assert "Traceback" not in listing.stderr


def test_plugins_shows_what_a_plugin_lacks_and_still_exits_0(tmp_path):
    site = tmp_path / "site"
    source = ("import importlib.util\nfrom ddpm_bench import hookimpl\n"
              "from ddpm_bench.schedulers.ddim import DDIMScheduler\n"
              "@hookimpl\ndef register_schedulers(register):\n    register('needs-bar', DDIMScheduler, '')\n"
              "@hookimpl\ndef plugin_unavailable():\n"
              "    return None if importlib.util.find_spec('libbar') else \"needs libbar (pip install libbar)\"\n")
    install_plugin(site, "ddpm-bench-bar", "1.0.0", "bar", unique("bar"), source)
    result = processes.ddpm_bench("plugins", env={"PYTHONPATH": str(site), "PATH": ""})
    assert result.returncode == 0, result.stdout
    assert re.search(r"^bar\s+ddpm-bench-bar\s+1\.0\.0\s+\S+\s+unavailable: needs libbar \(pip install libbar\)$",
                     result.stdout, re.M)


def test_the_inception_backbone_says_whether_it_can_work(tmp_path, monkeypatch):
    import importlib.util

    from ddpm_bench.metrics import inception

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name: None if name == "torch_fidelity" else real_find_spec(name)
    )
    assert inception.plugin_unavailable() == "needs torch-fidelity (pip install 'ddpm-bench[inception]')"
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: object())
    monkeypatch.setenv(inception.WEIGHTS_ENV, str(tmp_path / "weights.pth"))
    assert inception.plugin_unavailable().startswith(f"no weights at {tmp_path / 'weights.pth'}")
    (tmp_path / "weights.pth").write_bytes(b"")
    assert inception.plugin_unavailable() is None
