"""The docs' second worked example, docs/examples/heun_plugin: installed as a plugin and registered through the hook,
it passes the conformance kit with an order near 2; its two classic mistakes (timesteps not repeated, a first-order
corrector) and a reset that keeps a half-done step fail it, each with a message that says what to fix. The guide
shows the example's code as it is in the file."""

import importlib.util
import re
import uuid
from pathlib import Path

import pytest
from plugin_factory import install_plugin

from ddpm_bench import BaseScheduler
from ddpm_bench.plugins import DISABLE_ENV, STRICT_ENV, reset_registry
from ddpm_bench.schedulers.conformance import run_checks

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "docs" / "examples" / "heun_plugin"
SOURCE = (EXAMPLE / "ddpm_bench_heun.py").read_text()


def load_example():
    spec = importlib.util.spec_from_file_location(f"heun_{uuid.uuid4().hex[:8]}", EXAMPLE / "ddpm_bench_heun.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


HeunScheduler = load_example().HeunScheduler


class NotRepeated(HeunScheduler):
    """Lists each grid point once: n model calls where its step needs 2n - 1."""

    def set_timesteps(self, num_inference_steps, device=None):
        BaseScheduler.set_timesteps(self, num_inference_steps, device)


class FirstOrderCorrector(HeunScheduler):
    """Corrects with the end point's slope alone (an explicit backward Euler), not the trapezoid's mean."""

    def slope(self, eps_start, eps_end):
        return eps_end


class KeepsPendingStep(HeunScheduler):
    """A reset that forgets to clear a predictor whose corrector has not run."""

    def reset(self):
        if not hasattr(self, "pending"):
            self.pending = None


@pytest.fixture
def heun_installed(tmp_path, monkeypatch):
    """The example installed as a distribution with its entry point, the registry reloaded to find it."""
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.delenv(STRICT_ENV, raising=False)
    monkeypatch.delenv(DISABLE_ENV, raising=False)
    install_plugin(tmp_path / "site", "ddpm-bench-heun", "0.1.0", "heun", f"ddpm_bench_heun_{uuid.uuid4().hex[:8]}",
                   SOURCE)
    reset_registry()
    yield
    reset_registry()


def failures(results):
    return {r.name: r.message for r in results if not r.passed}


def test_the_example_passes_the_kit_with_order_near_2(heun_installed):
    results = run_checks("heun")
    assert failures(results) == {}
    notes = "\n".join(r.message for r in results)
    assert "19 calls" not in notes and "49 calls at 25 steps, as declared" in notes
    order = float(re.search(r"order ([\d.]+) \(declares 2\)", notes).group(1))
    assert 1.8 < order < 2.3


def test_timesteps_not_repeated_fail_on_the_count_and_the_convergence():
    failed = failures(run_checks(NotRepeated))
    count = failed["the loop's model calls equal the declared NFE"]
    assert "declares nfe(10) = 19 model calls, the loop made 10" in count
    (convergence,) = [m for name, m in failed.items() if name.startswith("converges")]
    assert "expected the error against the exact probability-flow ODE to fall" in convergence
    assert "repeats its timestep in set_timesteps" in convergence


def test_a_first_order_corrector_fails_on_its_order():
    failed = failures(run_checks(FirstOrderCorrector))
    (convergence,) = failed.values()
    order = float(re.search(r"measured ([\d.]+)", convergence).group(1))
    assert "expected order about 2 (its convergence_order)" in convergence and 0.8 < order < 1.4


def test_a_reset_that_keeps_a_half_done_step_fails():
    failed = failures(run_checks(KeepsPendingStep))
    (message,) = failed.values()
    assert "stopped at model call 9 of 19" in message and "a predictor's pending half-step" in message


def test_the_guide_shows_the_example_file_as_it_is():
    guide = (ROOT / "docs" / "plugins.md").read_text()
    blocks = re.findall(r"```(?:python|toml)\n(.*?)```", guide, re.S)
    assert SOURCE in blocks
    assert (EXAMPLE / "pyproject.toml").read_text().split("\n\n", 1)[1] in blocks


def test_the_guides_first_plugin_conforms_and_imports_only_the_public_api():
    guide = (ROOT / "docs" / "plugins.md").read_text()
    (source,) = [block for block in re.findall(r"```python\n(.*?)```", guide, re.S) if "class HalfDDIM" in block]
    assert [name for name in re.findall(r"^from (\S+)", source, re.M) if name.startswith("ddpm")] == ["ddpm_bench"]
    namespace = {"__name__": "ddpm_bench_halfddim"}
    exec(source, namespace)
    assert failures(run_checks(namespace["HalfDDIM"])) == {}
    assert failures(run_checks(namespace["HalfDDIM"], eta=1.0)) == {}


def test_the_example_imports_only_the_public_api():
    imported = re.findall(r"^(?:from|import) (\S+)", SOURCE, re.M)
    assert [name for name in imported if name.startswith("ddpm_bench")] == ["ddpm_bench"]
