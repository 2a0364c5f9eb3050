"""``ddpm-bench convergence``: each point's distance to a many-step solution from the same x_T, with intervals."""

from __future__ import annotations

import argparse
import json
import sys

from ddpm_bench.cli.arguments import progress
from ddpm_bench.cli.report import folder_report
from ddpm_bench.cli.table import print_table
from ddpm_bench.settings import DEFAULTS
from ddpm_bench.util.options import positive_int


def add_parser(subparsers) -> None:
    convergence = subparsers.add_parser(
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
    convergence.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    # imported when the command runs: the distances import scipy.stats, the report pandas
    from ddpm_bench.runs.convergence import run_convergence

    positive_int(args.num_samples, "-n")
    summary = run_convergence(args.folder, args.to, args.num_samples, progress=progress(args),
                              log=lambda line: print(line, file=sys.stderr, flush=True))
    folder_report(args.folder)
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
