"""The README's commands stay true: CI runs the README's test command verbatim."""

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
