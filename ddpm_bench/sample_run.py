"""``ddpm-bench sample``: one scheduler, one step count, N images written with their timings and provenance."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import torch

from ddpm_bench.api import build_scheduler, parse_scheduler_spec, scheduler_config_dict, scheduler_registration
from ddpm_bench.errors import BenchError
from ddpm_bench.images import save_grid, save_pngs
from ddpm_bench.models import load_model
from ddpm_bench.provenance import device_description, library_versions
from ddpm_bench.sampling import Precision, Sampler

GRID_LIMIT = 256


def prepare_output(out: str | Path) -> Path:
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as error:
        raise BenchError(f"cannot write to output folder {out}: {error.strerror or error}") from error
    return out


def run_sample(
    model_source: str,
    scheduler_text: str,
    steps: int,
    n: int,
    seed: int,
    out: str | Path,
    *,
    batch_size: int = 64,
    device: Optional[str] = None,
    precision: Precision = Precision(),
    progress: Optional[bool] = None,
    save_images: bool = False,
    reference: Optional[str] = None,
    backbone: str = "mnist-cnn",
) -> dict:
    spec = parse_scheduler_spec(scheduler_text)
    out = prepare_output(out)
    model = load_model(model_source, device)
    scheduler = build_scheduler(spec, model.schedule)
    sampler = Sampler(model, scheduler, steps, batch_size=batch_size, precision=precision, progress=progress, label=spec.label)
    scorer = make_scorer(backbone, reference, model.sample_shape) if reference else None
    grid_images = []
    for batch in sampler.stream(n, seed):
        if scorer is not None:
            scorer.update(batch.images)
        if save_images:
            save_pngs(batch.images, batch.indices, out / "images")
        grid_images.append(batch.images[: max(0, GRID_LIMIT - sum(len(g) for g in grid_images))])
    save_grid(torch.cat(grid_images), out / "grid.png")
    registration = scheduler_registration(spec.name)
    result = {
        "scheduler": spec.label,
        "scheduler_config": scheduler_config_dict(scheduler),
        "plugin": registration.plugin,
        "plugin_package": registration.package,
        "plugin_version": registration.version,
        "steps": steps,
        "n": n,
        "seed": seed,
        "batch_size": batch_size,
        "timing": sampler.stats.to_dict(),
        "model": {"source": model.source, "weights": str(model.weights_file), "sha256": model.weights_sha256},
        "precision": {"dtype": precision.dtype, "channels_last": precision.channels_last, "compile": precision.compile},
        "device": device_description(sampler.device),
        "versions": library_versions(),
    }
    if scorer is not None:
        result["metrics"] = {**scorer.compute(), "backbone": backbone, "reference": scorer.reference.description,
                             "preprocessing": scorer.backbone.preprocessing}
    (out / "sample.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


def make_scorer(backbone_name: str, reference_name: str, sample_shape: tuple[int, int, int]):
    from ddpm_bench.metrics.backbones import get_backbone
    from ddpm_bench.metrics.reference import resolve_reference
    from ddpm_bench.metrics.scoring import Scorer

    backbone = get_backbone(backbone_name)
    channels, height, _ = sample_shape
    return Scorer(backbone, resolve_reference(reference_name, backbone, height, channels))
