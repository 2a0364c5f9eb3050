"""``ddpm-bench check``: the conformance kit run on one registered scheduler; exit status 1 when a check fails."""

from __future__ import annotations

import argparse


def add_parser(subparsers) -> None:
    check = subparsers.add_parser("check", help="run the conformance kit on a registered scheduler")
    check.add_argument("scheduler", help="NAME[:option=value...]")
    check.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    # imported when the command runs: the kit imports torch and the scheduler registry
    from ddpm_bench.schedulers.conformance import run_checks
    from ddpm_bench.schedulers.diffusers_adapter import KNOWN_FAILURES, PREFIX
    from ddpm_bench.schedulers.specs import parse_scheduler_spec

    spec = parse_scheduler_spec(args.scheduler)
    results = run_checks(args.scheduler)
    for result in results:
        print(result)
    failed = sum(not r.passed for r in results)
    print(f"{args.scheduler}: {len(results) - failed} of {len(results)} checks passed")
    known = KNOWN_FAILURES.get(spec.name.removeprefix(PREFIX)) if spec.name.startswith(PREFIX) else None
    if failed and known:
        print(f"known failure: {known}")
    return 1 if failed else 0
