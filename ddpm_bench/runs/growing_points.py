"""The points of a folder whose points grow (adaptive N: ``target``, ``sweep --decide``): each sampled once, grown
to more samples when a look needs them (``Workbench.extend_point``: indices N..2N-1 only), recorded each time.

A point's features file is written before its record, so a kill between the two leaves a features file longer than
the record says; reading takes the record's N first samples, which are the same samples.

A stored point is reused only while its scheduler would still be built and run as recorded: one whose configuration,
plugin version or scheduler code hash has changed since (the sweep's ``outdated_points``) is sampled again, and its new
record supersedes the old one, as in a sweep.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional

from ddpm_bench.model.images import save_grid
from ddpm_bench.model.loading import model_folder, read_schedule
from ddpm_bench.runs.workbench import PointRequest, PointRun, Workbench
from ddpm_bench.schedulers.specs import SchedulerSpec
from ddpm_bench.store import records as R


class GrowingPoints:
    """The points of one folder: each sampled once, grown when a look needs more samples, recorded each time."""

    def __init__(self, open_bench: Callable[[], Workbench], store: R.RecordStore, folder: Path, config, log,
                 progress: Optional[bool]):
        """``open_bench``: the workbench, opened when first needed (a finished folder samples nothing); ``config``: a
        TargetConfig or SweepConfig (grid samples, results hash)."""
        self.store, self.folder, self.config = store, folder, config
        self.log, self.progress = log, progress
        self._open_bench, self._bench = open_bench, None
        self.points: dict[str, PointRun] = {}
        self._current: set[str] = set()  # points checked against the scheduler as it is now, or sampled here
        for record in R.current_records(store.load()):
            if record[R.STATUS] == R.OK and record.get(R.FEATURES):
                features = R.load_features(folder, record)[: record[R.N]]
                self.points[record[R.POINT]] = PointRun(record, None, features)
            elif record[R.STATUS] == R.FAILED:
                self.points[record[R.POINT]] = PointRun(record, None)

    def bench(self) -> Workbench:
        if self._bench is None:
            self._bench = self._open_bench()
        return self._bench

    def changed_since(self, spec: SchedulerSpec, record: dict) -> bool:
        """Whether ``record``'s scheduler configuration, plugin version or code differs from ``spec``'s now (said in
        one line when it does)."""
        from ddpm_bench.runs.sweep import outdated_points  # the sweep imports this module

        changes = outdated_points([record], [spec], read_schedule(model_folder(self.config.model)))
        for point, change in changes.items():
            self.log(f"  {point}: recorded with {change}; sampling it again")
        return bool(changes)

    def at(self, spec: SchedulerSpec, steps: int, n: int) -> PointRun:
        """The point with at least ``n`` samples (sampled or extended as needed, and recorded)."""
        key = R.point_id(spec.label, steps)
        point = self.points.get(key)
        if point is not None and key not in self._current and self.changed_since(spec, point.record):
            point = None
        self._current.add(key)
        if point is not None and (not point.ok or len(point.features) >= n):
            return point
        if point is None:
            self.log(f"  sampling {spec.label} at {steps} steps, N = {n}")
            point = self.bench().run_point(PointRequest(spec, steps, n, grid_samples=self.config.grid_samples,
                                                        progress=self.progress))
        else:
            self.log(f"  extending {spec.label} at {steps} steps from N = {len(point.features)} to {n}")
            point = self.bench().extend_point(point, PointRequest(spec, steps, n, progress=self.progress))
        record = {**point.record, R.RESULTS_HASH: self.config.results_hash()}
        if point.ok:
            record[R.GRID] = R.grid_file(spec.label, steps)
            if point.grid_images is not None:
                save_grid(point.grid_images, self.folder / record[R.GRID])
            record[R.FEATURES] = R.features_file(spec.label, steps)
            R.save_features(point.features, self.folder / record[R.FEATURES])
        self.store.append(record)
        self.points[key] = PointRun(record, None, point.features)
        return self.points[key]
