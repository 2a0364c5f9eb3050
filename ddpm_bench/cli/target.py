"""``ddpm-bench target``: per scheduler, the fewest steps that reach an FID or match a point; ranked by time."""

from __future__ import annotations

import argparse
import json
import sys

from ddpm_bench.cli.arguments import add_runtime_options, csv_strings, listed, progress
from ddpm_bench.cli.table import print_table
from ddpm_bench.settings import DEFAULTS, TargetConfig

EXAMPLES = """\
examples:
  ddpm-bench target --schedulers ddim,pndm --fid 1.5 --out runs/fid             fewest steps to an FID of at most 1.5
  ddpm-bench target --schedulers ddim,pndm --match ddpm:1000 --out runs/match   as good as DDPM at 1,000 steps"""


def add_parser(subparsers) -> None:
    target = subparsers.add_parser(
        "target", help="the fewest steps that reach an FID or match a point, per scheduler, ranked by time",
        description="For each scheduler, the fewest steps whose FID meets the target with 95%% confidence (steps "
                    "doubled, then bisected; samples doubled per point while undecided), and the schedulers that "
                    "reach it ranked by time per image.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    target.add_argument("--schedulers", type=csv_strings, default=DEFAULTS["schedulers"],
                        help=f"comma-separated, each NAME[:option=value...] (default: {listed('schedulers')})")
    goal = target.add_mutually_exclusive_group(required=True)
    goal.add_argument("--fid", type=float,
                      help="reach this FID: the upper end of the point's FID interval at most VALUE")
    goal.add_argument("--match", metavar="SCHEDULER:STEPS", help="be not worse than this point (e.g. ddpm:1000) by "
                      "more than --margin: the upper end of the paired FID difference at most the margin")
    target.add_argument("--margin", type=float, help="FID difference that still counts as a match (default: "
                        f"{DEFAULTS['match_margin'] * 100:g}%% of the matched point's FID)")
    target.add_argument("--first-steps", type=int, default=DEFAULTS["first_steps"],
                        help="step count tried first, then doubled (default: %(default)s)")
    target.add_argument("--max-steps", type=int, default=DEFAULTS["max_steps"],
                        help="most steps tried (default: %(default)s)")
    target.add_argument("--start-n", type=int, default=DEFAULTS["start_n"],
                        help="samples of a point's first look (default: %(default)s)")
    target.add_argument("--max-n", type=int, default=DEFAULTS["max_n"],
                        help="most samples a point gets (default: %(default)s)")
    target.add_argument("--model", default=DEFAULTS["model"],
                        help="diffusers folder, hub id, or embedded:mnist (default: %(default)s)")
    target.add_argument("--seed", type=int, default=DEFAULTS["seed"],
                        help="sample i depends only on (seed, i) (default: %(default)s)")
    target.add_argument("--reference", default=DEFAULTS["reference"],
                        help="reference data set or imported statistics (default: %(default)s)")
    target.add_argument("--backbone", default=DEFAULTS["backbone"],
                        help="feature network for FID (default: %(default)s)")
    target.add_argument("--out", default="runs/target",
                        help="output folder: every point's record, target.json (default: %(default)s)")
    target.add_argument("--json", action="store_true", help="print a JSON list instead of a table")
    add_runtime_options(target)
    target.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    # imported when the command runs: the sampling stack and the statistics, and pandas for the verdicts' texts
    from ddpm_bench.report.text import edge_note, look_text, missed_text
    from ddpm_bench.runs.target import run_target
    from ddpm_bench.stats.adaptive import EDGE_TEXT
    from ddpm_bench.verdicts import chosen_at_edge, ended_out_of_reach

    config = TargetConfig(
        **{name: getattr(args, name) for name in ("model", "backbone", "reference", "seed", "batch_size", "device",
                                                  "precision", "channels_last", "compile", "schedulers", "fid",
                                                  "match", "margin", "first_steps", "max_steps", "start_n", "max_n")})
    summary = run_target(config, args.out, progress=progress(args),
                         log=(lambda line: print(line, file=sys.stderr, flush=True)) if args.json else print)
    if args.json:
        print(json.dumps(summary["results"], indent=1))
        return 0
    goal = summary["target"]
    what = (f"FID at most {goal['fid']:g}" if "fid" in goal
            else f"FID not worse than {goal['match']} by more than {goal['margin']:.3f}")
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
