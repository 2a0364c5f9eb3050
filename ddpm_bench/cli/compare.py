"""``ddpm-bench compare``: FID and KID differences between points of one or two folders, with intervals and
verdicts."""

from __future__ import annotations

import argparse
import json

from ddpm_bench.cli.table import print_table
from ddpm_bench.errors import BenchError
from ddpm_bench.util.options import positive_int


def add_parser(subparsers) -> None:
    compare = subparsers.add_parser(
        "compare", help="FID and KID differences between points, with 95%% intervals and verdicts",
        description="Differences between points of one or two sweep folders, from the features the sweeps kept: "
                    "paired (sample i from the same x_T) where the points share model, seed and N, unpaired "
                    "otherwise.")
    compare.add_argument("folders", nargs="+", metavar="DIR", help="one or two sweep folders")
    compare.add_argument("--pairs", nargs="+", metavar="A,B", help="point labels as in the report, e.g. "
                         "ddim:10,ddim:20 (default: every two schedulers at the same step count, and each "
                         "scheduler's consecutive step counts)")
    compare.add_argument("--json", action="store_true", help="print a JSON list instead of a table")
    compare.add_argument("--margin", type=float, default=0.0,
                         help="how much worse still counts as 'as good as', in the metric's units (default: 0); "
                              "the verdicts are the report's: better, as good as, worse, worse by more than the "
                              "margin, undecided")
    compare.add_argument("--replicates", type=int,
                         help="bootstrap replicates per interval (default: as many as the records' intervals; an "
                              "interval at the edge of its verdict is drawn again with 10 times as many)")
    compare.set_defaults(handler=run)


def margin(difference, fid_margin: float) -> float:
    """The margin a difference is read against: ``--margin`` for FID, 0 for KID (which is shown, never decides)."""
    return fid_margin if difference.metric == "fid" else 0.0


def run(args: argparse.Namespace) -> int:
    # imported when the command runs: the comparison loads the feature networks, the verdicts' texts import pandas
    from ddpm_bench.report.text import EDGE_VERDICTS, verdict_text
    from ddpm_bench.runs.compare import frechet_name, run_compare
    from ddpm_bench.stats import REPLICATES
    from ddpm_bench.verdicts import verdict

    if len(args.folders) > 2:
        raise BenchError(f"compare takes one or two sweep folders, got {len(args.folders)}")
    replicates = REPLICATES if args.replicates is None else positive_int(args.replicates, "--replicates")
    if args.margin < 0:
        raise BenchError(f"--margin must be at least 0, got {args.margin}")
    differences = run_compare(args.folders, args.pairs, replicates=replicates)
    if args.json:
        print(json.dumps([{**d.to_dict(), "verdict": verdict(d.low, d.high, margin(d, args.margin)),
                           "margin": margin(d, args.margin)} for d in differences], indent=1))
        return 0
    shown = {"fid": frechet_name(args.folders[0])}
    rows = [(d.a, d.b, shown.get(d.metric, d.metric.upper()), f"{d.difference:+.4g}", f"[{d.low:+.4g}, {d.high:+.4g}]",
             "paired" if d.paired else "unpaired", str(d.n), f"{d.replicates:,}",
             verdict_text(d, margin(d, args.margin))) for d in differences]
    print_table(("a", "b", "metric", "a - b", "95% interval", "", "N", "replicates", "verdict"), rows)
    if any(d.at_edge() for d in differences):
        print(EDGE_VERDICTS)
    return 0
