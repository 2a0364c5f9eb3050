"""What several commands share: the one-line parser, argument types that turn a ConfigError into argparse's message,
the option sets every run takes, and the readers of those options."""

from __future__ import annotations

import argparse
from typing import Optional

from ddpm_bench.errors import ConfigError
from ddpm_bench.settings import DEFAULTS, PRECISIONS, RunSettings
from ddpm_bench.util.options import positive_int_list, split_list


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports a bad argument in one line (and exit status 2), pointing at --help."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def argument_type(parse, name: str, **options):
    """An argparse type from a parser that raises ConfigError: argparse prints its message after the option's name."""
    def convert(text: str):
        try:
            return parse(text, **options)
        except ConfigError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    convert.__name__ = name
    return convert


csv_ints = argument_type(positive_int_list, "distinct positive integers")
csv_widths = argument_type(positive_int_list, "positive integers", distinct=False)
csv_strings = argument_type(split_list, "distinct names")


def fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number such as 0.1, got {text!r}") from None
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"expected a fraction from 0 up to 1, got {text!r}")
    return value


def listed(name: str) -> str:
    """A list default of the DEFAULTS table as the comma-separated text a user would type."""
    return ",".join(map(str, DEFAULTS[name]))


def add_runtime_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--batch-size", type=int, default=DEFAULTS["batch_size"],
                        help="images per UNet batch; changes timing, never an image (default: %(default)s)")
    parser.add_argument("--device", help="cpu, cuda, cuda:N (default: cuda when available)")
    parser.add_argument("--precision", choices=PRECISIONS, default=DEFAULTS["precision"],
                        help="UNet autocast dtype (default: %(default)s)")
    parser.add_argument("--channels-last", action="store_true", help="UNet in channels-last memory format")
    parser.add_argument("--compile", action="store_true", help="torch.compile the UNet")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_inception_option(parser)


def add_inception_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--inception-weights",
                        help="the Inception weights file for --backbone inception (as inception:weights=FILE)")


def run_settings(args: argparse.Namespace) -> RunSettings:
    """The RunSettings of a command that took add_runtime_options and the model and metric options."""
    return RunSettings(model=args.model, backbone=args.backbone, reference=args.reference or DEFAULTS["reference"],
                       floor_data=getattr(args, "floor_data", None), seed=args.seed, batch_size=args.batch_size,
                       device=args.device, precision=args.precision, channels_last=args.channels_last,
                       compile=args.compile)


def progress(args: argparse.Namespace) -> Optional[bool]:
    """False (no progress) with --no-progress; else None: a bar on a terminal, lines elsewhere."""
    return False if args.no_progress else None
