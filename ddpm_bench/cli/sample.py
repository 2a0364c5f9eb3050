"""``ddpm-bench sample``: N images from one scheduler, timed, and scored when a reference is given."""

from __future__ import annotations

import argparse

from ddpm_bench.cli.arguments import add_runtime_options, progress, run_settings
from ddpm_bench.settings import DEFAULTS
from ddpm_bench.store.records import INTERVAL_NOTE, scores_text


def add_parser(subparsers) -> None:
    sample = subparsers.add_parser("sample", help="sample N images with one scheduler: grid PNG, timings, provenance")
    sample.add_argument("--model", default=DEFAULTS["model"],
                        help="diffusers folder, hub id, or embedded:mnist (default: %(default)s)")
    sample.add_argument("--scheduler", required=True, help="NAME[:option=value...], e.g. ddim:eta=1.0")
    sample.add_argument("--steps", type=int, required=True, help="inference steps (required)")
    sample.add_argument("-n", "--num-samples", type=int, default=DEFAULTS["sample_n"],
                        help="images to draw (default: %(default)s)")
    sample.add_argument("--seed", type=int, default=DEFAULTS["seed"],
                        help="sample i depends only on (seed, i) (default: %(default)s)")
    sample.add_argument("--out", required=True, help="output folder")
    sample.add_argument("--save-images", action="store_true", help="also write each image as OUT/images/NNNNNN.png")
    sample.add_argument("--reference",
                        help="score FID/KID against this data set (embedded:mnist, folder, .npz, imported name)")
    sample.add_argument("--backbone", default=DEFAULTS["backbone"],
                        help="feature network for FID/KID (default: %(default)s)")
    add_runtime_options(sample)
    sample.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    # imported when the command runs: the sampling stack (workbench, model loading, sampling loop)
    from ddpm_bench.runs.sample import run_sample

    record = run_sample(run_settings(args), args.scheduler, args.steps, args.num_samples, args.out,
                        score=bool(args.reference), progress=progress(args), save_images=args.save_images)
    batches = record["timed_batches"]
    print(
        f"{record['scheduler']}: {args.num_samples} samples, NFE {record['nfe']}, "
        f"{record['seconds_per_image'] * 1000:.1f} ms/image "
        f"(median of {batches} batch{'es' if batches != 1 else ''}) -> {args.out}"
    )
    if args.reference:
        print(f"{scores_text(record)} (N={record['n']}, seed {record['seed']}, backbone {record['backbone']}, "
              f"reference {record['reference']})\n{INTERVAL_NOTE}")
    return 0
