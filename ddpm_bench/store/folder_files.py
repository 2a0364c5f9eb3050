"""The readers and writers of every file a results folder holds beside ``records.jsonl`` (records.py): the log of the
commands that wrote to it, a target search's answer, ``sweep --decide``'s verdicts, the convergence summary, the
side-by-side timings, and the reference statistics its points were scored against. A reader returns None when the file
is absent or cannot be read (a folder that never ran that command, or a file damaged since): the report goes on without
that section.

The reference statistics make a folder self-contained: its report judges points against the mean and covariance saved
here, so it rebuilds on a clean clone without the statistics cache or the feature network.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import numpy as np

from ddpm_bench.errors import BenchError
from ddpm_bench.store.records import COMMANDS, CONVERGENCE, DECISIONS, REFERENCE_STATS, TARGET, TIMINGS
from ddpm_bench.util.atomic import atomic_file, write_text


def _read_json(folder: Path, name: str):
    try:
        return json.loads((Path(folder) / name).read_text())
    except (OSError, ValueError):
        return None


def _write_json(folder: Path, name: str, content) -> Path:
    return write_text(Path(folder) / name, json.dumps(content, indent=1) + "\n")


def append_command(folder: Path, command: str, at: str, cwd: str, status: int) -> None:
    """Log a command that wrote to the folder (``commands.jsonl``, one JSON object per line: the command, when, the
    directory it ran in, its exit status), for the report's reproduce section."""
    Path(folder).mkdir(parents=True, exist_ok=True)
    with open(Path(folder) / COMMANDS, "a") as log:
        log.write(json.dumps({"command": command, "at": at, "cwd": cwd, "status": status}) + "\n")


def read_commands(folder: Path) -> list[dict]:
    """The commands that wrote to the folder, oldest first (empty for a folder older than the log); a damaged line
    is skipped."""
    try:
        lines = (Path(folder) / COMMANDS).read_text().splitlines()
    except OSError:
        return []
    commands = []
    for line in lines:
        try:
            commands.append(json.loads(line))
        except ValueError:
            continue
    return commands


def read_target_summary(folder: Path) -> Optional[dict]:
    """A target search's summary (``target.json``: its answer, settings and side-by-side timings)."""
    return _read_json(folder, TARGET)


def write_target_summary(folder: Path, summary: dict) -> Path:
    return _write_json(folder, TARGET, summary)


def read_decisions(folder: Path) -> Optional[list[dict]]:
    """``sweep --decide``'s verdicts (``decisions.json``): each default pair at the N it was decided at."""
    return _read_json(folder, DECISIONS)


def write_decisions(folder: Path, decisions: list[dict]) -> Path:
    return _write_json(folder, DECISIONS, decisions)


def read_convergence(folder: Path) -> Optional[dict]:
    """``ddpm-bench convergence``'s summary (``convergence.json``)."""
    return _read_json(folder, CONVERGENCE)


def write_convergence(folder: Path, summary: dict) -> Path:
    return _write_json(folder, CONVERGENCE, summary)


def read_timings(folder: Path) -> Optional[dict]:
    """Every finished point timed again side by side (``timings.json``, ``ddpm-bench retime``)."""
    return _read_json(folder, TIMINGS)


def write_timings(folder: Path, summary: dict) -> Path:
    return _write_json(folder, TIMINGS, summary)


def write_reference_stats(folder: Path, key: str, mu: np.ndarray, sigma: np.ndarray) -> None:
    """The mean and covariance of the reference features the folder's points were scored against, under the key of
    the cached statistics they came from (metrics/reference.py), as ``reference.npz`` (no pickles)."""
    with atomic_file(Path(folder) / REFERENCE_STATS) as handle:
        np.savez(handle, key=np.array(key), mu=mu, sigma=sigma)


def has_reference_stats(folder: Path) -> bool:
    """Whether the folder keeps the reference statistics its points were scored against."""
    return (Path(folder) / REFERENCE_STATS).exists()


def read_reference_stats(folder: Path) -> Optional[tuple[np.ndarray, np.ndarray]]:
    """The folder's reference mean and covariance, or None when it holds none (a folder written before they were
    kept there). A damaged file is an error naming it: the folder's judgements depend on it."""
    path = Path(folder) / REFERENCE_STATS
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as saved:
            return saved["mu"], saved["sigma"]
    except (OSError, ValueError, KeyError) as error:
        raise BenchError(f"cannot read the reference statistics {path}: {error}") from error
