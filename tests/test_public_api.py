"""The public API: what a plugin author imports from ``ddpm_bench``, and no module reaching into another's privates."""

import ast
import re
from pathlib import Path

import pytest
import torch

import ddpm_bench
from ddpm_bench import ConfigError, Scheduler, SchedulerOutput, create_scheduler, hookimpl, list_schedulers

PACKAGES = [Path(ddpm_bench.__file__).parent, Path(__file__).resolve().parents[1] / "plugins"]


def test_the_names_a_plugin_author_needs_are_public():
    for name in ("Scheduler", "SchedulerOutput", "hookimpl", "BaseScheduler", "SchedulerConfig", "step_output",
                 "timestep_grid", "randn_like_batch", "ConfigError"):
        assert name in ddpm_bench.__all__ and hasattr(ddpm_bench, name), name
    assert callable(hookimpl) and SchedulerOutput(torch.zeros(1)).pred_original_sample is None


def test_every_registered_scheduler_is_a_scheduler():
    built = 0
    for info in list_schedulers():
        try:
            scheduler = create_scheduler(info.name)
        except ConfigError as error:  # a diffusers scheduler whose optional extra is not installed (torchsde)
            assert "requires" in str(error), (info.name, error)
            continue
        assert isinstance(scheduler, Scheduler), info.name
        built += 1
    assert built >= 4 and {"ddpm", "ddim", "pndm", "dpmpp-2m"} <= {s.name for s in list_schedulers()}


def test_an_object_without_the_protocol_is_not_a_scheduler():
    class HalfDone:
        def set_timesteps(self, n, device=None):
            self.timesteps = torch.arange(n)

    assert not isinstance(HalfDone(), Scheduler)


def private_imports(root: Path):
    """(file, name) for every ``from ddpm_bench... import _name`` and ``module._name`` of another ddpm_bench module."""
    found = []
    for path in root.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("ddpm_bench"):
                found += [
                    (path.name, alias.name)
                    for alias in node.names
                    if alias.name.startswith("_") and not alias.name.startswith("__")
                ]
    return found


@pytest.mark.parametrize("root", PACKAGES, ids=["ddpm_bench", "plugins"])
def test_no_module_imports_a_private_name_of_another(root):
    assert private_imports(root) == []


def test_the_dpmsolver_plugin_uses_only_the_public_api():
    source = next(PACKAGES[1].rglob("ddpm_bench_dpmsolver/__init__.py")).read_text()
    imported = [node for node in ast.walk(ast.parse(source)) if isinstance(node, ast.ImportFrom)]
    assert [node.module for node in imported if (node.module or "").startswith("ddpm_bench")] == ["ddpm_bench"]
    assert not re.search(r"(?<!self)\._(?!_)", source)  # no obj._private (self's own attributes are its business)


def test_every_member_a_plugin_may_use_is_documented_in_the_code_and_the_guide():
    import inspect

    from ddpm_bench import BaseScheduler

    guide = (Path(__file__).resolve().parents[1] / "docs" / "plugins.md").read_text()
    methods = ("set_timesteps", "reset", "nfe", "previous_timestep", "alpha_bar", "predict_x0_and_eps", "clip_x0",
               "set_grid", "check_steps", "scale_model_input", "add_noise")
    for name in methods:
        assert getattr(BaseScheduler, name).__doc__, name
        assert f"`{name}(" in guide, name
    for name in ("config", "betas", "alphas_cumprod", "one", "final_alpha_cumprod", "init_noise_sigma", "timesteps",
                 "num_inference_steps"):
        assert f"``{name}``" in BaseScheduler.__doc__ and f"`{name}`" in guide, name
    source = inspect.getsource(BaseScheduler)
    for name in ("order", "convergence_order"):
        assert re.search(rf"#: .*\n(    #: .*\n)*    {name} = ", source) and f"`{name}`" in guide, name
