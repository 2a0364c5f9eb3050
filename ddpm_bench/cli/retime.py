"""``ddpm-bench retime``: every finished point of a folder timed again side by side, and the report rebuilt."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ddpm_bench.cli.report import folder_report
from ddpm_bench.cli.table import print_table
from ddpm_bench.settings import DEFAULTS
from ddpm_bench.store.records import TIMINGS, point_label


def add_parser(subparsers) -> None:
    retime = subparsers.add_parser(
        "retime", help="time every finished point of a folder again, side by side",
        description="Each point's time per image measured again in rounds, one batch of every point in turn, so that "
                    "points sampled in separate runs or beside other work are compared under the same conditions. "
                    "Writes DIR/timings.json; the report then shows these times.")
    retime.add_argument("folder", metavar="DIR", help="a sweep or target folder")
    retime.add_argument("--rounds", type=int, default=DEFAULTS["retime_rounds"],
                        help="batches of each point; each point's time is the median of its rounds "
                             "(default: %(default)s)")
    retime.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    # imported when the command runs: the timing brings the sampling stack, the report pandas
    from ddpm_bench.runs.retime import retime_folder

    folder = Path(args.folder)
    summary = retime_folder(folder, args.rounds, log=lambda line: print(line, file=sys.stderr, flush=True))
    folder_report(folder)
    print_table(("point", "ms/image while sampled", "ms/image side by side"),
                [(point_label(t["scheduler"], t["steps"]), f"{t['seconds_per_image_while_sampled'] * 1000:.1f}",
                  f"{t['seconds_per_image'] * 1000:.1f}") for t in summary["timings"]])
    print(f"-> {folder / TIMINGS}; report rebuilt")
    return 0
