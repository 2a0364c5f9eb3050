"""``ddpm-bench quality``: FID/KID and classifier confidence of a model's samples, next to the same of real images."""

from __future__ import annotations

import argparse

from ddpm_bench.cli.arguments import add_runtime_options, progress, run_settings
from ddpm_bench.settings import DEFAULTS
from ddpm_bench.store.records import scores_text


def add_parser(subparsers) -> None:
    quality = subparsers.add_parser(
        "quality", help="FID/KID and classifier confidence of a model's samples next to real data")
    quality.add_argument("--model", default=DEFAULTS["model"],
                         help="diffusers folder, hub id, or embedded:mnist (default: %(default)s)")
    quality.add_argument("--scheduler", default=DEFAULTS["quality_scheduler"],
                         help="NAME[:option=value...] (default: %(default)s)")
    quality.add_argument("--steps", type=int, default=DEFAULTS["quality_steps"], help="(default: %(default)s)")
    quality.add_argument("-n", "--num-samples", type=int, default=DEFAULTS["quality_n"],
                         help="samples, and real images for the floor (default: %(default)s)")
    quality.add_argument("--seed", type=int, default=DEFAULTS["seed"], help="(default: %(default)s)")
    quality.add_argument("--reference", default=DEFAULTS["reference"], help="reference data set (default: %(default)s)")
    quality.add_argument("--backbone", default=DEFAULTS["backbone"], help="feature network (default: %(default)s)")
    quality.add_argument("--floor-data", help="real images the model never saw, scored beside the samples (default: "
                         "embedded:mnist-test for an embedded reference; else drawn from --reference)")
    quality.add_argument("--out", required=True, help="output folder: quality.json and samples.png (required)")
    add_runtime_options(quality)
    quality.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    # imported when the command runs: the sampling stack
    from ddpm_bench.runs.quality import model_quality

    result = model_quality(run_settings(args), args.out, scheduler=args.scheduler, steps=args.steps,
                           n=args.num_samples, progress=progress(args))
    for kind in ("samples", "real"):
        m = result[kind]
        confident = f", confident share {m['confident_share']:.3f}" if "confident_share" in m else ""
        print(f"{kind:8s} {scores_text(m)}{confident}")
    print(f"(N={result['n']}, seed {result['seed']}, backbone {result['backbone']}, reference {result['reference']}, "
          f"real images from {result['real']['data']}) -> {args.out}")
    return 0
