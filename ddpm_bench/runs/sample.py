"""``ddpm-bench sample``: one scheduler, one step count, N images written with their timings and provenance."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

from ddpm_bench.model.images import save_grid, save_pngs
from ddpm_bench.runs.capacity import check_capacity
from ddpm_bench.runs.workbench import PointRequest, Workbench, prepare_output
from ddpm_bench.schedulers.specs import parse_scheduler_spec
from ddpm_bench.settings import RunSettings
from ddpm_bench.util.atomic import write_text

GRID_LIMIT = 256


def run_sample(
    settings: RunSettings,
    scheduler_text: str,
    steps: int,
    n: int,
    out: str | Path,
    *,
    score: bool = False,
    progress: Optional[bool] = None,
    save_images: bool = False,
) -> dict:
    """Sample ``n`` images into ``out``: ``grid.png`` (up to 256), ``sample.json`` (the point's record), and with
    ``save_images`` one PNG per sample; with ``score`` FID and KID against ``settings.reference``."""
    spec = parse_scheduler_spec(scheduler_text)
    check_capacity(n, Path(out), backbone=settings.backbone if score else None)
    out = prepare_output(out)
    bench = Workbench.open(settings, score=score)
    on_batch = (lambda batch: save_pngs(batch.images, batch.indices, out / "images")) if save_images else None
    point = bench.run_point(PointRequest(spec, steps, n, progress=progress, grid_samples=GRID_LIMIT, on_batch=on_batch,
                                         raise_errors=True))
    save_grid(point.grid_images, out / "grid.png")
    write_text(out / "sample.json", json.dumps(point.record, indent=2) + "\n")
    return point.record
