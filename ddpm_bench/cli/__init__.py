"""The ``ddpm-bench`` command: parses arguments, calls the library, prints.

Each command is a module of this package holding its options beside the function that runs it; this module assembles
the parser from them and runs the chosen command. Every BenchError becomes one line on stderr and exit status 2;
nothing already written is removed.
"""

from __future__ import annotations

import argparse
import datetime
import os
import shlex
import sys
from pathlib import Path
from typing import Optional, Sequence

from ddpm_bench.cli import (
    check,
    compare,
    convergence,
    listing,
    quality,
    report,
    retime,
    sample,
    stats,
    sweep,
    target,
    train,
)
from ddpm_bench.cli.arguments import OneLineParser
from ddpm_bench.errors import BenchError
from ddpm_bench.store.folder_files import append_command
from ddpm_bench.store.records import COMMANDS, RECORDS

DESCRIPTION = """\
Which diffusion sampler, and how many steps, give the best images for the time you can spend?
ddpm-bench runs samplers (DDPM, DDIM, PNDM and any plugin's) on one denoising model from the same initial noise,
times them, scores them with FID and KID, and writes a report with the best choice for each time budget."""

EXAMPLES = """\
examples:
  ddpm-bench sweep --out runs/sweep                       DDPM, DDIM and PNDM at 5, 10, 20 steps on the embedded model
  ddpm-bench sample --scheduler ddim --steps 50 --out runs/sample   64 images from one scheduler, with timings
  ddpm-bench COMMAND --help                               the options of one command, with their defaults"""

COMMAND_PARSERS = (listing.add_parsers, sample.add_parser, stats.add_parser, sweep.add_parser, target.add_parser,
                   quality.add_parser, check.add_parser, report.add_parser, compare.add_parser, retime.add_parser,
                   convergence.add_parser, train.add_parsers)
"""Each adds its commands, in the order ``ddpm-bench --help`` lists them."""


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="ddpm-bench", description=f"{DESCRIPTION}\n\n{EXAMPLES}",
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    subparsers = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
    for add in COMMAND_PARSERS:
        add(subparsers)
    return parser


WRITERS = {"sweep": "out", "target": "out", "retime": "folder", "convergence": "folder"}  # command -> its folder


def logged_folder(args: argparse.Namespace) -> Optional[Path]:
    """The results folder a command writes to, when its log is complete and this process keeps it: a new folder, or
    one that keeps a log (``commands.jsonl``), on rank 0 of a distributed run. A folder that predates the log gets
    none, so that a log never lists part of what made it."""
    folder = getattr(args, WRITERS.get(args.command, ""), None)
    if folder is None or os.environ.get("RANK", "0") != "0":
        return None
    folder = Path(folder)
    return folder if (folder / COMMANDS).exists() or not (folder / RECORDS).exists() else None


def records_state(folder: Optional[Path]) -> Optional[tuple[int, int]]:
    """The size and time of the folder's records, to tell whether a command changed them."""
    try:
        stat = (folder / RECORDS).stat()
    except (OSError, TypeError):
        return None
    return stat.st_size, stat.st_mtime_ns


def log_command(folder: Optional[Path], argv: list[str], status: int, before: Optional[tuple[int, int]]) -> None:
    """A command that wrote to a results folder, logged there with its exit status and working directory for the
    report's reproduce section, which lists every command that made the folder, in order: every command that ended
    well, and one that failed or was interrupted after changing the records (its points are in the folder too)."""
    if folder is None or not (folder / RECORDS).exists() or (status != 0 and records_state(folder) == before):
        return
    append_command(folder, shlex.join(["ddpm-bench", *argv]),
                   datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), os.getcwd(), status)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "inception_weights", None):
        from ddpm_bench.metrics.inception import WEIGHTS_ENV  # imported only when given: the metrics import torch

        os.environ[WEIGHTS_ENV] = args.inception_weights
    folder = logged_folder(args)
    before, code = records_state(folder), 1
    try:
        code = args.handler(args)
    except BenchError as error:
        print(f"ddpm-bench: error: {error}", file=sys.stderr)
        code = 2
    except KeyboardInterrupt:
        print("ddpm-bench: interrupted", file=sys.stderr)
        code = 130
    except BrokenPipeError:  # output piped into a reader that stopped early (| head): nothing left to say
        sys.stdout = None
        code = 0
    finally:
        log_command(folder, sys.argv[1:] if argv is None else list(argv), code, before)
    return code
