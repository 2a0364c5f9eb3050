"""Bad input to the scheduler API gives one-line errors that name the problem."""


import processes
import pytest

from ddpm_bench import create_scheduler, list_schedulers
from ddpm_bench.errors import ConfigError
from ddpm_bench.schedulers.ddim import DDIMScheduler
from ddpm_bench.schedulers.specs import parse_scheduler_spec


def test_unknown_scheduler_lists_the_names_and_the_closest():
    with pytest.raises(ConfigError) as error:
        create_scheduler("ddin")
    message = str(error.value)
    assert "did you mean 'ddim'" in message and "ddpm" in message and "pndm" in message
    assert "\n" not in message


@pytest.mark.parametrize("name", ["ddpm", "ddim", "pndm"])
@pytest.mark.parametrize("steps", [0, -3, 1001, 2.5, "10", True])
def test_bad_step_counts(name, steps):
    scheduler = create_scheduler(name)
    with pytest.raises(ConfigError, match="num_inference_steps"):
        scheduler.set_timesteps(steps)


@pytest.mark.parametrize(
    "name,options,match",
    [
        ("ddim", {"etta": 1.0}, r"unknown option 'etta' \(did you mean 'eta'\?\)"),
        ("ddpm", {"eta": 1.0}, r"^ddpm: unknown option 'eta'"),
        ("ddim", {"eta": "high"}, r"option eta='high' has the wrong type; expected float"),
        ("ddpm", {"variance_type": "fixed_medium"}, r"variance_type='fixed_medium'.*one of 'fixed_small'"),
        ("pndm", {"skip_prk_steps": 1}, r"skip_prk_steps=1 has the wrong type; expected bool"),
        ("ddim", {"num_train_timesteps": 10.5}, r"num_train_timesteps=10.5 has the wrong type; expected int"),
        ("ddim", {"timestep_spacing": "cubic"}, r"timestep_spacing='cubic'"),
    ],
)
def test_bad_options_name_the_option(name, options, match):
    with pytest.raises(ConfigError, match=match):
        create_scheduler(name, **options)


SPACINGS = "'leading', 'trailing', 'linspace', 'quadratic'"


def test_an_option_error_names_the_scheduler_as_registered_and_lists_the_allowed_values():
    with pytest.raises(ConfigError) as error:
        create_scheduler("ddim", timestep_spacing="karras")
    assert str(error.value) == f"ddim: timestep_spacing='karras' is not one of {SPACINGS}"
    with pytest.raises(ConfigError) as error:
        parse_scheduler_spec("ddim:timestep_spacing=karras")
    assert str(error.value) == f"ddim: timestep_spacing='karras' is not one of {SPACINGS}"


def test_a_scheduler_built_from_its_class_is_named_by_its_class():
    with pytest.raises(ConfigError, match=r"^DDIMScheduler: timestep_spacing='karras' is not one of 'leading'"):
        DDIMScheduler(timestep_spacing="karras")


@pytest.mark.parametrize(
    "options,message",
    [
        ({"timestep_spacing": 3}, "ddim: option timestep_spacing=3 has the wrong type; expected str, one of "
                                  f"{SPACINGS}"),
        ({"prediction_type": None}, "ddim: option prediction_type=None has the wrong type; expected str, one of "
                                    "'epsilon', 'sample', 'v_prediction'"),
        ({"beta_schedule": "cosine"}, "ddim: beta_schedule='cosine' is not one of 'linear', 'scaled_linear', "
                                      "'squaredcos_cap_v2'"),
    ],
)
def test_a_wrong_value_and_a_wrong_type_are_told_apart(options, message):
    with pytest.raises(ConfigError) as error:
        create_scheduler("ddim", **options)
    assert str(error.value) == message


def test_cli_names_the_scheduler_and_the_allowed_values(tmp_path):
    result = processes.ddpm_bench("sample", "--scheduler", "ddim:timestep_spacing=karras", "--steps", "4", "-n", "2",
                                  "--out", str(tmp_path / "o"))
    assert result.returncode == 2
    assert result.stderr == f"ddpm-bench: error: ddim: timestep_spacing='karras' is not one of {SPACINGS}\n"
    assert not (tmp_path / "o").exists()


def test_quadratic_spacing_refuses_repeated_timesteps():
    scheduler = create_scheduler("ddim", timestep_spacing="quadratic")
    with pytest.raises(ConfigError, match="repeated timesteps"):
        scheduler.set_timesteps(50)


def test_fpndm_needs_four_steps():
    with pytest.raises(ConfigError, match="at least 4 steps"):
        create_scheduler("pndm").set_timesteps(3)


@pytest.mark.parametrize("name", ["ddpm", "ddim", "pndm"])
def test_set_timesteps_resets_state(name):
    import torch

    scheduler = create_scheduler(name)

    def run():
        scheduler.set_timesteps(10)
        x = torch.ones(1, 1, 2, 2)
        generator = torch.Generator().manual_seed(0)
        for t in scheduler.timesteps:
            x = scheduler.step(0.1 * x, t, x, generator=generator).prev_sample
        return x

    assert torch.equal(run(), run())


def test_create_scheduler_returns_fresh_instances():
    assert create_scheduler("ddim") is not create_scheduler("ddim")
    names = [s.name for s in list_schedulers()]
    assert {"ddim", "ddpm", "pndm"} <= set(names) and names == sorted(names)


def test_cli_error_is_one_line_and_non_zero(tmp_path):
    result = processes.ddpm_bench("train", "--data", str(tmp_path / "missing"), "--out", str(tmp_path / "o"))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "is neither one of embedded:mnist, embedded:mnist-train" in result.stderr
