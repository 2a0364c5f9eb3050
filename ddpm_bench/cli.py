"""The ``ddpm-bench`` command: parses arguments, calls the library, prints.

Every BenchError becomes one line on stderr and exit status 2; nothing already written is removed.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Callable, Optional, Sequence

from ddpm_bench.errors import BenchError, ConfigError
from ddpm_bench.util.options import positive_int_list, split_list
from ddpm_bench.settings import DEFAULTS, PRECISIONS

COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {}


def command(name: str):
    def decorate(function):
        COMMANDS[name] = function
        return function

    return decorate


def _argument_type(parse, name: str, **options):
    """An argparse type from a parser that raises ConfigError: argparse prints its message after the option's name."""
    def convert(text: str):
        try:
            return parse(text, **options)
        except ConfigError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    convert.__name__ = name
    return convert


_csv_ints = _argument_type(positive_int_list, "distinct positive integers")
_csv_widths = _argument_type(positive_int_list, "positive integers", distinct=False)
_csv_strings = _argument_type(split_list, "distinct names")


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number such as 0.1, got {text!r}") from None
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"expected a fraction from 0 up to 1, got {text!r}")
    return value


def _listed(name: str) -> str:
    return ",".join(map(str, DEFAULTS[name]))


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports a bad argument in one line (and exit status 2), pointing at --help."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


DESCRIPTION = """\
Which diffusion sampler, and how many steps, give the best images for the time you can spend?
ddpm-bench runs samplers (DDPM, DDIM, PNDM and any plugin's) on one denoising model from the same initial noise,
times them, scores them with FID and KID, and writes a report with the best choice for each time budget."""

EXAMPLES = """\
examples:
  ddpm-bench sweep --out runs/sweep                       DDPM, DDIM and PNDM at 5, 10, 20 steps on the embedded model
  ddpm-bench sample --scheduler ddim --steps 50 --out runs/sample   64 images from one scheduler, with timings
  ddpm-bench COMMAND --help                               the options of one command, with their defaults"""

SWEEP_EXAMPLES = """\
examples:
  ddpm-bench sweep --schedulers ddim,ddim:eta=1.0,pndm:skip_prk_steps=true --steps 10,20 --out runs/variants
  ddpm-bench sweep --config results/large/sweep.toml --out runs/large      a committed sweep, reproduced
  ddpm-bench sweep --config runs/large/sweep.toml -n 1000 --out runs/n1000  the same with another option
  torchrun --nproc_per_node 2 -m ddpm_bench sweep --out runs/two          data-parallel over 2 processes"""


TARGET_EXAMPLES = """\
examples:
  ddpm-bench target --schedulers ddim,pndm --fid 1.5 --out runs/fid             fewest steps to an FID of at most 1.5
  ddpm-bench target --schedulers ddim,pndm --match ddpm:1000 --out runs/match   as good as DDPM at 1,000 steps"""


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="ddpm-bench", description=f"{DESCRIPTION}\n\n{EXAMPLES}",
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)

    sub.add_parser("schedulers", help="list the registered schedulers with their plugin and version")
    sub.add_parser("plugins", help="list loaded plugins and those that failed, with the reason")

    sample = sub.add_parser("sample", help="sample N images with one scheduler: grid PNG, timings, provenance")
    sample.add_argument("--model", default=DEFAULTS["model"], help="diffusers folder, hub id, or embedded:mnist (default: %(default)s)")
    sample.add_argument("--scheduler", required=True, help="NAME[:option=value...], e.g. ddim:eta=1.0")
    sample.add_argument("--steps", type=int, required=True, help="inference steps (required)")
    sample.add_argument("-n", "--num-samples", type=int, default=DEFAULTS["sample_n"], help="images to draw (default: %(default)s)")
    sample.add_argument("--seed", type=int, default=DEFAULTS["seed"], help="sample i depends only on (seed, i) (default: %(default)s)")
    sample.add_argument("--out", required=True, help="output folder")
    sample.add_argument("--save-images", action="store_true", help="also write each image as OUT/images/NNNNNN.png")
    sample.add_argument("--reference", help="score FID/KID against this data set (embedded:mnist, folder, .npz, imported name)")
    sample.add_argument("--backbone", default=DEFAULTS["backbone"], help="feature network for FID/KID (default: %(default)s)")
    add_runtime_options(sample)

    stats = sub.add_parser("stats", help="precompute and cache reference statistics, or import published ones")
    stats.add_argument("--dataset", default=DEFAULTS["reference"], help="embedded:mnist, a folder of images, or an .npz of images (default: %(default)s)")
    stats.add_argument("--backbone", default=DEFAULTS["backbone"], help="feature network (default: %(default)s)")
    stats.add_argument("--image-size", type=int, default=28, help="size folder images are resized to (default: %(default)s)")
    stats.add_argument("--channels", type=int, default=1, choices=(1, 3), help="grey (1) or colour (3) (default: %(default)s)")
    stats.add_argument("--import", dest="import_file", help="a published mu/sigma .npz (pytorch-fid, torch-fidelity)")
    stats.add_argument("--name", help="the name an imported file is stored under (use it as --reference)")
    add_inception_option(stats)

    sweep = sub.add_parser("sweep", help="schedulers x steps on one model: timed, scored, recorded, reported",
                           description="Run schedulers x step counts on one model; record, score and report each point.",
                           epilog=SWEEP_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    # No argparse defaults here: a value not given comes from --config, else from settings.DEFAULTS (shown in the help).
    sweep.add_argument("--schedulers", type=_csv_strings, help=f"comma-separated, each NAME[:option=value...] (default: {_listed('schedulers')})")
    sweep.add_argument("--steps", type=_csv_ints, help=f"comma-separated step counts (default: {_listed('steps')})")
    sweep.add_argument("-n", "--num-samples", type=int, dest="n", help=f"samples per point (default: {DEFAULTS['n']})")
    sweep.add_argument("--seed", type=int, help=f"sample i depends only on (seed, i) (default: {DEFAULTS['seed']})")
    sweep.add_argument("--model", help=f"diffusers folder, hub id, or embedded:mnist (default: {DEFAULTS['model']})")
    sweep.add_argument("--backbone", help=f"feature network for FID/KID (default: {DEFAULTS['backbone']})")
    sweep.add_argument("--reference", help=f"reference data set or imported statistics (default: {DEFAULTS['reference']})")
    sweep.add_argument("--floor-data", help="real images the model never saw, for the real-data floor (e.g. "
                       "embedded:mnist-test, a folder, an .npz) (default: embedded:mnist-test, MNIST's test digits, "
                       "for an embedded reference; else drawn from --reference)")
    sweep.add_argument("--config", help="a sweep TOML; options given here override it")
    sweep.add_argument("--out", default="runs/sweep", help="output folder (default: %(default)s)")
    sweep.add_argument("--force", action="store_true", help="recompute points already recorded in --out")
    sweep.add_argument("--batch-size", type=int, help=f"images per UNet batch; changes timing, never an image (default: {DEFAULTS['batch_size']})")
    sweep.add_argument("--device", help="cpu, cuda, cuda:N (default: cuda when available)")
    sweep.add_argument("--precision", choices=PRECISIONS, help=f"UNet autocast dtype (default: {DEFAULTS['precision']})")
    sweep.add_argument("--channels-last", action="store_true", default=None, help="UNet in channels-last memory format")
    sweep.add_argument("--compile", action="store_true", default=None, help="torch.compile the UNet")
    sweep.add_argument("--no-features", dest="keep_features", action="store_false", default=None,
                       help="do not keep every sample's features beside the records (they let compare and later "
                            "statistics run without sampling again; float32: 512 bytes a sample with mnist-cnn, 8 KB "
                            "with inception)")
    sweep.add_argument("--decide", action="store_true", default=None,
                       help="after the sweep, more samples (N, 2N, ... up to --max-n) only for the points of paired "
                            "comparisons still tied; verdicts with their N in OUT/decisions.json")
    sweep.add_argument("--max-n", type=int, help=f"most samples a point gets with --decide (default: {DEFAULTS['max_n']})")
    sweep.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_inception_option(sweep)

    target = sub.add_parser("target", help="the fewest steps that reach an FID or match a point, per scheduler, ranked by time",
                            description="For each scheduler, the fewest steps whose FID meets the target with 95%% "
                                        "confidence (steps doubled, then bisected; samples doubled per point while "
                                        "undecided), and the schedulers that reach it ranked by time per image.",
                            epilog=TARGET_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    target.add_argument("--schedulers", type=_csv_strings, default=DEFAULTS["schedulers"],
                        help=f"comma-separated, each NAME[:option=value...] (default: {_listed('schedulers')})")
    goal = target.add_mutually_exclusive_group(required=True)
    goal.add_argument("--fid", type=float, help="reach this FID: the upper end of the point's FID interval at most VALUE")
    goal.add_argument("--match", metavar="SCHEDULER:STEPS", help="be not worse than this point (e.g. ddpm:1000) by "
                      "more than --margin: the upper end of the paired FID difference at most the margin")
    target.add_argument("--margin", type=float, help="FID difference that still counts as a match (default: "
                        f"{DEFAULTS['match_margin'] * 100:g}%% of the matched point's FID)")
    target.add_argument("--first-steps", type=int, default=DEFAULTS["first_steps"], help="step count tried first, then doubled (default: %(default)s)")
    target.add_argument("--max-steps", type=int, default=DEFAULTS["max_steps"], help="most steps tried (default: %(default)s)")
    target.add_argument("--start-n", type=int, default=DEFAULTS["start_n"], help="samples of a point's first look (default: %(default)s)")
    target.add_argument("--max-n", type=int, default=DEFAULTS["max_n"], help="most samples a point gets (default: %(default)s)")
    target.add_argument("--model", default=DEFAULTS["model"], help="diffusers folder, hub id, or embedded:mnist (default: %(default)s)")
    target.add_argument("--seed", type=int, default=DEFAULTS["seed"], help="sample i depends only on (seed, i) (default: %(default)s)")
    target.add_argument("--reference", default=DEFAULTS["reference"], help="reference data set or imported statistics (default: %(default)s)")
    target.add_argument("--backbone", default=DEFAULTS["backbone"], help="feature network for FID (default: %(default)s)")
    target.add_argument("--out", default="runs/target", help="output folder: every point's record, target.json (default: %(default)s)")
    target.add_argument("--json", action="store_true", help="print a JSON list instead of a table")
    add_runtime_options(target)

    quality = sub.add_parser("quality", help="FID/KID and classifier confidence of a model's samples next to real data")
    quality.add_argument("--model", default=DEFAULTS["model"], help="diffusers folder, hub id, or embedded:mnist (default: %(default)s)")
    quality.add_argument("--scheduler", default=DEFAULTS["quality_scheduler"], help="NAME[:option=value...] (default: %(default)s)")
    quality.add_argument("--steps", type=int, default=DEFAULTS["quality_steps"], help="(default: %(default)s)")
    quality.add_argument("-n", "--num-samples", type=int, default=DEFAULTS["quality_n"], help="samples, and real images for the floor (default: %(default)s)")
    quality.add_argument("--seed", type=int, default=DEFAULTS["seed"], help="(default: %(default)s)")
    quality.add_argument("--reference", default=DEFAULTS["reference"], help="reference data set (default: %(default)s)")
    quality.add_argument("--backbone", default=DEFAULTS["backbone"], help="feature network (default: %(default)s)")
    quality.add_argument("--floor-data", help="real images the model never saw, scored beside the samples (default: "
                         "embedded:mnist-test for an embedded reference; else drawn from --reference)")
    quality.add_argument("--out", required=True, help="output folder: quality.json and samples.png (required)")
    add_runtime_options(quality)

    check = sub.add_parser("check", help="run the conformance kit on a registered scheduler")
    check.add_argument("scheduler", help="NAME[:option=value...]")

    report = sub.add_parser("report", help="rebuild report.md and report.html of a sweep folder from its records")
    report.add_argument("folder", help="a sweep's output folder (its records.jsonl)")
    report.add_argument("--time-tolerance", type=_fraction,
                        help="times within this fraction of each other count as equal on the Pareto front (default 0.1)")

    compare = sub.add_parser("compare", help="FID and KID differences between points, with 95%% intervals and verdicts",
                             description="Differences between points of one or two sweep folders, from the features "
                                         "the sweeps kept: paired (sample i from the same x_T) where the points share "
                                         "model, seed and N, unpaired otherwise.")
    compare.add_argument("folders", nargs="+", metavar="DIR", help="one or two sweep folders")
    compare.add_argument("--pairs", nargs="+", metavar="A,B", help="point labels as in the report, e.g. ddim:10,ddim:20 "
                         "(default: every two schedulers at the same step count, and each scheduler's consecutive step counts)")
    compare.add_argument("--json", action="store_true", help="print a JSON list instead of a table")
    compare.add_argument("--replicates", type=int,
                         help="bootstrap replicates per interval (default: as many as the records' intervals; an "
                              "interval at the edge of its verdict is drawn again with 10 times as many)")

    retime = sub.add_parser(
        "retime", help="time every finished point of a folder again, side by side",
        description="Each point's time per image measured again in rounds, one batch of every point in turn, so that "
                    "points sampled in separate runs or beside other work are compared under the same conditions. "
                    "Writes DIR/timings.json; the report then shows these times.")
    retime.add_argument("folder", metavar="DIR", help="a sweep or target folder")
    retime.add_argument("--rounds", type=int, default=DEFAULTS["retime_rounds"],
                        help="batches of each point; each point's time is the median of its rounds (default: %(default)s)")

    convergence = sub.add_parser(
        "convergence", help="each point's distance to a many-step solution from the same x_T, with 95%% intervals",
        description="How far each point's sample i lands from sample i of a many-step solver (DDIM eta=0 at 1,000 "
                    "steps by default), in the feature network's space: the discretisation error, measured sample by "
                    "sample. The solution is sampled once into DIR/solution-nN; the report gets a section.")
    convergence.add_argument("folder", metavar="DIR", help="a sweep or target folder whose points kept their features")
    convergence.add_argument("--to", default=DEFAULTS["convergence_solution"],
                             help="the solution, SCHEDULER:STEPS (default: %(default)s)")
    convergence.add_argument("-n", "--num-samples", type=int, default=DEFAULTS["convergence_n"],
                             help="samples of the solution (the first N indices; default: %(default)s)")
    convergence.add_argument("--json", action="store_true", help="print convergence.json instead of tables")
    convergence.add_argument("--no-progress", action="store_true", help="no progress bar")

    classifier = sub.add_parser("train-classifier", help="train the embedded mnist-cnn feature network")
    classifier.add_argument("--out", required=True, help="output folder (required)")
    classifier.add_argument("--epochs", type=int, default=15, help="(default: %(default)s)")
    classifier.add_argument("--seed", type=int, default=0, help="(default: %(default)s)")

    train = sub.add_parser("train", help="train a UNet2DModel as a DDPM (resumable)")
    train.add_argument("--data", help="embedded:mnist (default; all 5,000 digits), embedded:mnist-train (the 4,000 not held out), a folder of images, or an .npz of images")
    train.add_argument("--out", required=True, help="run folder: checkpoint, log, and the final model/")
    from ddpm_bench.model.training import TrainConfig

    recipe = TrainConfig()
    for option, kind, text in (("--steps", int, "optimiser steps"), ("--batch-size", int, "images per step"),
                               ("--lr", float, "peak learning rate (warm-up, then cosine)"),
                               ("--image-size", int, "training resolution"), ("--channels", int, "image channels"),
                               ("--block-out-channels", _csv_widths, "UNet widths per resolution"),
                               ("--layers-per-block", int, "ResNet layers per UNet block"),
                               ("--checkpoint-every", int, "steps between resumable checkpoints"),
                               ("--seed", int, "data order and noise")):
        value = getattr(recipe, option[2:].replace("-", "_"))
        shown = ",".join(map(str, value)) if isinstance(value, (list, tuple)) else value
        train.add_argument(option, type=kind, help=f"{text} (default: {shown})")
    train.add_argument("--precision", choices=("fp32", "bf16"), help=f"autocast dtype (default: {recipe.precision})")
    train.add_argument("--init-from", help="start from this model's weights (folder, hub id or embedded:mnist), e.g. to train a finished run further")
    train.add_argument("--export-only", action="store_true", help="save the latest checkpoint's EMA weights to OUT/model and stop")
    return parser


def add_runtime_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--batch-size", type=int, default=DEFAULTS["batch_size"], help="images per UNet batch; changes timing, never an image (default: %(default)s)")
    parser.add_argument("--device", help="cpu, cuda, cuda:N (default: cuda when available)")
    parser.add_argument("--precision", choices=PRECISIONS, default=DEFAULTS["precision"], help="UNet autocast dtype (default: %(default)s)")
    parser.add_argument("--channels-last", action="store_true", help="UNet in channels-last memory format")
    parser.add_argument("--compile", action="store_true", help="torch.compile the UNet")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_inception_option(parser)


def add_inception_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--inception-weights", help="the Inception weights file for --backbone inception")


def _run_settings(args: argparse.Namespace):
    from ddpm_bench.settings import RunSettings

    return RunSettings(model=args.model, backbone=args.backbone, reference=args.reference or DEFAULTS["reference"],
                       floor_data=getattr(args, "floor_data", None), seed=args.seed, batch_size=args.batch_size,
                       device=args.device, precision=args.precision, channels_last=args.channels_last,
                       compile=args.compile)


def _progress(args: argparse.Namespace) -> Optional[bool]:
    return False if args.no_progress else None


@command("sample")
def _sample(args: argparse.Namespace) -> int:
    from ddpm_bench.store.records import INTERVAL_NOTE, scores_text
    from ddpm_bench.runs.sample import run_sample

    record = run_sample(_run_settings(args), args.scheduler, args.steps, args.num_samples, args.out,
                        score=bool(args.reference), progress=_progress(args), save_images=args.save_images)
    batches = record["timed_batches"]
    print(
        f"{record['scheduler']}: {args.num_samples} samples, NFE {record['nfe']}, "
        f"{record['seconds_per_image'] * 1000:.1f} ms/image (median of {batches} batch{'es' if batches != 1 else ''}) -> {args.out}"
    )
    if args.reference:
        print(f"{scores_text(record)} (N={record['n']}, seed {record['seed']}, backbone {record['backbone']}, "
              f"reference {record['reference']})\n{INTERVAL_NOTE}")
    return 0


@command("sweep")
def _sweep(args: argparse.Namespace) -> int:
    from ddpm_bench.report.document import write_report
    from ddpm_bench.settings import config_from, load_config
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
    from pathlib import Path

    from ddpm_bench.store.records import RECORDS, REPORT

    records, report = Path(args.out) / RECORDS, Path(args.out) / REPORT
    before = records.stat().st_mtime_ns if records.exists() else None
    frame = run_sweep(config, args.out, force=args.force, progress=_progress(args),
                      log=lambda line: print(line, flush=True))
    if frame is None:  # a rank other than 0 under torchrun: rank 0 writes the records and the report
        return 0
    unchanged = before is not None and records.stat().st_mtime_ns == before
    if unchanged and report.exists() and report.stat().st_mtime_ns >= before:
        print(f"nothing to compute; the report is up to date (ddpm-bench report {args.out} rebuilds it)")
    else:
        report = write_report(args.out)
    points = frame[frame["status"].isin(["ok", "failed"])]
    failed = int((points["status"] == "failed").sum())
    print(f"{len(points)} points ({failed} failed); report: {report} and {report.with_suffix('.html')}")
    return 0


@command("target")
def _target(args: argparse.Namespace) -> int:
    import json

    from ddpm_bench.stats.adaptive import EDGE_TEXT
    from ddpm_bench.report.document import chosen_at_edge, edge_note, ended_out_of_reach, look_text, missed_text
    from ddpm_bench.settings import TargetConfig
    from ddpm_bench.runs.target import run_target

    config = TargetConfig(
        **{name: getattr(args, name) for name in ("model", "backbone", "reference", "seed", "batch_size", "device",
                                                  "precision", "channels_last", "compile", "schedulers", "fid",
                                                  "match", "margin", "first_steps", "max_steps", "start_n", "max_n")})
    summary = run_target(config, args.out, progress=_progress(args),
                         log=(lambda line: print(line, file=sys.stderr, flush=True)) if args.json else print)
    if args.json:
        print(json.dumps(summary["results"], indent=1))
        return 0
    goal = summary["target"]
    what = f"FID at most {goal['fid']:g}" if "fid" in goal else f"FID not worse than {goal['match']} by more than {goal['margin']:.3f}"
    column = "FID interval" if "fid" in goal else "FID - matched, interval"
    rows = []
    for r in summary["results"]:
        ms = "" if r["seconds_per_image"] is None else f"{r['seconds_per_image'] * 1000:.1f}"
        rows.append((r["scheduler"], str(r["steps"]), str(r["nfe"] or ""), ms, look_text(r, "match" in goal),
                     str(r["n"]), ("yes" if r["met"] else f"no ({missed_text(r)} {r['steps']} steps)")
                     + edge_note(r)))
    if any(map(ended_out_of_reach, summary["results"])):
        print("out of reach: the pairing does not narrow the interval, so more steps cannot show a match at this N "
              "(the report says what N it would take)")
    if any(map(chosen_at_edge, summary["results"])):
        print(f"{EDGE_TEXT}; read such an answer as tied with its neighbours on the search path")
    print(f"\ntarget: {what}, each look at {summary['confidence']:.1%} confidence (95 % over looks at N = "
          f"{', '.join(map(str, summary['sample_sizes']))}); seed {summary['seed']}, backbone {summary['backbone']}, "
          f"reference {summary['reference']}")
    print_table(("scheduler", "steps", "NFE", "ms/image", column, "N", "met"), rows)
    print(f"-> {args.out}/target.json; every point is a record there (ddpm-bench report {args.out})")
    return 0


@command("quality")
def _quality(args: argparse.Namespace) -> int:
    from ddpm_bench.runs.quality import model_quality
    from ddpm_bench.store.records import scores_text

    result = model_quality(_run_settings(args), args.out, scheduler=args.scheduler, steps=args.steps,
                           n=args.num_samples, progress=_progress(args))
    for kind in ("samples", "real"):
        m = result[kind]
        confident = f", confident share {m['confident_share']:.3f}" if "confident_share" in m else ""
        print(f"{kind:8s} {scores_text(m)}{confident}")
    print(f"(N={result['n']}, seed {result['seed']}, backbone {result['backbone']}, reference {result['reference']}, "
          f"real images from {result['real']['data']}) -> {args.out}")
    return 0


@command("check")
def _check(args: argparse.Namespace) -> int:
    from ddpm_bench.schedulers.specs import parse_scheduler_spec
    from ddpm_bench.schedulers.conformance import run_checks

    parse_scheduler_spec(args.scheduler)
    results = run_checks(args.scheduler)
    for result in results:
        print(result)
    failed = sum(not r.passed for r in results)
    print(f"{args.scheduler}: {len(results) - failed} of {len(results)} checks passed")
    return 1 if failed else 0


@command("report")
def _report(args: argparse.Namespace) -> int:
    from ddpm_bench.verdicts.pareto import TIME_TOLERANCE
    from ddpm_bench.report.document import write_report

    tolerance = TIME_TOLERANCE if args.time_tolerance is None else args.time_tolerance
    print(f"report: {write_report(args.folder, tolerance)}")
    return 0


@command("compare")
def _compare(args: argparse.Namespace) -> int:
    import json

    from ddpm_bench.verdicts.comparisons import EDGE_VERDICTS, run_compare, verdict_text
    from ddpm_bench.util.options import positive_int
    from ddpm_bench.stats import REPLICATES

    if len(args.folders) > 2:
        raise BenchError(f"compare takes one or two sweep folders, got {len(args.folders)}")
    replicates = REPLICATES if args.replicates is None else positive_int(args.replicates, "--replicates")
    differences = run_compare(args.folders, args.pairs, replicates=replicates)
    if args.json:
        print(json.dumps([d.to_dict() for d in differences], indent=1))
        return 0
    rows = [(d.a, d.b, d.metric.upper(), f"{d.difference:+.4g}", f"[{d.low:+.4g}, {d.high:+.4g}]",
             "paired" if d.paired else "unpaired", str(d.n), f"{d.replicates:,}", verdict_text(d))
            for d in differences]
    print_table(("a", "b", "metric", "a - b", "95% interval", "", "N", "replicates", "verdict"), rows)
    if any(d.at_edge() for d in differences):
        print(EDGE_VERDICTS)
    return 0


@command("retime")
def _retime(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ddpm_bench.store.records import TIMINGS, point_label
    from ddpm_bench.report.document import write_report
    from ddpm_bench.runs.retime import retime_folder

    folder = Path(args.folder)
    summary = retime_folder(folder, args.rounds, log=lambda line: print(line, file=sys.stderr, flush=True))
    write_report(folder)
    print_table(("point", "ms/image while sampled", "ms/image side by side"),
                [(point_label(t["scheduler"], t["steps"]), f"{t['seconds_per_image_while_sampled'] * 1000:.1f}",
                  f"{t['seconds_per_image'] * 1000:.1f}") for t in summary["timings"]])
    print(f"-> {folder / TIMINGS}; report rebuilt")
    return 0


@command("convergence")
def _convergence(args: argparse.Namespace) -> int:
    import json

    from ddpm_bench.runs.convergence import run_convergence
    from ddpm_bench.util.options import positive_int
    from ddpm_bench.report.document import write_report

    positive_int(args.num_samples, "-n")
    summary = run_convergence(args.folder, args.to, args.num_samples, progress=_progress(args),
                              log=lambda line: print(line, file=sys.stderr, flush=True))
    write_report(args.folder)
    if args.json:
        print(json.dumps(summary, indent=1))
        return 0
    print(f"distance to {summary['solution']} in {summary['backbone']} features, first {summary['n']} samples, seed "
          f"{summary['seed']} (relative: 1 = two unrelated samples, {summary['scale']:.3f})")
    print_table(("point", "NFE", "ms/image", "distance", "95% interval", "relative"),
                [(p["label"], str(p["nfe"]), f"{p['seconds_per_image'] * 1000:.1f}", f"{p['mean']:.4g}",
                  f"[{p['low']:.4g}, {p['high']:.4g}]", f"{p['relative']:.3f}") for p in summary["points"]])
    print()
    print_table(("a", "b", "a - b", "95% interval", "verdict"),
                [(d["a"], d["b"], f"{d['difference']:+.4g}", f"[{d['low']:+.4g}, {d['high']:+.4g}]", d["verdict"])
                 for d in summary["comparisons"]])
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
    from ddpm_bench.schedulers.specs import list_schedulers

    rows = [(s.name, f"{s.plugin} ({s.package} {s.version})", s.description) for s in list_schedulers()]
    print_table(("name", "plugin", "description"), rows)
    return 0


@command("plugins")
def _plugins(args: argparse.Namespace) -> int:
    from ddpm_bench.plugins import get_registry

    registry = get_registry()
    rows = [(p.name, p.package, p.version, p.module, p.status()) for p in registry.plugins]
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
    from ddpm_bench.model.training import config_from_options, train

    options = ("data", "steps", "batch_size", "lr", "image_size", "channels", "block_out_channels", "layers_per_block",
               "precision", "checkpoint_every", "seed", "init_from")
    config = config_from_options(**{name: getattr(args, name) for name in options})
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
    except BrokenPipeError:  # output piped into a reader that stopped early (| head): nothing left to say
        sys.stdout = None
        return 0


if __name__ == "__main__":
    sys.exit(main())
