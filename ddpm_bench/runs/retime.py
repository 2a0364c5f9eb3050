"""Every finished point of a folder timed again side by side (``ddpm-bench retime DIR``).

A sweep times each point while it samples it, so points sampled minutes or hours apart, or in separate runs with other
work beside them, are told apart partly by what else the machine was doing. Retiming samples one batch of every point
in turn, for a number of rounds, and keeps each point's median (``Workbench.time_side_by_side``), so that a busier
spell falls on all points alike. ``DIR/timings.json`` keeps the times; the report shows them wherever it shows a time
(table, charts, budgets, ties) while they cover every finished point of the folder, and says so. A target search
times its folder's points through the same ``time_points``, into ``target.json``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

from ddpm_bench.runs.workbench import Workbench
from ddpm_bench.schedulers.specs import parse_scheduler_spec
from ddpm_bench.settings import default, folder_settings
from ddpm_bench.store import records as R
from ddpm_bench.store.folder_files import write_timings
from ddpm_bench.util.options import positive_int


def retime_folder(folder: str | Path, rounds: int = default("retime_rounds"), *,
                  log: Callable[[str], None] = lambda line: None) -> dict:
    """Time every finished point of ``folder`` side by side, ``rounds`` batches each; write and return timings.json
    (each point's time side by side, and the time taken while it was sampled)."""
    folder = Path(folder)
    positive_int(rounds, "--rounds")
    points = R.ok_points(R.load_frame(folder)).to_dict("records")
    settings = folder_settings(folder)
    bench = Workbench.open(settings, score=False)
    log(f"timing {len(points)} points side by side: {rounds} rounds of one batch ({settings.batch_size} images) each")
    timed = time_points(bench, [(p[R.SCHEDULER], int(p[R.STEPS])) for p in points], rounds)
    summary = {"rounds": rounds, "batch_size": settings.batch_size, "device": bench.provenance()["device"],
               "timings": [{**timing, "seconds_per_image_while_sampled": p[R.SECONDS_PER_IMAGE]}
                           for p, timing in zip(points, timed)]}
    write_timings(folder, summary)
    return summary


def time_points(bench: Workbench, points: Sequence[tuple[str, int]], rounds: int | Sequence[int]) -> list[dict]:
    """Each (scheduler label, steps) of a folder timed again side by side (``Workbench.time_side_by_side``),
    ``rounds`` batches each (or one count per point): one entry per point, its scheduler, steps and median seconds
    per image, the layout ``timings.json`` and ``target.json`` share."""
    seconds = bench.time_side_by_side([(parse_scheduler_spec(label), steps) for label, steps in points], rounds)
    return [{R.SCHEDULER: label, R.STEPS: steps, R.SECONDS_PER_IMAGE: value}
            for (label, steps), value in zip(points, seconds)]
