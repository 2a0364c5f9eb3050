"""``ddpm-bench sweep``: schedulers x step counts on one model, each point timed, scored and recorded, then reported."""

from __future__ import annotations

import argparse
from pathlib import Path

from ddpm_bench.cli.arguments import add_inception_option, csv_ints, csv_strings, listed, progress
from ddpm_bench.cli.report import folder_report
from ddpm_bench.settings import DEFAULTS, PRECISIONS, config_from, load_config
from ddpm_bench.store.freshness import records_stamp, report_is_current
from ddpm_bench.store.records import FAILED, OK, REPORT, STATUS

EXAMPLES = """\
examples:
  ddpm-bench sweep --schedulers ddim,ddim:eta=1.0,pndm:skip_prk_steps=true --steps 10,20 --out runs/variants
  ddpm-bench sweep --config results/large/sweep.toml --out runs/large      a committed sweep, reproduced
  ddpm-bench sweep --config runs/large/sweep.toml -n 1000 --out runs/n1000  the same with another option
  torchrun --nproc_per_node 2 -m ddpm_bench sweep --out runs/two          data-parallel over 2 processes"""


def add_parser(subparsers) -> None:
    sweep = subparsers.add_parser("sweep", help="schedulers x steps on one model: timed, scored, recorded, reported",
                                  description="Run schedulers x step counts on one model; record, score and report "
                                              "each point.",
                                  epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    # No argparse defaults here: a value not given comes from --config, else from settings.DEFAULTS (shown in the help).
    sweep.add_argument("--schedulers", type=csv_strings,
                       help=f"comma-separated, each NAME[:option=value...] (default: {listed('schedulers')})")
    sweep.add_argument("--steps", type=csv_ints, help=f"comma-separated step counts (default: {listed('steps')})")
    sweep.add_argument("-n", "--num-samples", type=int, dest="n", help=f"samples per point (default: {DEFAULTS['n']})")
    sweep.add_argument("--seed", type=int, help=f"sample i depends only on (seed, i) (default: {DEFAULTS['seed']})")
    sweep.add_argument("--model", help=f"diffusers folder, hub id, or embedded:mnist (default: {DEFAULTS['model']})")
    sweep.add_argument("--backbone", help="feature network for FID/KID, NAME[:option=value...] (dinov2:size=base) "
                                          f"(default: {DEFAULTS['backbone']})")
    sweep.add_argument("--reference",
                       help=f"reference data set or imported statistics (default: {DEFAULTS['reference']})")
    sweep.add_argument("--floor-data", help="real images the model never saw, for the real-data floor (e.g. "
                       "embedded:mnist-test, a folder, an .npz) (default: embedded:mnist-test, MNIST's test digits, "
                       "for an embedded reference; else drawn from --reference)")
    sweep.add_argument("--config", help="a sweep TOML; options given here override it")
    sweep.add_argument("--out", default="runs/sweep", help="output folder (default: %(default)s)")
    sweep.add_argument("--force", action="store_true", help="recompute points already recorded in --out")
    sweep.add_argument("--batch-size", type=int, help="images per UNet batch; changes timing, never an image "
                       f"(default: {DEFAULTS['batch_size']})")
    sweep.add_argument("--device", help="cpu, cuda, cuda:N (default: cuda when available)")
    sweep.add_argument("--precision", choices=PRECISIONS,
                       help=f"UNet autocast dtype (default: {DEFAULTS['precision']})")
    sweep.add_argument("--channels-last", action="store_true", default=None, help="UNet in channels-last memory format")
    sweep.add_argument("--compile", action="store_true", default=None, help="torch.compile the UNet")
    sweep.add_argument("--no-features", dest="keep_features", action="store_false", default=None,
                       help="do not keep every sample's features beside the records (they let compare and later "
                            "statistics run without sampling again; float32: 512 bytes a sample with mnist-cnn, 8 KB "
                            "with inception)")
    sweep.add_argument("--decide", action="store_true", default=None,
                       help="after the sweep, more samples (N, 2N, ... up to --max-n) only for the points of paired "
                            "comparisons still tied; verdicts with their N in OUT/decisions.json")
    sweep.add_argument("--max-n", type=int,
                       help=f"most samples a point gets with --decide (default: {DEFAULTS['max_n']})")
    sweep.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_inception_option(sweep)
    sweep.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    # imported when the command runs: the sampling stack, and pandas for the report
    from ddpm_bench.runs.sweep import run_sweep

    overrides = {
        "schedulers": args.schedulers, "steps": args.steps, "n": args.n, "seed": args.seed, "model": args.model,
        "backbone": args.backbone, "reference": args.reference, "floor_data": args.floor_data,
        "batch_size": args.batch_size, "device": args.device,
        "precision": args.precision, "channels_last": args.channels_last, "compile": args.compile,
        "keep_features": args.keep_features, "decide": args.decide, "max_n": args.max_n,
    }
    if args.config:
        config = load_config(args.config, **overrides)
    else:
        config = config_from(**{k: v for k, v in overrides.items() if v is not None})
    before = records_stamp(args.out)
    frame = run_sweep(config, args.out, force=args.force, progress=progress(args),
                      log=lambda line: print(line, flush=True))
    if frame is None:  # a rank other than 0 under torchrun: rank 0 writes the records and the report
        return 0
    if report_is_current(args.out, before):
        report = Path(args.out) / REPORT
        print(f"nothing to compute; the report is up to date (ddpm-bench report {args.out} rebuilds it)")
    else:
        report = folder_report(args.out)
    points = frame[frame[STATUS].isin([OK, FAILED])]
    failed = int((points[STATUS] == FAILED).sum())
    print(f"{len(points)} points ({failed} failed); report: {report} and {report.with_suffix('.html')}")
    return 0
