"""``ddpm-bench train`` (a UNet2DModel as a DDPM, resumable) and ``ddpm-bench train-classifier`` (the embedded
mnist-cnn feature network)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ddpm_bench.cli.arguments import csv_widths
from ddpm_bench.model.training import TrainConfig, config_from_options, train  # the help shows TrainConfig's defaults

RECIPE_OPTIONS = (("--steps", int, "optimiser steps"), ("--batch-size", int, "images per step"),
                  ("--lr", float, "peak learning rate (warm-up, then cosine)"),
                  ("--image-size", int, "training resolution"), ("--channels", int, "image channels"),
                  ("--block-out-channels", csv_widths, "UNet widths per resolution"),
                  ("--layers-per-block", int, "ResNet layers per UNet block"),
                  ("--checkpoint-every", int, "steps between resumable checkpoints"),
                  ("--seed", int, "data order and noise"))
"""The training recipe's options: (option, type, what it sets); the help shows TrainConfig's value as the default."""


def add_parsers(subparsers) -> None:
    classifier = subparsers.add_parser("train-classifier", help="train the embedded mnist-cnn feature network")
    classifier.add_argument("--out", required=True, help="output folder (required)")
    classifier.add_argument("--epochs", type=int, default=15, help="(default: %(default)s)")
    classifier.add_argument("--seed", type=int, default=0, help="(default: %(default)s)")
    classifier.set_defaults(handler=run_train_classifier)

    model = subparsers.add_parser("train", help="train a UNet2DModel as a DDPM (resumable)")
    model.add_argument("--data", help="embedded:mnist (default; all 5,000 digits), embedded:mnist-train (the 4,000 not "
                       "held out), a folder of images, or an .npz of images")
    model.add_argument("--out", required=True, help="run folder: checkpoint, log, and the final model/")
    recipe = TrainConfig()
    for option, kind, text in RECIPE_OPTIONS:
        value = getattr(recipe, option[2:].replace("-", "_"))
        shown = ",".join(map(str, value)) if isinstance(value, (list, tuple)) else value
        model.add_argument(option, type=kind, help=f"{text} (default: {shown})")
    model.add_argument("--precision", choices=("fp32", "bf16"), help=f"autocast dtype (default: {recipe.precision})")
    model.add_argument("--init-from", help="start from this model's weights (folder, hub id or embedded:mnist), e.g. "
                       "to train a finished run further")
    model.add_argument("--export-only", action="store_true",
                       help="save the latest checkpoint's EMA weights to OUT/model and stop")
    model.set_defaults(handler=run_train)


def run_train_classifier(args: argparse.Namespace) -> int:
    # imported when the command runs: the metrics package is needed by train-classifier alone
    from ddpm_bench.metrics.mnist_cnn import train_classifier

    result = train_classifier(Path(args.out), epochs=args.epochs, seed=args.seed, log=lambda s: print(s, flush=True))
    print(f"held-out accuracy {result['held_out_accuracy']:.4f} on {result['held_out_images']} digits -> {args.out}")
    return 0


def run_train(args: argparse.Namespace) -> int:
    options = ("data", "steps", "batch_size", "lr", "image_size", "channels", "block_out_channels", "layers_per_block",
               "precision", "checkpoint_every", "seed", "init_from")
    config = config_from_options(**{name: getattr(args, name) for name in options})
    folder = train(config, args.out, log=lambda line: print(line, flush=True), export_only=args.export_only)
    print(f"model saved to {folder}")
    return 0
