"""``sweep --decide``: after the sweep at its N, more samples only where a comparison is still undecided.

The comparisons are the report's default pairs: every two schedulers at the same step count and at the nearest cost
(NFE), and each scheduler's consecutive step counts. Each is judged by its paired FID difference at growing N
(``adaptive.py``: N, 2N, ... up to ``max_n``, each look at 1 - 0.05/K confidence); both points of a pair still tied get
the next N's samples (indices N..2N-1 only, ``growing_points.py``), a pair decided at an earlier look is left alone. The
verdicts, with the N and the confidence they were reached at, go to ``decisions.json`` beside the records; the report
quotes them.
"""

from __future__ import annotations

from typing import Callable, Optional

from ddpm_bench.runs.growing_points import GrowingPoints
from ddpm_bench.schedulers.specs import SchedulerSpec
from ddpm_bench.stats import Difference
from ddpm_bench.stats.adaptive import look_confidence, looks_again, paired_fid_look, sample_sizes
from ddpm_bench.store import records as R
from ddpm_bench.verdicts.comparisons import pairs_to_compare

Point = tuple[SchedulerSpec, int]


def planned_pairs(specs: list[SchedulerSpec], steps: list[int],
                  nfe: Callable[[str, int], Optional[int]]) -> list[tuple[Point, Point]]:
    """The report's default comparisons (``verdicts.comparisons.pairs_to_compare``) among the sweep's planned points;
    ``nfe(label, steps)``: a point's model calls as recorded (None where it has no record)."""
    return pairs_to_compare([(spec, s) for s in sorted(steps) for spec in specs],
                            lambda p: (p[0].label, p[1], nfe(p[0].label, p[1])))


def decide_pairs(book: GrowingPoints, pairs: list[tuple[Point, Point]], start: int, most: int,
                 log: Callable[[str], None] = lambda line: None) -> list[dict]:
    """Each pair's paired FID difference, looked at with N = ``start``, 2 ``start``, ... ``most`` until its interval
    excludes 0 and not at the edge (``adaptive.looks_again``); returns each pair's last look (its verdict "tied" when
    even ``most`` did not decide it)."""
    sizes = sample_sizes(start, most)
    confidence = look_confidence(len(sizes))
    last: dict[int, tuple[Difference, int]] = {}
    undecided = list(range(len(pairs)))
    for n in sizes:
        still = []
        for index in undecided:
            (a, a_steps), (b, b_steps) = pairs[index]
            first, second = book.at(a, a_steps, n), book.at(b, b_steps, n)
            if not (first.ok and second.ok):
                continue
            labels = (R.point_label(a.label, a_steps), R.point_label(b.label, b_steps))
            difference = paired_fid_look(first.features, second.features, n, book.bench().scoring.stats_reference,
                                         confidence, labels)
            last[index] = (difference, n)
            if difference.verdict == "tied" or looks_again(difference.at_edge(), n, sizes):
                still.append(index)
        if still and n < sizes[-1]:
            log(f"{len(still)} of {len(pairs)} comparisons undecided at N = {n}; their points get more samples")
        undecided = still
        if not undecided:
            break
    return [{**difference.to_dict(), "confidence": confidence, "looks": sizes}
            for difference, n in (last[i] for i in sorted(last))]
