"""diffusers' schedulers as ``diffusers:<ClassName>``: configured from the model, scale_model_input and
init_noise_sigma honoured, NFE counted in the loop."""

import json
import shutil
import sys

import pytest

from ddpm_bench.errors import ConfigError
from ddpm_bench.model.loading import load_model
from ddpm_bench.sampling.loop import Sampler, sample_images
from ddpm_bench.schedulers.specs import build_scheduler, parse_scheduler_spec


@pytest.fixture(scope="module")
def model(tiny_model_dir, tmp_path_factory):
    folder = tmp_path_factory.mktemp("with-schedule") / "m"
    shutil.copytree(tiny_model_dir, folder)
    (folder / "scheduler_config.json").write_text(
        json.dumps({"beta_end": 0.015, "clip_sample": False, "variance_type": "fixed_small"})
    )
    return load_model(str(folder), "cpu")


def run(model, name, steps, n=4):
    scheduler = build_scheduler(parse_scheduler_spec(name), model.schedule)
    sampler = Sampler(model, scheduler, steps, batch_size=n, progress=False)
    return sample_images(sampler, n, seed=2), sampler, scheduler


def test_every_compatible_diffusers_scheduler_is_registered():
    from ddpm_bench import list_schedulers

    names = {s.name for s in list_schedulers()}
    for expected in ("diffusers:DDIMScheduler", "diffusers:DPMSolverMultistepScheduler",
                     "diffusers:EulerDiscreteScheduler", "diffusers:HeunDiscreteScheduler",
                     "diffusers:UniPCMultistepScheduler"):
        assert expected in names


def test_listing_the_diffusers_schedulers_imports_none_of_them_until_one_is_used():
    """Importing every compatible class takes seconds; a run of the built-in schedulers must not pay them."""
    import processes

    code = ("import sys; from ddpm_bench.plugins import get_registry; get_registry(); "
            "loaded = lambda: sorted(m for m in sys.modules if m.startswith('diffusers.schedulers.scheduling_')); "
            "print(loaded()); from ddpm_bench.schedulers.specs import create_scheduler; "
            "create_scheduler('diffusers:EulerDiscreteScheduler'); print(loaded())")
    result = processes.run([sys.executable, "-c", code])
    before, after = result.stdout.splitlines()
    assert "scheduling_euler_discrete" not in before and "scheduling_heun_discrete" not in before
    assert "scheduling_euler_discrete" in after


def test_a_second_process_finds_the_scheduler_names_without_importing_diffusers(tmp_path):
    """Importing diffusers takes 2 s (a finished sweep run again took 3 s); its schedulers' names are remembered."""
    import os

    import processes
    from conftest import cache_env

    code = ("import sys; from ddpm_bench.plugins import get_registry; "
            "names = sorted(n for n in get_registry().schedulers if n.startswith('diffusers:')); "
            "print(len(names), 'diffusers' in sys.modules, 'diffusers:DDIMScheduler' in names)")
    env = {**os.environ, **cache_env(tmp_path)}
    first, second = (processes.run([sys.executable, "-c", code], env=env).stdout.split() for _ in range(2))
    assert first[1:] == ["True", "True"] and second[1:] == ["False", "True"] and first[0] == second[0]


def test_our_ddim_and_diffusers_ddim_give_the_same_images(model):
    ours, _, _ = run(model, "ddim", 10)
    theirs, _, scheduler = run(model, "diffusers:DDIMScheduler", 10)
    assert scheduler.config["beta_end"] == 0.015 and scheduler.config["clip_sample"] is False
    assert (ours.int() - theirs.int()).abs().max() <= 1


def test_heun_counts_two_calls_per_step_but_the_last(model):
    _, sampler, scheduler = run(model, "diffusers:HeunDiscreteScheduler", 5)
    assert sampler.stats.nfe == len(scheduler.timesteps) == 9


def test_euler_scales_its_input_and_starts_from_sigma_max(model):
    seen = []
    original = model.unet.forward
    model.unet.forward = lambda sample, t, **kw: seen.append(sample.std().item()) or original(sample, t, **kw)
    try:
        _, _, scheduler = run(model, "diffusers:EulerDiscreteScheduler", 5)
    finally:
        del model.unet.forward
    assert scheduler.init_noise_sigma > 10
    first_sampling_call = next(std for std in seen if std > 0)  # warm-up calls (if any) see zeros
    assert 0.5 < first_sampling_call < 2.0  # sigma_max * noise, scaled back to unit variance


def test_unknown_options_name_the_valid_ones():
    with pytest.raises(
        ConfigError,
        match=r"DPMSolverMultistepScheduler: unknown option 'solver_ordr' \(did you mean 'solver_order'\?\)",
    ):
        build_scheduler(parse_scheduler_spec("diffusers:DPMSolverMultistepScheduler:solver_ordr=3"))
