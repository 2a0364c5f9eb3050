"""``ddpm-bench report``: report.md and report.html of a results folder rebuilt from the files it holds."""

from __future__ import annotations

import argparse
from pathlib import Path

from ddpm_bench.cli.arguments import fraction
from ddpm_bench.store.folder_files import has_reference_stats


def add_parser(subparsers) -> None:
    report = subparsers.add_parser("report",
                                   help="rebuild report.md and report.html of a sweep folder from its records")
    report.add_argument("folder", help="a sweep's output folder (its records.jsonl)")
    report.add_argument("--time-tolerance", type=fraction,
                        help="times within this fraction of each other count as equal on the Pareto front "
                             "(default 0.1)")
    report.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    # imported when the command runs: the report and the verdicts import pandas
    from ddpm_bench.report.document import write_report
    from ddpm_bench.verdicts import TIME_TOLERANCE

    if not has_reference_stats(Path(args.folder)):
        # a folder from an older ddpm-bench: its reference statistics are added from the cache (through the feature
        # network on a miss) once, so that this and every later report judges from the folder alone
        from ddpm_bench.runs.compare import keep_reference

        if keep_reference(Path(args.folder)):
            print(f"report: added the reference statistics to {args.folder}")
    tolerance = TIME_TOLERANCE if args.time_tolerance is None else args.time_tolerance
    print(f"report: {write_report(args.folder, tolerance)}")
    return 0
