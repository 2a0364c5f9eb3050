"""The report's reproduce section: every command that made the folder, in order (``commands.jsonl``, logged by the
CLI). For a folder older than that log, what its files say: the last sweep's config (sweep.toml), a target search's
settings (target.json), and that earlier commands may be missing."""

from __future__ import annotations

import shlex
from pathlib import Path

from ddpm_bench.store.folder_files import read_commands, read_target_summary

TARGET_OPTIONS = (("schedulers", "--schedulers"), ("fid", "--fid"), ("match", "--match"), ("margin", "--margin"),
                  ("first_steps", "--first-steps"), ("max_steps", "--max-steps"), ("start_n", "--start-n"),
                  ("max_n", "--max-n"), ("model", "--model"), ("seed", "--seed"), ("reference", "--reference"),
                  ("backbone", "--backbone"))


def target_command(settings: dict) -> str:
    """The ``ddpm-bench target`` command that target.json's settings describe."""
    words = ["ddpm-bench", "target"]
    for key, option in TARGET_OPTIONS:
        value = settings.get(key)
        if value is not None:
            words += [option, ",".join(map(str, value)) if isinstance(value, list) else str(value)]
    return shlex.join(words) + " --out DIR"


def reproduce_section(folder: Path) -> list[str]:
    commands = read_commands(folder)
    if commands:
        listed = "\n".join(f"    {c['command']}" + (f"  # exited {c['status']}" if c.get("status") else "")
                           for c in commands)
        places = sorted({c["cwd"] for c in commands if c.get("cwd")})
        where = f" (run in {', '.join(f'`{p}`' for p in places)})" if places else ""
        return ["## Reproduce",
                f"Every command that wrote to this folder, in order{where}; the same records, but for times and the "
                "machine, come out of them in a new folder (replace the folder's name). A command marked with its "
                "exit status stopped early, after recording points:", listed]
    summary = read_target_summary(folder)
    if summary and summary.get("settings"):
        return ["## Reproduce",
                "This folder is older than the command log; its target search's settings (target.json) make this "
                "command, which searches again into DIR (points that earlier searches left in the folder are not "
                "listed):",
                f"    {target_command(summary['settings'])}"]
    if (folder / "sweep.toml").exists():
        return ["## Reproduce",
                "This folder is older than the command log; its config (sweep.toml) holds the last sweep's options "
                "only, so points of earlier sweeps into it may not come back (DIR: this folder, or a new one):",
                "    ddpm-bench sweep --config DIR/sweep.toml --out DIR"]
    return []
