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
    """The results folder a command writes to, when its log is complete: a new folder, or one that keeps a log
    (``commands.jsonl``). A folder that predates the log gets none, so that a log never lists part of what made it."""
    folder = getattr(args, WRITERS.get(args.command, ""), None)
    if folder is None:
        return None
    folder = Path(folder)
    return folder if (folder / COMMANDS).exists() or not (folder / RECORDS).exists() else None


def log_command(folder: Optional[Path], argv: list[str]) -> None:
    """A command that wrote to a results folder, logged there for the report's reproduce section, which lists every
    command that made the folder, in order."""
    if folder is not None and (folder / RECORDS).exists():
        append_command(folder, shlex.join(["ddpm-bench", *argv]),
                       datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "inception_weights", None):
        from ddpm_bench.metrics.inception import WEIGHTS_ENV  # imported only when given: the metrics import torch

        os.environ[WEIGHTS_ENV] = args.inception_weights
    folder = logged_folder(args)
    try:
        code = args.handler(args)
        if code == 0:
            log_command(folder, sys.argv[1:] if argv is None else list(argv))
        return code
    except BenchError as error:
        print(f"ddpm-bench: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("ddpm-bench: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into a reader that stopped early (| head): nothing left to say
        sys.stdout = None
        return 0
