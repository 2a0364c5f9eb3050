"""How good a model is, next to the floor set by real data: the figures in the embedded model's card.

FID and KID of N samples against the reference set, and the same for N real images drawn from that set (the floor
at that N: FID is biased upward at small N, so a model is judged against this, not against 0). With the ``mnist-cnn``
backbone also the share of images the classifier assigns to one class with probability >= 0.9, and the spread of
predicted classes, for samples and real digits alike.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import torch

from ddpm_bench.api import build_scheduler, parse_scheduler_spec
from ddpm_bench.images import save_grid
from ddpm_bench.metrics.backbones import get_backbone
from ddpm_bench.metrics.reference import real_subset, resolve_reference
from ddpm_bench.metrics.scoring import score_images
from ddpm_bench.models import load_model
from ddpm_bench.sample_run import prepare_output
from ddpm_bench.sampling import Precision, Sampler


def _summarize(backbone, reference, images: torch.Tensor) -> dict:
    result = score_images(backbone, reference, [images[i : i + 500] for i in range(0, len(images), 500)])
    if hasattr(backbone, "probabilities"):
        from ddpm_bench.metrics.mnist_cnn import confidence_summary

        result.update(confidence_summary(backbone, images))
    return result


def model_quality(
    model_source: str,
    out: str | Path,
    scheduler_text: str = "ddim",
    steps: int = 100,
    n: int = 1000,
    seed: int = 0,
    reference_name: str = "embedded:mnist",
    backbone_name: str = "mnist-cnn",
    batch_size: int = 250,
    device: Optional[str] = None,
    precision: Precision = Precision(),
    progress: Optional[bool] = None,
) -> dict:
    out = prepare_output(out)
    model = load_model(model_source, device)
    spec = parse_scheduler_spec(scheduler_text)
    sampler = Sampler(model, build_scheduler(spec, model.schedule), steps, batch_size=batch_size, precision=precision,
                      progress=progress, label=spec.label)
    samples = torch.cat([batch.images for batch in sampler.stream(n, seed)])
    backbone = get_backbone(backbone_name)
    channels, height, _ = model.sample_shape
    reference = resolve_reference(reference_name, backbone, height, channels)
    real = real_subset(reference_name, n, seed, height, channels)
    result = {
        "model": model_source, "model_sha256": model.weights_sha256, "scheduler": spec.label, "steps": steps,
        "nfe": sampler.stats.nfe, "n": n, "seed": seed, "backbone": backbone_name, "reference": reference.description,
        "precision": precision.dtype, "seconds_per_image": sampler.stats.seconds_per_image,
        "samples": _summarize(backbone, reference, samples),
        "real": _summarize(backbone, reference, real),
    }
    save_grid(samples[:100], out / "samples.png", columns=10, scale=2)
    (out / "quality.json").write_text(json.dumps(result, indent=2) + "\n")
    return result
