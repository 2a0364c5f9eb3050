"""One DEFAULTS table: the CLI, the Python API and a sweep's TOML read the same defaults."""

import dataclasses

import pytest

from ddpm_bench.cli import build_parser
from ddpm_bench.errors import ConfigError
from ddpm_bench.settings import DEFAULTS, RunSettings, SweepConfig, config_from, load_config


def parse(*argv):
    return build_parser().parse_args(list(argv))


def test_the_api_toml_and_cli_agree_on_every_sweep_default(tmp_path):
    api = SweepConfig()
    (tmp_path / "empty.toml").write_text("[sweep]\n")
    from_toml = load_config(tmp_path / "empty.toml")
    assert dataclasses.asdict(api) == dataclasses.asdict(from_toml) == dataclasses.asdict(config_from())
    for field in dataclasses.fields(SweepConfig):
        assert getattr(api, field.name) == DEFAULTS[field.name], field.name
    # the sweep command leaves every option unset, so that a --config file is not overridden by argparse defaults
    args = parse("sweep")
    assert all(getattr(args, name) is None for name in ("schedulers", "steps", "n", "seed", "model", "batch_size"))


@pytest.mark.parametrize("command,extra", [("sample", ["--scheduler", "ddim", "--steps", "5", "--out", "x"]),
                                           ("quality", ["--out", "x"])])
def test_sample_and_quality_read_their_defaults_from_the_table(command, extra):
    args = parse(command, *extra)
    for name in ("model", "backbone", "seed", "batch_size", "precision"):
        assert getattr(args, name) == DEFAULTS[name], (command, name)
    n = DEFAULTS["sample_n"] if command == "sample" else DEFAULTS["quality_n"]
    assert args.num_samples == n


def test_help_shows_the_defaults_from_the_table():
    sweep = build_parser()._subparsers._group_actions[0].choices["sweep"].format_help()
    assert f"default: {','.join(map(str, DEFAULTS['steps']))}" in sweep and f"default: {DEFAULTS['n']}" in sweep


def test_defaults_are_not_shared_between_configs():
    first = SweepConfig()
    first.steps.append(99)
    assert SweepConfig().steps == DEFAULTS["steps"] and 99 not in DEFAULTS["steps"]


@pytest.mark.parametrize("values,message", [
    ({"steps": [5, 5]}, "more than once"),
    ({"seed": -1}, "seed must be a non-negative integer"),
    ({"batch_size": 0}, "batch_size must be a positive integer"),
    ({"precision": "fp64"}, "precision 'fp64' is not one of"),
    ({"stepz": [5]}, "unknown option 'stepz' (did you mean 'steps'?)"),
])
def test_bad_settings_are_one_line_errors(values, message):
    with pytest.raises(ConfigError, match=None) as error:
        config_from(**values)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_run_settings_are_keyword_only_values_with_table_defaults():
    settings = RunSettings(seed=3)
    assert settings.seed == 3 and settings.model == DEFAULTS["model"] and settings.validate() is settings


def test_every_option_of_every_command_explains_itself_and_shows_its_default():
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices
    assert parser.format_help().split("\n\n")[1].startswith("Which diffusion sampler")
    assert "ddpm-bench sweep --out runs/sweep" in parser.format_help().split("positional arguments")[0]
    assert "examples:" in commands["sweep"].format_help().split("--no-progress")[-1]
    for name, command in commands.items():
        for action in command._actions:
            if action.option_strings and action.dest != "help":
                assert action.help, f"{name} {action.option_strings[0]} has no help text"
                if action.default is not None and action.default is not False:
                    assert "default" in action.help, f"{name} {action.option_strings[0]} does not show its default"
