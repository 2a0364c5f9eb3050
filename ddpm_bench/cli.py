"""The ``ddpm-bench`` command. Thin: parses arguments, calls the library, prints.

Every BenchError becomes one line on stderr and exit status 2; nothing already written is removed.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Callable, Optional, Sequence

from ddpm_bench.errors import BenchError

COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {}


def command(name: str):
    def decorate(function):
        COMMANDS[name] = function
        return function

    return decorate


def _csv_ints(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not values:
        raise argparse.ArgumentTypeError("expected at least one integer")
    return values


def _csv_strings(text: str) -> list[str]:
    values = [v.strip() for v in text.split(",") if v.strip()]
    if not values:
        raise argparse.ArgumentTypeError("expected at least one name")
    return values


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number such as 0.1, got {text!r}") from None
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"expected a fraction from 0 up to 1, got {text!r}")
    return value


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports a bad argument in one line (and exit status 2), pointing at --help."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="ddpm-bench", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)

    sub.add_parser("schedulers", help="list the registered schedulers with their plugin and version")
    sub.add_parser("plugins", help="list loaded plugins and those that failed, with the reason")

    sample = sub.add_parser("sample", help="sample N images with one scheduler: grid PNG, timings, provenance")
    sample.add_argument("--model", default="embedded:mnist", help="diffusers folder, hub id, or embedded:mnist (default)")
    sample.add_argument("--scheduler", required=True, help="NAME[:option=value...], e.g. ddim:eta=1.0")
    sample.add_argument("--steps", type=int, required=True)
    sample.add_argument("-n", "--num-samples", type=int, default=64)
    sample.add_argument("--seed", type=int, default=0)
    sample.add_argument("--out", required=True, help="output folder")
    sample.add_argument("--save-images", action="store_true", help="also write each image as OUT/images/NNNNNN.png")
    sample.add_argument("--reference", help="score FID/KID against this data set (embedded:mnist, folder, .npz, imported name)")
    sample.add_argument("--backbone", default="mnist-cnn", help="feature network for FID/KID (default mnist-cnn)")
    add_runtime_options(sample)

    stats = sub.add_parser("stats", help="precompute and cache reference statistics, or import published ones")
    stats.add_argument("--dataset", default="embedded:mnist", help="embedded:mnist, a folder of images, or an .npz of images")
    stats.add_argument("--backbone", default="mnist-cnn")
    stats.add_argument("--image-size", type=int, default=28, help="size folder images are resized to")
    stats.add_argument("--channels", type=int, default=1, choices=(1, 3))
    stats.add_argument("--import", dest="import_file", help="a published mu/sigma .npz (pytorch-fid, torch-fidelity)")
    stats.add_argument("--name", help="the name an imported file is stored under (use it as --reference)")
    add_inception_option(stats)

    sweep = sub.add_parser("sweep", help="schedulers x steps on one model: timed, scored, recorded, reported")
    sweep.add_argument("--schedulers", type=_csv_strings, help="comma-separated, each NAME[:option=value...] (default ddpm,ddim,pndm)")
    sweep.add_argument("--steps", type=_csv_ints, help="comma-separated step counts (default 5,10,20)")
    sweep.add_argument("-n", "--num-samples", type=int, dest="n", help="samples per point (default 256)")
    sweep.add_argument("--seed", type=int)
    sweep.add_argument("--model", help="diffusers folder, hub id, or embedded:mnist (default)")
    sweep.add_argument("--backbone", help="feature network for FID/KID (default mnist-cnn)")
    sweep.add_argument("--reference", help="reference data set or imported statistics (default embedded:mnist)")
    sweep.add_argument("--config", help="a sweep TOML; options given here override it")
    sweep.add_argument("--out", default="runs/sweep", help="output folder (default runs/sweep)")
    sweep.add_argument("--force", action="store_true", help="recompute points already recorded in --out")
    sweep.add_argument("--batch-size", type=int)
    sweep.add_argument("--device")
    sweep.add_argument("--precision", choices=("fp32", "bf16", "fp16"))
    sweep.add_argument("--channels-last", action="store_true", default=None)
    sweep.add_argument("--compile", action="store_true", default=None)
    sweep.add_argument("--no-progress", action="store_true")
    add_inception_option(sweep)

    quality = sub.add_parser("quality", help="FID/KID and classifier confidence of a model's samples next to real data")
    quality.add_argument("--model", default="embedded:mnist")
    quality.add_argument("--scheduler", default="ddim")
    quality.add_argument("--steps", type=int, default=100)
    quality.add_argument("-n", "--num-samples", type=int, default=1000)
    quality.add_argument("--seed", type=int, default=0)
    quality.add_argument("--reference", default="embedded:mnist")
    quality.add_argument("--backbone", default="mnist-cnn")
    quality.add_argument("--out", required=True)
    add_runtime_options(quality)

    check = sub.add_parser("check", help="run the conformance kit on a registered scheduler")
    check.add_argument("scheduler", help="NAME[:option=value...]")

    report = sub.add_parser("report", help="rebuild report.md and report.html of a sweep folder from its records")
    report.add_argument("folder")
    report.add_argument("--time-tolerance", type=_fraction,
                        help="times within this fraction of each other count as equal on the Pareto front (default 0.1)")

    classifier = sub.add_parser("train-classifier", help="train the embedded mnist-cnn feature network")
    classifier.add_argument("--out", required=True)
    classifier.add_argument("--epochs", type=int, default=15)
    classifier.add_argument("--seed", type=int, default=0)

    train = sub.add_parser("train", help="train a UNet2DModel as a DDPM (resumable)")
    train.add_argument("--data", help="embedded:mnist (default) or a folder of images")
    train.add_argument("--out", required=True, help="run folder: checkpoint, log, and the final model/")
    train.add_argument("--steps", type=int)
    train.add_argument("--batch-size", type=int)
    train.add_argument("--lr", type=float)
    train.add_argument("--image-size", type=int)
    train.add_argument("--channels", type=int)
    train.add_argument("--block-out-channels", type=_csv_ints)
    train.add_argument("--layers-per-block", type=int)
    train.add_argument("--precision", choices=("fp32", "bf16"))
    train.add_argument("--checkpoint-every", type=int)
    train.add_argument("--seed", type=int)
    train.add_argument("--init-from", help="start from this model's weights (folder, hub id or embedded:mnist), e.g. to train a finished run further")
    train.add_argument("--export-only", action="store_true", help="save the latest checkpoint's EMA weights to OUT/model and stop")
    return parser


def add_runtime_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--device", help="cpu, cuda, cuda:N (default: cuda when available)")
    parser.add_argument("--precision", choices=("fp32", "bf16", "fp16"), default="fp32", help="UNet autocast dtype")
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--compile", action="store_true", help="torch.compile the UNet")
    parser.add_argument("--no-progress", action="store_true")
    add_inception_option(parser)


def add_inception_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--inception-weights", help="the Inception weights file for --backbone inception")


@command("sample")
def _sample(args: argparse.Namespace) -> int:
    from ddpm_bench.sampling import Precision
    from ddpm_bench.sample_run import run_sample

    precision = Precision(args.precision, args.channels_last, args.compile)
    result = run_sample(
        args.model, args.scheduler, args.steps, args.num_samples, args.seed, args.out,
        batch_size=args.batch_size, device=args.device, precision=precision,
        progress=False if args.no_progress else None, save_images=args.save_images,
        reference=args.reference, backbone=args.backbone,
    )
    timing = result["timing"]
    print(
        f"{result['scheduler']}: {args.num_samples} samples, NFE {timing['nfe']}, "
        f"{timing['seconds_per_image'] * 1000:.1f} ms/image (median of {timing['timed_batches']} batches) -> {args.out}"
    )
    if result.get("metrics"):
        m = result["metrics"]
        kid = f", KID {m['kid']:.4f} +- {m['kid_std']:.4f}" if m["kid"] is not None else ""
        print(f"FID {m['fid']:.3f}{kid} (N={m['n']}, backbone {m['backbone']}, reference {m['reference']})")
    return 0


@command("sweep")
def _sweep(args: argparse.Namespace) -> int:
    from ddpm_bench.report import write_report
    from ddpm_bench.sweep import config_from, load_config, run_sweep

    overrides = {
        "schedulers": args.schedulers, "steps": args.steps, "n": args.n, "seed": args.seed, "model": args.model,
        "backbone": args.backbone, "reference": args.reference, "batch_size": args.batch_size, "device": args.device,
        "precision": args.precision, "channels_last": args.channels_last, "compile": args.compile,
    }
    if args.config:
        config = load_config(args.config, **overrides)
    else:
        config = config_from(**{k: v for k, v in overrides.items() if v is not None})
    frame = run_sweep(config, args.out, force=args.force, progress=False if args.no_progress else None,
                      log=lambda line: print(line, flush=True))
    if frame is None:  # a rank other than 0 under torchrun: rank 0 writes the records and the report
        return 0
    report = write_report(args.out)
    points = frame[frame["status"].isin(["ok", "failed"])]
    failed = int((points["status"] == "failed").sum())
    print(f"{len(points)} points ({failed} failed); report: {report} and {report.with_suffix('.html')}")
    return 0


@command("quality")
def _quality(args: argparse.Namespace) -> int:
    from ddpm_bench.quality import model_quality
    from ddpm_bench.sampling import Precision

    result = model_quality(
        args.model, args.out, args.scheduler, args.steps, args.num_samples, args.seed, args.reference, args.backbone,
        args.batch_size, args.device, Precision(args.precision, args.channels_last, args.compile),
        False if args.no_progress else None,
    )
    for kind in ("samples", "real"):
        m = result[kind]
        confident = f", confident share {m['confident_share']:.3f}" if "confident_share" in m else ""
        print(f"{kind:8s} FID {m['fid']:.3f}  KID {m['kid']:.4f} +- {m['kid_std']:.4f}{confident}")
    print(f"(N={result['n']}, backbone {result['backbone']}, reference {result['reference']}) -> {args.out}")
    return 0


@command("check")
def _check(args: argparse.Namespace) -> int:
    from ddpm_bench.api import parse_scheduler_spec
    from ddpm_bench.testing import run_checks

    parse_scheduler_spec(args.scheduler)
    results = run_checks(args.scheduler)
    for result in results:
        print(result)
    failed = sum(not r.passed for r in results)
    print(f"{args.scheduler}: {len(results) - failed} of {len(results)} checks passed")
    return 1 if failed else 0


@command("report")
def _report(args: argparse.Namespace) -> int:
    from ddpm_bench.pareto import TIME_TOLERANCE
    from ddpm_bench.report import write_report

    tolerance = TIME_TOLERANCE if args.time_tolerance is None else args.time_tolerance
    print(f"report: {write_report(args.folder, tolerance)}")
    return 0


@command("stats")
def _stats(args: argparse.Namespace) -> int:
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


@command("schedulers")
def _schedulers(args: argparse.Namespace) -> int:
    from ddpm_bench.api import list_schedulers

    rows = [(s.name, f"{s.plugin} ({s.package} {s.version})", s.description) for s in list_schedulers()]
    print_table(("name", "plugin", "description"), rows)
    return 0


@command("plugins")
def _plugins(args: argparse.Namespace) -> int:
    from ddpm_bench.plugins import get_registry

    registry = get_registry()
    rows = [(p.name, p.package, p.version, p.module, "ok") for p in registry.plugins]
    rows += [(f.plugin, f.package, f.version, "", f"FAILED: {f.error}") for f in registry.failures]
    print_table(("plugin", "package", "version", "module", "status"), rows)
    return 1 if registry.failures else 0


def print_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows)]
    for row in (header, *rows):
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip())


@command("train-classifier")
def _train_classifier(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ddpm_bench.metrics.mnist_cnn import train_classifier

    result = train_classifier(Path(args.out), epochs=args.epochs, seed=args.seed, log=lambda s: print(s, flush=True))
    print(f"held-out accuracy {result['held_out_accuracy']:.4f} on {result['held_out_images']} digits -> {args.out}")
    return 0


@command("train")
def _train(args: argparse.Namespace) -> int:
    from ddpm_bench.training import config_from_options, train

    config = config_from_options(
        data=args.data,
        steps=args.steps,
        batch_size=args.batch_size,
        lr=args.lr,
        image_size=args.image_size,
        channels=args.channels,
        block_out_channels=args.block_out_channels,
        layers_per_block=args.layers_per_block,
        precision=args.precision,
        checkpoint_every=args.checkpoint_every,
        seed=args.seed,
        init_from=args.init_from,
    )
    folder = train(config, args.out, log=lambda line: print(line, flush=True), export_only=args.export_only)
    print(f"model saved to {folder}")
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "inception_weights", None):
        from ddpm_bench.metrics.inception import WEIGHTS_ENV

        os.environ[WEIGHTS_ENV] = args.inception_weights
    try:
        return COMMANDS[args.command](args)
    except BenchError as error:
        print(f"ddpm-bench: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("ddpm-bench: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
