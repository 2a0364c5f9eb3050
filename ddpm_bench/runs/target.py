"""The target search: for each scheduler, the fewest steps that reach a quality, with 95 % confidence, and the
schedulers that reach it ranked by measured time per image.

The target is an FID (the upper end of the point's FID interval at most VALUE) or a point (``--match ddpm:1000``:
the paired FID difference to that point at most ``margin`` with 95 % confidence, a non-inferiority test; the margin
defaults to 10 % of the matched point's FID). Step counts are searched by ``search_steps``: doubled from
``first_steps`` until one meets the target, then bisected on the integer grid between the last that did not and the
first that did; this assumes that quality does not get worse with more steps, the premise of every sampler.

Each point is judged with adaptive N (adaptive.py): ``start_n`` samples, doubled while the test is undecided, up to
``max_n``; a point still undecided at ``max_n`` counts as not reaching the target (it could not be shown to). Every
point is an ordinary record in the output folder with its features, extended in place when it gets more samples, so
``report`` and ``compare`` see them, and a killed search resumes without sampling anything twice: the decisions are
made again from the stored features (same bootstrap seeds, same answers) and only what is missing is sampled.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from ddpm_bench.errors import BenchError
from ddpm_bench.runs.capacity import check_capacity
from ddpm_bench.runs.growing_points import GrowingPoints
from ddpm_bench.runs.retime import time_points
from ddpm_bench.runs.workbench import PointRun, Workbench, check_sources, prepare_output
from ddpm_bench.schedulers.specs import SchedulerSpec, parse_scheduler_spec
from ddpm_bench.settings import TargetConfig, default
from ddpm_bench.stats import PointFeatures, Reference, fid_interval
from ddpm_bench.stats.adaptive import (
    EDGE_TEXT,
    FAILED,
    MET,
    NOT_MET,
    OUT_OF_REACH,
    PAIRING_HELPS,
    UNDECIDED,
    decide,
    interval_outcome,
    look_confidence,
    looks_again,
    paired_fid_look,
    reach_text,
    replicates_for,
    sample_sizes,
    samples_for_margin,
)
from ddpm_bench.store import records as R
from ddpm_bench.store.folder_files import read_target_summary, write_target_summary
from ddpm_bench.store.lock import folder_lock
from ddpm_bench.util.options import parse_point


def search_steps(outcome: Callable[[int], str], first: int, most: int) -> list[tuple[int, str]]:
    """Every (steps, outcome) tried, in order: ``first``, doubled (the last one ``most``) until one is ``MET`` (or
    ``OUT_OF_REACH``: the search stops there), then bisection between the largest count known not to meet the target
    and the smallest known to meet it, down to neighbours. The fewest steps found is the smallest ``MET`` count of the
    path."""
    path: list[tuple[int, str]] = []
    below, steps = 0, first
    while True:
        path.append((steps, outcome(steps)))
        if path[-1][1] == MET:
            break
        if path[-1][1] == OUT_OF_REACH:
            return path
        below = steps
        if steps >= most:
            return path
        steps = min(2 * steps, most)
    above = steps
    while above - below > 1:
        middle = (below + above) // 2
        path.append((middle, outcome(middle)))
        below, above = (below, middle) if path[-1][1] == MET else (middle, above)
    return path


@dataclass
class Look:
    """One evaluation of a point: N, the interval the decision rests on, and the decision."""

    steps: int
    n: int
    outcome: str
    fid: Optional[float] = None  # a FID target's look: the estimate its interval brackets (not FID at N)
    low: Optional[float] = None
    high: Optional[float] = None
    difference: Optional[float] = None
    unpaired_half_width: Optional[float] = None  # a match's last look: the interval without the pairing
    needed_n: Optional[int] = None  # a match's last look: about the N a match within the margin would need
    replicates: Optional[int] = None  # the bootstrap's: more than the confidence needs when drawn again at the edge
    edge: bool = False  # the bound within the bootstrap's Monte Carlo error of an end even so (stats.at_edge)


@dataclass
class SchedulerResult:
    """What the search found for one scheduler: the fewest steps that met the target (or the most it tried)."""

    scheduler: str
    met: bool
    steps: int
    nfe: Optional[int]
    seconds_per_image: Optional[float]
    n: int
    fid: Optional[float]
    low: Optional[float]
    high: Optional[float]
    difference: Optional[float] = None
    path: list[Look] = field(default_factory=list)
    timing: str = "the point's record (median over its batches)"
    firm_steps: Optional[int] = None  # the fewest steps met on a verdict clear of the edge (None: none on the path)
    edge_below: Optional[int] = None  # the fewest steps below the answer that missed it on a verdict at the edge

    def to_dict(self) -> dict:
        out = {k: getattr(self, k) for k in ("scheduler", "steps", "nfe", "seconds_per_image", "fid", "low", "high",
                                              "met", "n", "difference", "timing", "firm_steps", "edge_below")}
        return {**out, "path": [vars(look) for look in self.path]}


class TargetSearch:
    """The looks of one search: each point judged at growing N against the target."""

    def __init__(self, book: GrowingPoints, config: TargetConfig):
        self.book, self.config = book, config
        self.sizes = sample_sizes(config.start_n, config.max_n)
        self.match = None
        if config.match is not None:
            scheduler, steps = parse_point(config.match)
            self.match = (parse_scheduler_spec(scheduler), steps)

    @property
    def stats_reference(self) -> Reference:
        """The fixed side of every FID the search judges (its workbench opened when first needed)."""
        return self.book.bench().scoring.stats_reference

    def features(self, point: PointRun, n: int) -> PointFeatures:
        return PointFeatures(point.features[:n], self.stats_reference, with_kid=False)

    def judge(self, spec: SchedulerSpec, steps: int) -> Look:
        """The point's outcome: met, not met, undecided at ``max_n``, or failed; with the interval decided on."""
        looks: list[Look] = []

        def test(n: int, confidence: float) -> str:
            point = self.book.at(spec, steps, n)
            if not point.ok:
                looks.append(Look(steps, n, FAILED))
                return FAILED
            features = self.features(point, n)
            look = Look(steps, n, UNDECIDED)
            if self.match is None:
                bound = self.config.fid
                own = fid_interval(features, replicates=replicates_for(confidence), confidence=confidence,
                                   bound=bound)
                # the estimate its interval brackets (not FID at N, which lies above it), clipped at 0 like the ends
                look.fid, look.low, look.high = max(0.0, own.estimate), max(0.0, own.low), max(0.0, own.high)
            else:
                matched = self.book.at(*self.match, n)
                if not matched.ok:
                    raise BenchError(f"the point to match, {self.config.match}, failed: {matched.record[R.ERROR]}")
                bound = self.margin
                own = paired_fid_look(point.features, matched.features, n, self.stats_reference,
                                      confidence, bound=bound)
                look.difference, look.low, look.high = own.difference, own.low, own.high
            look.outcome = interval_outcome(look.low, look.high, bound)
            look.replicates, look.edge = own.replicates, own.at_edge(bound)
            looks.append(look)
            return UNDECIDED if looks_again(look.edge, n, self.sizes) else look.outcome

        decide(test, self.sizes)
        if self.match is not None and looks[-1].outcome == UNDECIDED:
            self.check_reach(spec, looks[-1])
        return looks[-1]

    def check_reach(self, spec: SchedulerSpec, look: Look) -> None:
        """A match still undecided at the largest N is out of reach when its interval is wider than the margin on
        either side of 0 and the pairing does not narrow it (the paired interval at least ``PAIRING_HELPS`` of the
        unpaired one). That is the case when the matched point's samples do not follow their x_T, as DDPM's do not
        (fresh noise at every step): a candidate with more steps, even one exactly as good, then gets an interval
        as wide, so the search stops instead of sampling every step count up to ``max_steps``. Only a verdict of
        "not shown" is drawn early, never "met", so the error rate of the verdicts is unchanged. Records the unpaired
        half-width and about the N a match would need."""
        point, matched = self.book.at(spec, look.steps, look.n), self.book.at(*self.match, look.n)
        unpaired = paired_fid_look(point.features, matched.features, look.n, self.stats_reference,
                                   look_confidence(len(self.sizes)), paired=False, bound=None)
        half_width, margin = (look.high - look.low) / 2, self.margin
        look.unpaired_half_width = (unpaired.high - unpaired.low) / 2
        look.needed_n = samples_for_margin(look.n, half_width, margin)
        if half_width > margin and half_width >= PAIRING_HELPS * look.unpaired_half_width:
            look.outcome = OUT_OF_REACH

    @functools.cached_property
    def margin(self) -> float:
        """How much worse than the matched point still counts as matching it: ``--margin``, else 10 % of its FID at
        the first look's N (the same at every look, so that it does not move with N; computed once)."""
        if self.config.margin is not None:
            return self.config.margin
        matched = self.book.at(*self.match, self.sizes[0])
        return default("match_margin") * self.features(matched, self.sizes[0]).estimates()["fid"]

    def scheduler(self, spec: SchedulerSpec, log) -> SchedulerResult:
        looks: dict[int, Look] = {}

        def outcome(steps: int) -> str:
            looks[steps] = self.judge(spec, steps)
            log(describe(spec.label, looks[steps], self.match is not None))
            return looks[steps].outcome

        path = search_steps(outcome, min(self.config.first_steps, self.config.max_steps), self.config.max_steps)
        judged = [looks[steps] for steps, _ in path]
        fewest, firm, below = fewest_met(judged)
        chosen = looks[fewest] if fewest is not None else looks[max(looks)]
        record = self.book.points[R.point_id(spec.label, chosen.steps)].record
        ok = record[R.STATUS] == R.OK
        return SchedulerResult(spec.label, fewest is not None, chosen.steps, record.get(R.NFE) if ok else None,
                               record.get(R.SECONDS_PER_IMAGE) if ok else None, chosen.n, chosen.fid, chosen.low,
                               chosen.high, chosen.difference, judged, firm_steps=firm, edge_below=below)


def fewest_met(path: list[Look]) -> tuple[Optional[int], Optional[int], Optional[int]]:
    """How firm the answer is. The fewest steps whose look met the target (the answer; None if none did); the fewest
    whose look met it on a verdict clear of the edge, the answer should the answer's own verdict, at the edge (at
    ``max_n``, where no more samples can decide it), go the other way (None if no look on the path met the target
    clear of the edge); and the fewest below the answer whose look missed the target on a verdict at the edge (not
    met or undecided), where the answer could lie should that verdict go the other way (None if none did)."""
    met = [look.steps for look in path if look.outcome == MET]
    firm = [look.steps for look in path if look.outcome == MET and not look.edge]
    fewest = min(met) if met else None
    below = [look.steps for look in path if look.edge and look.outcome in (NOT_MET, UNDECIDED, OUT_OF_REACH)
             and (fewest is None or look.steps < fewest)]
    return fewest, (min(firm) if firm else None), (min(below) if below else None)


def describe(label: str, look: Look, matching: bool) -> str:
    if look.outcome == FAILED:
        return f"{label}:{look.steps}: failed"
    what = "FID - matched" if matching else "FID"
    value = look.difference if matching else look.fid
    text = f"{label}:{look.steps}: {what} {value:.3f} [{look.low:.3f}, {look.high:.3f}] at N = {look.n}: {look.outcome}"
    if look.outcome == OUT_OF_REACH:
        text += f" ({reach_text(look.unpaired_half_width, look.needed_n)})"
    if look.edge:
        text += f" ({EDGE_TEXT})"
    return text


TIMING_ROUNDS = 3  # side-by-side rounds for the points that reached the target (they are ranked by these times)


def side_by_side_timings(bench: Workbench, results: list[SchedulerResult], log, folder_points: list[tuple[str, int]],
                         earlier: Optional[dict] = None) -> list[dict]:
    """Every finished point of the folder (``folder_points``: the judged ones, the matched one, and any an earlier
    search left there) timed again side by side (retime.py's ``time_points``), so that the ranking, and the report's
    times and charts, compare points under the same conditions: without this, points sampled minutes or hours apart,
    or on another machine, would be told apart by whatever else the machine was doing at the time. Rounds of one
    batch of each point in turn: ``TIMING_ROUNDS`` for the points that reached the target (median of theirs), one for
    the others; one entry per timed point. ``earlier``: the summary of a previous run of the same search; its timings
    are kept when it timed the same points."""
    if len(folder_points) < 2:
        return []
    kept = {(t["scheduler"], t["steps"]): t for t in (earlier or {}).get("timings", [])}
    if set(kept) == set(folder_points):
        return [kept[point] for point in folder_points]
    chosen = {(r.scheduler, r.steps) for r in results if r.met}
    log(f"timing the {len(folder_points)} points of the folder side by side (one batch of "
        f"{bench.settings.batch_size} each, {TIMING_ROUNDS} for the {len(chosen)} that reached the target)")
    rounds = [TIMING_ROUNDS if point in chosen else 1 for point in folder_points]
    return [{**timing, "rounds": count} for timing, count in zip(time_points(bench, folder_points, rounds), rounds)]


def take_side_by_side_times(results: list[SchedulerResult], timings: list[dict], batch_size: int) -> None:
    """Each result's time from ``timings`` where they hold its point (a scheduler that missed the target: the point
    it stopped at), and how it was taken."""
    by_point = {(t["scheduler"], t["steps"]): t for t in timings}
    for result in results:
        if (result.scheduler, result.steps) in by_point:
            timing = by_point[(result.scheduler, result.steps)]
            result.seconds_per_image = timing["seconds_per_image"]
            rounds = "one round" if timing["rounds"] == 1 else f"median of {timing['rounds']} rounds"
            result.timing = f"side by side, {rounds} of {batch_size} images"


def earlier_summary(folder: Path, config: TargetConfig) -> Optional[dict]:
    """The summary a previous run of these very settings wrote to ``folder``, or None."""
    summary = read_target_summary(folder)
    return summary if summary and summary.get("settings") == dataclasses.asdict(config) else None


def ranked(results: list[SchedulerResult]) -> list[SchedulerResult]:
    """Schedulers that met the target first, fastest first; then the others."""
    return sorted(results, key=lambda r: (not r.met,
                                          r.seconds_per_image if r.seconds_per_image is not None else np.inf))


def planned_points(config: TargetConfig) -> int:
    """The most points a search can judge, each kept with its features: per scheduler, the doublings from
    ``first_steps`` to ``max_steps`` and as many bisection steps back, plus the matched point."""
    doublings = max(1, math.ceil(math.log2(config.max_steps / config.first_steps)))
    return len(config.schedulers) * (2 * doublings + 1) + (config.match is not None)


def run_target(config: TargetConfig, out: str | Path, *, progress: Optional[bool] = None,
               log: Callable[[str], None] = lambda line: None) -> dict:
    """Search every scheduler of ``config``; returns (and writes to ``out/target.json``) the target, the confidence
    of each look, the settings, and each scheduler's result, ranked. ``progress``: as for ``run_sweep``."""
    config.validate()
    check_capacity(config.max_n, Path(out), points=planned_points(config), backbone=config.backbone,
                   keep_features=True)
    folder = prepare_output(out)
    with folder_lock(folder):
        check_sources(config)
        store = R.RecordStore(folder, config.results_hash())
        records = store.load()  # records of another model, seed or metric: a one-line error before anything loads
        bench = Workbench.open(config)
        mismatch = store.model_mismatch(bench.model.weights_sha256) if records else None
        if mismatch:
            raise BenchError(mismatch)
        bench.scoring.keep_reference(folder)
        search = TargetSearch(GrowingPoints(lambda: bench, store, folder, config, log, progress), config)
        results = []
        for text in config.schedulers:
            spec = parse_scheduler_spec(text)
            log(f"{spec.label}: searching from {config.first_steps} steps (at most {config.max_steps}), "
                f"N from {config.start_n} to {config.max_n}")
            results.append(search.scheduler(spec, log))
        finished = [(p.record[R.SCHEDULER], int(p.record[R.STEPS])) for p in search.book.points.values() if p.ok]
        timings = side_by_side_timings(bench, results, log, finished, earlier_summary(folder, config))
        take_side_by_side_times(results, timings, config.batch_size)
        summary = {
            "target": {"fid": config.fid} if config.match is None else
                      {"match": config.match, "margin": search.margin},
            "confidence": look_confidence(len(search.sizes)), "sample_sizes": search.sizes,
            "seed": config.seed, "backbone": config.backbone, "reference": config.reference,
            "settings": dataclasses.asdict(config), "results": [r.to_dict() for r in ranked(results)],
            "timings": timings,
        }
        write_target_summary(folder, summary)
    return summary
