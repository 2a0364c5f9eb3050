"""The sweep's plan: which points (scheduler variants x step counts), in what order, and which are already done.

Points run through ``workbench.Workbench`` and are recorded through ``records.RecordStore`` as each finishes: a sweep
that is killed loses at most the point in progress, and a restart skips the finished points (``force`` recomputes them).
A finished point whose scheduler would now be configured otherwise (a plugin's changed default), or whose plugin's
version or scheduler's code has changed since (``schedulers/code_identity.py``: a plugin author's fix to ``step``,
docstrings and comments aside), is computed again; its new record supersedes the old one, which stays in the file. A
point that fails (a scheduler raising, non-finite samples) is recorded as failed with its reason and the sweep goes on.
``OUT/sweep.toml`` holds the fully resolved config; ``ddpm-bench sweep --config OUT/sweep.toml`` reproduces the run, and
``OUT/reference.npz`` the reference statistics its points were scored against.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Callable, Optional

from ddpm_bench.errors import BenchError
from ddpm_bench.model.images import save_grid
from ddpm_bench.model.loading import model_folder, read_schedule
from ddpm_bench.runs.capacity import check_capacity
from ddpm_bench.runs.decide import decide_pairs, planned_pairs
from ddpm_bench.runs.growing_points import GrowingPoints
from ddpm_bench.runs.workbench import PointRequest, Workbench, check_sources, prepare_output
from ddpm_bench.schedulers.code_identity import scheduler_code
from ddpm_bench.schedulers.specs import (
    SchedulerSpec,
    build_scheduler,
    parse_scheduler_spec,
    scheduler_config_dict,
    scheduler_registration,
)
from ddpm_bench.settings import SweepConfig
from ddpm_bench.store import records as R
from ddpm_bench.store.folder_files import write_decisions
from ddpm_bench.store.lock import folder_lock
from ddpm_bench.util import distributed
from ddpm_bench.util.atomic import write_text
from ddpm_bench.util.progress import RunProgress, mode_for


def run_sweep(
    config: SweepConfig,
    out: str | Path,
    *,
    force: bool = False,
    progress: Optional[bool] = None,
    log: Callable[[str], None] = lambda line: None,
):
    """Run every point not yet recorded in ``out``; returns all current records as a pandas DataFrame.

    Under ``torchrun`` every rank runs this: each samples its shard of every point, rank 0 scores the features of
    all of them and alone writes (its return value holds the records; other ranks return None).
    """
    config.validate()
    if config.decide and distributed.world_size() > 1:
        raise BenchError("--decide runs in one process; run it without torchrun")
    specs = [parse_scheduler_spec(text) for text in config.schedulers]
    check_capacity(config.max_n if config.decide else config.n, Path(out), points=len(specs) * len(config.steps),
                   backbone=config.backbone, keep_features=config.keep_features)
    with distributed.process_group(), contextlib.ExitStack() as held:
        main = distributed.is_main()
        distributed.on_main(lambda: held.enter_context(folder_lock(prepare_output(out))))  # one sweep per folder
        store, done, outdated = distributed.on_main(lambda: open_store(config, specs, out, force))
        for point, changes in outdated.items() if main else ():
            log(f"{point}: recorded with {changes}; computing it again")
        pending = pending_points(config, specs, done)
        floor_due = R.FLOOR_POINT not in done  # never drawn, or drawn from other floor data
        bench = None
        if pending or floor_due:  # a finished sweep loads nothing
            bench = Workbench.open(config)
            mismatch = distributed.on_main(lambda: store.model_mismatch(bench.model.weights_sha256))
            if mismatch:
                raise BenchError(mismatch)
            if config.keep_features:  # what the report judges the stored features against
                bench.scoring.keep_reference(Path(out))
            if main and pending:
                log(scoring_line(config, bench.scoring.reference.description))
            if main and floor_due:
                floor = sweep_record(config, bench.scoring.floor_record(config.n, bench.provenance()))
                store.append(floor)
                if floor[R.STATUS] == R.FLOOR:
                    log(f"real-data floor, {config.n} images from {floor[R.FLOOR_DATA]}: {R.scores_text(floor)}")
        indices = distributed.shard(config.n)
        nfes = [bench.planned_nfe(spec, steps) for spec, steps in pending]
        mode = mode_for(progress) if main else "off"
        tracker = RunProgress([nfe * config.n for nfe in nfes], mode=mode)
        for number, ((spec, steps), nfe) in enumerate(zip(pending, nfes), 1):
            if main:
                log(f"[{number}/{len(pending)}] {spec.label} at {steps} steps ({nfe} model calls x {config.n} samples)")
            tracker.point(f"{spec.label} at {steps} steps", config.n, nfe)
            point = bench.run_point(PointRequest(spec, steps, config.n, indices=indices, progress=mode == "bar",
                                                 grid_samples=config.grid_samples, tracker=tracker))
            left = tracker.end()
            if main:
                record = sweep_record(config, point.record)
                if point.ok:
                    record[R.GRID] = R.grid_file(spec.label, steps)
                    save_grid(point.grid_images, Path(out) / record[R.GRID])
                    if config.keep_features and point.features is not None:
                        record[R.FEATURES] = R.features_file(spec.label, steps)
                        R.save_features(point.features, Path(out) / record[R.FEATURES])
                store.append(record)
                log(f"{point_summary(record)}; {left}")
        if config.decide:
            decide_undecided(config, specs, store, Path(out), lambda: bench or opened_to_decide(config, Path(out)),
                             progress, log)
        return R.records_frame(R.current_records(store.load())) if main else None


def decide_undecided(config: SweepConfig, specs: list[SchedulerSpec], store: R.RecordStore, out: Path, open_bench,
                     progress: Optional[bool], log) -> None:
    """``--decide``: the points of comparisons still tied at N get more samples, up to ``max_n`` (decide.py)."""
    book = GrowingPoints(open_bench, store, out, config, log, progress)
    recorded = {(r[R.SCHEDULER], int(r[R.STEPS])): r.get(R.NFE) for r in R.current_records(store.load())
                if r.get(R.STATUS) == R.OK}
    pairs = planned_pairs(specs, config.steps, lambda label, steps: recorded.get((label, steps)))
    decisions = decide_pairs(book, pairs, config.n, config.max_n, log)
    tied = sum(d["verdict"] == "tied" for d in decisions)
    log(f"decided {len(decisions) - tied} of {len(decisions)} comparisons ({tied} tied at N = {config.max_n}) -> "
        f"{write_decisions(out, decisions)}")


def opened_to_decide(config: SweepConfig, out: Path) -> Workbench:
    """The workbench ``--decide`` opens when the sweep itself had nothing left to sample: the points it grows are
    scored against the reference statistics it keeps in ``out``."""
    bench = Workbench.open(config)
    bench.scoring.keep_reference(out)
    return bench


def pending_points(config: SweepConfig, specs: list[SchedulerSpec], done: set[str]) -> list[tuple[SchedulerSpec, int]]:
    """The points still to run, step-major: a sweep stopped part-way has compared every scheduler at the step counts
    it reached."""
    return [(spec, steps) for steps in config.steps for spec in specs if R.point_id(spec.label, steps) not in done]


def open_store(config: SweepConfig, specs: list[SchedulerSpec], out, force: bool):
    """The output folder's record store (checked to hold this sweep's records, emptied with ``force``), the points
    already done, and the outdated ones (point -> what changed, in words). Writes the resolved config beside the
    records."""
    check_sources(config)  # "model folder X not found" rather than "records of another sweep config"
    folder = prepare_output(out)
    store = R.RecordStore(folder, config.results_hash())
    if force:
        store.reset()
    records = R.current_records(store.load())
    outdated = outdated_points(records, specs, read_schedule(model_folder(config.model))) if records else {}
    done = {r[R.POINT] for r in records} - set(outdated)
    floor = next((r for r in records if r[R.POINT] == R.FLOOR_POINT), None)
    if floor is not None and floor.get(R.FLOOR_DATA, floor.get(R.REFERENCE_SOURCE)) != config.floor_source:
        done.discard(R.FLOOR_POINT)  # the floor is drawn again from the floor data now named
    if floor is not None and floor.get(R.FID_LOW) is not None and floor.get(R.FID_ESTIMATE) is None:
        done.discard(R.FLOOR_POINT)  # scored before intervals came with their estimate: the chart could not draw it
    write_text(folder / R.CONFIG, config.to_toml())
    return store, done, outdated


def outdated_points(records: list[dict], specs: list[SchedulerSpec], model_schedule: dict) -> dict[str, str]:
    """Recorded points that would now be computed otherwise: point -> what changed, in words. A point is outdated when
    its scheduler would now be built with another configuration, or its plugin has another version, or the
    scheduler's code hash differs; a record without one of these facts (older records) counts as unchanged in it."""
    now = {spec.label: current_facts(spec, model_schedule) for spec in specs}
    outdated = {}
    for record in records:
        current = now.get(record.get(R.SCHEDULER))
        if current is None:
            continue
        changes = [text for text in (config_change(record, current), code_change(record, current)) if text]
        if changes:
            outdated[record[R.POINT]] = " and ".join(changes)
    return outdated


def current_facts(spec: SchedulerSpec, model_schedule: dict) -> dict:
    """What a point of ``spec`` would record now about its scheduler: configuration, plugin and code hash (as
    ``Workbench.point_facts`` and ``run_point`` write them)."""
    registration = scheduler_registration(spec.name)
    return {R.SCHEDULER_CONFIG: scheduler_config_dict(build_scheduler(spec, model_schedule)),
            R.PLUGIN_PACKAGE: registration.package, R.PLUGIN_VERSION: registration.version,
            R.SCHEDULER_CODE: scheduler_code(registration.factory)}


def config_change(record: dict, current: dict) -> str | None:
    """``another scheduler configuration (eta 0.0 -> 1.0)`` when the recorded configuration differs, else None."""
    then, now = record.get(R.SCHEDULER_CONFIG), current[R.SCHEDULER_CONFIG]
    if then is None or then == now:
        return None
    changed = sorted(k for k in then.keys() | now.keys() if then.get(k) != now.get(k))
    return f"another scheduler configuration ({', '.join(f'{k} {then.get(k)!r} -> {now.get(k)!r}' for k in changed)})"


def code_change(record: dict, current: dict) -> str | None:
    """``another version of its plugin's code (plugin P 0.1.0 -> 0.1.1, scheduler_code A -> B)`` naming what
    differs from the record, else None."""
    parts = []
    package, version = current[R.PLUGIN_PACKAGE], current[R.PLUGIN_VERSION]
    then_package, then_version = record.get(R.PLUGIN_PACKAGE) or package, record.get(R.PLUGIN_VERSION)
    if then_version is not None and (then_package, then_version) != (package, version):
        now = version if then_package == package else f"{package} {version}"
        parts.append(f"plugin {then_package} {then_version} -> {now}")
    code = record.get(R.SCHEDULER_CODE)
    if code is not None and code != current[R.SCHEDULER_CODE]:
        parts.append(f"{R.SCHEDULER_CODE} {code} -> {current[R.SCHEDULER_CODE]}")
    return f"another version of its plugin's code ({', '.join(parts)})" if parts else None


def sweep_record(config: SweepConfig, record: dict) -> dict:
    """A point's record as the sweep stores it: with the sweep's N and the hash of its results-determining settings."""
    return {**record, R.N: config.n, R.RESULTS_HASH: config.results_hash()}


def scoring_line(config: SweepConfig, reference: str) -> str:
    """What every FID of the run is: its N, seed, feature network and reference, and what its interval brackets."""
    return (f"Scores: {config.n} samples a point (seed {config.seed}), backbone {config.backbone}, reference "
            f"{reference}.\n{R.INTERVAL_NOTE}")


def point_summary(record: dict) -> str:
    if record[R.STATUS] != R.OK:
        return f"    failed: {record[R.ERROR]}"
    return f"    NFE {record[R.NFE]}, {record[R.SECONDS_PER_IMAGE] * 1000:.1f} ms/image, {R.scores_text(record)}"
