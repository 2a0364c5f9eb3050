"""How good a model is, next to the floor set by real data: the figures in the embedded model's card.

FID and KID of N samples against the reference set, and the same for N real images the model never saw, drawn as
the sweep's real-data floor draws them (``RunSettings.floor_source``: MNIST's test digits for the embedded reference):
FID is biased upward at small N, so a model is judged against this floor, not against 0. With a backbone that
can say more (``describe``: the ``mnist-cnn`` classifier's confident share and class spread), that too, for samples
and real digits alike.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import torch

from ddpm_bench.model.images import save_grid
from ddpm_bench.runs.capacity import check_capacity
from ddpm_bench.runs.scoring import Scoring
from ddpm_bench.runs.workbench import PointRequest, Workbench, prepare_output
from ddpm_bench.schedulers.specs import parse_scheduler_spec
from ddpm_bench.settings import RunSettings, default
from ddpm_bench.store import records as R
from ddpm_bench.util.atomic import write_text


def _describe(scoring: Scoring, images: torch.Tensor, scores: dict) -> dict:
    describe = getattr(scoring.backbone, "describe", None)
    return {**scores, **(describe(images) if describe else {})}


def model_quality(
    settings: RunSettings,
    out: str | Path,
    *,
    scheduler: str = default("quality_scheduler"),
    steps: int = default("quality_steps"),
    n: int = default("quality_n"),
    progress: Optional[bool] = None,
) -> dict:
    """Sample ``n`` images, score them and ``n`` real images, write ``quality.json`` and ``samples.png``."""
    check_capacity(n, Path(out), backbone=settings.backbone)
    out = prepare_output(out)
    bench = Workbench.open(settings)
    batches: list[torch.Tensor] = []
    point = bench.run_point(PointRequest(parse_scheduler_spec(scheduler), steps, n, progress=progress,
                                         on_batch=lambda batch: batches.append(batch.images), raise_errors=True))
    samples, record, scoring = torch.cat(batches), point.record, bench.scoring
    real = scoring.real_images(n)
    result = {
        **bench.provenance(), R.SCHEDULER: record[R.SCHEDULER], R.STEPS: steps, R.NFE: record[R.NFE], R.N: n,
        R.SECONDS_PER_IMAGE: record[R.SECONDS_PER_IMAGE],
        "samples": _describe(scoring, samples, {k: record[k] for k in R.METRICS if k in record}),
        "real": {"data": bench.settings.floor_source, **_describe(scoring, real, scoring.score(real))},
    }
    save_grid(samples[:100], out / "samples.png", columns=10, scale=2)
    write_text(out / "quality.json", json.dumps(result, indent=2) + "\n")
    return result
