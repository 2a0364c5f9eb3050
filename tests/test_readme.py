"""The README's commands stay true: CI runs the README's test command verbatim."""

import re
import shlex
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def readme_command(marker: str) -> str:
    lines = (ROOT / "README.md").read_text().splitlines()
    start = lines.index(marker)
    block = lines[start + 1 : lines.index("```", start + 2)]
    assert block[0] == "```bash"
    return "\n".join(block[1:]).strip()


def test_ci_runs_the_readme_test_command():
    command = readme_command("<!-- test-command -->")
    assert command in (ROOT / ".ci" / "run").read_text()


def shown_commands() -> list[str]:
    """Every command line in the README's bash blocks (continuations joined, comments dropped), setup lines aside."""
    text = (ROOT / "README.md").read_text().replace("\\\n", " ")
    blocks = re.findall(r"```bash\n(.*?)```", text, re.S)
    lines = [line.split("  #")[0].strip() for block in blocks for line in block.splitlines()]
    return [line for line in lines if line and not line.startswith("python3 -m venv")]


def test_every_shown_command_names_the_venv_and_parses():
    """A newcomer copies the commands after the setup command: each must run as printed, so each calls the venv's
    program, and its arguments are ones ddpm-bench accepts."""
    from ddpm_bench.cli import build_parser

    commands = shown_commands()
    assert len(commands) >= 10
    for command in commands:
        words = shlex.split(command)
        assert words[0] in (".venv/bin/ddpm-bench", ".venv/bin/torchrun"), command
        arguments = words[1:] if words[0].endswith("ddpm-bench") else words[words.index("ddpm_bench") + 1 :]
        try:
            build_parser().parse_args(arguments)
        except SystemExit as error:
            raise AssertionError(f"README command does not parse: {command}") from error
        if "--config" in arguments:
            assert (ROOT / arguments[arguments.index("--config") + 1]).exists(), command
