"""``ddpm-bench report``: report.md and report.html of a results folder rebuilt from the files it holds; and
``folder_report``, how every command that ends in a report writes it."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional

from ddpm_bench.cli.arguments import fraction
from ddpm_bench.errors import BenchError
from ddpm_bench.store.folder_files import has_reference_stats


def add_parser(subparsers) -> None:
    report = subparsers.add_parser("report",
                                   help="rebuild report.md and report.html of a sweep folder from its records")
    report.add_argument("folder", help="a sweep's output folder (its records.jsonl)")
    report.add_argument("--time-tolerance", type=fraction,
                        help="times within this fraction of each other count as equal on the Pareto front "
                             "(default 0.1)")
    report.set_defaults(handler=run)


def folder_report(folder: str | Path, time_tolerance: Optional[float] = None) -> Path:
    """The folder's report written; a folder from an older ddpm-bench first gets the reference statistics its points
    were scored against (reference.npz) from the statistics cache, once, so that its report has intervals and every
    later one judges from the folder alone. Where they cannot be had, the report goes without intervals and says so."""
    # imported when a report is written: the report and the verdicts import pandas
    from ddpm_bench.report.document import write_report
    from ddpm_bench.verdicts import TIME_TOLERANCE

    folder = Path(folder)
    if not has_reference_stats(folder):
        # only for a folder that predates reference.npz: the cache, and on a miss the feature network
        from ddpm_bench.runs.compare import add_missing_reference

        try:
            if add_missing_reference(folder):
                print(f"report: added the reference statistics to {folder}")
        except BenchError as error:
            print(f"ddpm-bench: warning: the report goes without intervals: {error}", file=sys.stderr)
    return write_report(folder, TIME_TOLERANCE if time_tolerance is None else time_tolerance)


def run(args: argparse.Namespace) -> int:
    print(f"report: {folder_report(args.folder, args.time_tolerance)}")
    return 0
