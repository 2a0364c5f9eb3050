"""``ddpm-bench stats``: a reference data set's feature statistics computed and cached, or published ones imported."""

from __future__ import annotations

import argparse

from ddpm_bench.cli.arguments import add_inception_option
from ddpm_bench.errors import BenchError
from ddpm_bench.settings import DEFAULTS


def add_parser(subparsers) -> None:
    stats = subparsers.add_parser("stats", help="precompute and cache reference statistics, or import published ones")
    stats.add_argument("--dataset", default=DEFAULTS["reference"],
                       help="embedded:mnist, a folder of images, or an .npz of images (default: %(default)s)")
    stats.add_argument("--backbone", default=DEFAULTS["backbone"], help="feature network (default: %(default)s)")
    stats.add_argument("--image-size", type=int, default=28,
                       help="size folder images are resized to (default: %(default)s)")
    stats.add_argument("--channels", type=int, default=1, choices=(1, 3),
                       help="grey (1) or colour (3) (default: %(default)s)")
    stats.add_argument("--import", dest="import_file", help="a published mu/sigma .npz (pytorch-fid, torch-fidelity)")
    stats.add_argument("--name", help="the name an imported file is stored under (use it as --reference)")
    add_inception_option(stats)
    stats.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    # imported when the command runs: the feature networks import torch
    from ddpm_bench.metrics.backbones import get_backbone
    from ddpm_bench.metrics.reference import import_published_stats, reference_stats

    if args.import_file:
        if not args.name:
            raise BenchError("--import needs --name, the reference name to store it under")
        path = import_published_stats(args.import_file, args.name, args.backbone)
        print(f"imported {args.import_file} as reference {args.name!r} for backbone {args.backbone} -> {path}")
        return 0
    stats = reference_stats(args.dataset, get_backbone(args.backbone), args.image_size, args.channels)
    print(f"{args.dataset}: {stats.n} images, backbone {args.backbone}, {len(stats.mu)}-d features (cached)")
    return 0
