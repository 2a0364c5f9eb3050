"""Every finished point of a folder timed again side by side (``ddpm-bench retime DIR``).

A sweep times each point while it samples it, so points sampled minutes or hours apart, or in separate runs with other
work beside them, are told apart partly by what else the machine was doing (``results/n1000``: ddim at 20 steps timed
at 597 ms per image beside the test suite, pndm at 10 steps, one more model call, at 263 ms on a quiet machine).
Retiming samples one batch of every point in turn, for a number of rounds, and keeps each point's median
(``Workbench.time_side_by_side``), so that a busier spell falls on all points alike. ``DIR/timings.json`` keeps the
times; the report shows them wherever it shows a time (table, charts, budgets, ties) while they cover every finished
point of the folder, and says so. A target search times its points the same way itself (``target.json``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, Optional

from ddpm_bench.store import records as R
from ddpm_bench.schedulers.specs import parse_scheduler_spec
from ddpm_bench.util.atomic import write_text
from ddpm_bench.util.options import positive_int
from ddpm_bench.settings import default, folder_settings


def retime_folder(folder: str | Path, rounds: int = default("retime_rounds"), *,
                  log: Callable[[str], None] = lambda line: None) -> dict:
    """Time every finished point of ``folder`` side by side, ``rounds`` batches each; write and return timings.json
    (each point's time side by side, and the time taken while it was sampled)."""
    from ddpm_bench.runs.workbench import Workbench

    folder = Path(folder)
    positive_int(rounds, "--rounds")
    points = R.ok_points(R.load_frame(folder)).to_dict("records")
    settings = folder_settings(folder)
    bench = Workbench.open(settings, score=False)
    log(f"timing {len(points)} points side by side: {rounds} rounds of one batch ({settings.batch_size} images) each")
    seconds = bench.time_side_by_side([(parse_scheduler_spec(p[R.SCHEDULER]), int(p[R.STEPS])) for p in points],
                                      rounds)
    summary = {"rounds": rounds, "batch_size": settings.batch_size, "device": bench.provenance()["device"],
               "timings": [{R.SCHEDULER: p[R.SCHEDULER], R.STEPS: int(p[R.STEPS]), R.SECONDS_PER_IMAGE: value,
                            "seconds_per_image_while_sampled": p[R.SECONDS_PER_IMAGE]}
                           for p, value in zip(points, seconds)]}
    write_text(folder / R.TIMINGS, json.dumps(summary, indent=1) + "\n")
    return summary


def read_timings(folder: Path) -> Optional[dict]:
    """A folder's timings.json, or None when ``retime`` has not been run on it (or the file cannot be read)."""
    try:
        return json.loads((Path(folder) / R.TIMINGS).read_text())
    except (OSError, ValueError):
        return None
