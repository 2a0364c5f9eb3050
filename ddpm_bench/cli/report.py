"""``ddpm-bench report``: report.md and report.html of a results folder rebuilt from the files it holds, or (``--json``)
the answer as data; as a CI gate, exit status 1 when the answer is undecided (``--require-decided``) or names another
point than expected (``--expect``); and ``folder_report``, how every command that ends in a report writes it.

Exit status: 0 the report (or JSON) was written and every gate passed; 1 a gate failed (the report is written all the
same); 2 the folder could not be read (one line on stderr)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Optional

from ddpm_bench.cli.arguments import fraction
from ddpm_bench.errors import BenchError
from ddpm_bench.store.folder_files import has_reference_stats
from ddpm_bench.store.records import ANSWER


def add_parser(subparsers) -> None:
    report = subparsers.add_parser("report",
                                   help="rebuild report.md and report.html of a sweep folder from its records")
    report.add_argument("folder", help="a sweep's output folder (its records.jsonl)")
    report.add_argument("--time-tolerance", type=fraction,
                        help="times within this fraction of each other count as equal (default 0.1)")
    report.add_argument("--margin", type=float,
                        help="how much worse (in FID) still counts as 'as good as' (default: 10%% of the lowest "
                             "estimate)")
    report.add_argument("--json", action="store_true",
                        help="print the answer as JSON (per budget: point, time, value, interval, margin, verdict, N) "
                             "instead of writing the report")
    report.add_argument("--expect", metavar="POINT",
                        help="exit 1 unless the answer for the best quality (the top budget, or a target search's "
                             "pick) is this point, e.g. ddim:20")
    report.add_argument("--require-decided", action="store_true",
                        help="exit 1 when the answer for the best quality is undecided")
    report.set_defaults(handler=run)


def add_reference(folder: Path) -> None:
    """For a folder that predates reference.npz: the reference statistics its points were scored against, from the
    cache (and on a miss the feature network), once; where they cannot be had, a warning that the answer goes without
    intervals."""
    if has_reference_stats(folder):
        return
    from ddpm_bench.runs.compare import add_missing_reference

    try:
        if add_missing_reference(folder):
            print(f"report: added the reference statistics to {folder}", file=sys.stderr)
    except BenchError as error:
        print(f"ddpm-bench: warning: the report goes without intervals: {error}", file=sys.stderr)


def folder_report(folder: str | Path, time_tolerance: Optional[float] = None, margin: Optional[float] = None) -> Path:
    """The folder's report written; a folder from an older ddpm-bench first gets the reference statistics its points
    were scored against (reference.npz) from the statistics cache, once, so that its report has intervals and every
    later one judges from the folder alone. Where they cannot be had, the report goes without intervals and says so."""
    # imported when a report is written: the report and the verdicts import pandas
    from ddpm_bench.report.document import write_report
    from ddpm_bench.verdicts import TIME_TOLERANCE

    folder = Path(folder)
    add_reference(folder)
    return write_report(folder, TIME_TOLERANCE if time_tolerance is None else time_tolerance, margin)


def gate(pick: Optional[str], expect: Optional[str], require_decided: bool) -> Optional[str]:
    """Why the answer fails the gate (None: it passes)."""
    if (require_decided or expect) and pick is None:
        return "the answer for the best quality is undecided at this N"
    if expect and pick != expect:
        return f"the answer for the best quality is {pick}, not {expect}"
    return None


def run(args: argparse.Namespace) -> int:
    from ddpm_bench.report.document import answer_json, findings
    from ddpm_bench.verdicts import TIME_TOLERANCE

    if not (Path(args.folder) / "records.jsonl").exists():
        raise BenchError(f"{args.folder} holds no records.jsonl: not a sweep or target folder")
    tolerance = TIME_TOLERANCE if args.time_tolerance is None else args.time_tolerance
    if args.margin is not None and not args.margin >= 0:
        raise BenchError(f"--margin must be at least 0 (in FID units), got {args.margin}")
    if args.json:
        add_reference(Path(args.folder))
        data = findings(args.folder, tolerance, args.margin).data
        print(answer_json(data), end="")
    else:
        print(f"report: {folder_report(args.folder, args.time_tolerance, args.margin)}")
        data = json.loads((Path(args.folder) / ANSWER).read_text())
    failed = gate(data["pick"], args.expect, args.require_decided)
    if failed:
        print(f"ddpm-bench: gate failed: {failed}", file=sys.stderr)
        return 1
    return 0
