"""The record schema and the one reader and writer of a sweep folder's ``records.jsonl``.

One JSON object per line, one line per point (scheduler variant, step count), plus one line for the real-data floor.
Lines are appended whole (one ``write`` of the encoded line, then fsync), so a kill leaves at most one torn last line.
The one rule for such a line: the reader drops it with a warning, and the point it belonged to counts as not done, so
a resumed sweep computes it again. Everything that reads records (resume, report, compare) goes through here.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import Optional

import numpy as np

from ddpm_bench.errors import BenchError
from ddpm_bench.util.atomic import atomic_file

RECORDS = "records.jsonl"
CONFIG = "sweep.toml"
GRIDS = "grids"
FEATURES_DIR = "features"
DECISIONS = "decisions.json"   # sweep --decide's verdicts (decide.py)
TARGET = "target.json"         # a target search's answer (target.py)
CONVERGENCE = "convergence.json"  # each point's distance to a many-step solution (convergence.py)
TIMINGS = "timings.json"       # every finished point timed again side by side (retime.py)
COMMANDS = "commands.jsonl"     # every ddpm-bench command that wrote to the folder, in order
REFERENCE_STATS = "reference.npz"  # the mean and covariance of the reference the points were scored against
ANSWER = "answer.json"         # the report's answer as data, what ``report --json`` prints (report/)
REPORT = "report.md"           # and report.html beside it (report/)

# -- field names ---------------------------------------------------------------------------------------------------
POINT = "point"                      # "label@steps", or FLOOR_POINT
SCHEDULER = "scheduler"              # the label a user wrote: "ddim:eta=1.0"
SCHEDULER_NAME = "scheduler_name"    # the registered name: "ddim"
SCHEDULER_CONFIG = "scheduler_config"
STEPS = "steps"
STATUS = "status"
ERROR = "error"
NFE = "nfe"
SECONDS_PER_IMAGE = "seconds_per_image"
FID = "fid"
KID = "kid"                          # the unbiased KID over all N samples (ddpm_bench.stats)
N = "n"
SEED = "seed"
MODEL = "model"
MODEL_SHA256 = "model_sha256"
BACKBONE = "backbone"
REFERENCE = "reference"              # its description: "embedded:mnist (5000 images)"
REFERENCE_SOURCE = "reference_source"  # what the user named: "embedded:mnist"
FLOOR_DATA = "floor_data"            # the floor's real images: --floor-data, else the reference source
EMBEDDED_MNIST_TEST = "embedded:mnist-test"  # a FLOOR_DATA: MNIST test digits, in no reference or training set here
GRID = "grid"
FEATURES = "features"                # the point's per-sample features, relative to the sweep folder (.npy, float32)
FID_LOW, FID_HIGH = "fid_low", "fid_high"        # 95 % interval (ddpm_bench.stats: basic bootstrap over sample indices)
KID_LOW, KID_HIGH = "kid_low", "kid_high"        # and KID's
# what those intervals estimate, estimated by the same method: the Frechet distance (and KID) of the sampler's
# distribution, always within its interval; FID above stays the plug-in value at N, as papers give it
FID_ESTIMATE, KID_ESTIMATE = "fid_estimate", "kid_estimate"
INTERVAL_METHOD = "interval_method"  # the method behind the intervals (ddpm_bench.stats)
KID_STD = "kid_std"                  # older records only: the spread of torchmetrics' KID over subsets (upgraded)
KID_ALL = "kid_all"                  # older records only: the KID over all N, which upgraded() moves to KID
FD_INFINITY = "fd_infinity"          # FID extrapolated to infinitely many samples (Chong & Forsyth 2020)
PRDC_PRECISION, PRDC_RECALL = "prdc_precision", "prdc_recall"    # Naeem et al. 2020's k-NN measures (manifold.py),
PRDC_DENSITY, PRDC_COVERAGE = "prdc_density", "prdc_coverage"    # prefixed: PRECISION is the UNet's numeric precision
NEAR_COPIES, NEAR_COPY_RATE = "near_copies", "near_copy_rate"  # samples closer to a reference image than any two are
PLUGIN = "plugin"                    # the plugin that registered the scheduler,
PLUGIN_PACKAGE, PLUGIN_VERSION = "plugin_package", "plugin_version"  # and the distribution it came in
SCHEDULER_CODE = "scheduler_code"    # a hash of the scheduler's code, docstrings and comments aside (code_identity.py)
VERSIONS = "versions"                # library name -> version
PREPROCESSING = "preprocessing"      # how images meet the feature network, in words
FRECHET_NAME = "frechet_name"        # what FID is called under the backbone: "FID", "FD_DINOv2", "FD_CLIP"
# the clip backbone's CMMD at N, the estimate its 95 % interval brackets, and the interval (metrics/cmmd.py)
CMMD, CMMD_ESTIMATE, CMMD_LOW, CMMD_HIGH = "cmmd", "cmmd_estimate", "cmmd_low", "cmmd_high"
DEVICE = "device"                    # the device sampled on, in words: "cpu: MODEL (AMX-BF16), 2 threads"
RUN = "run"                          # the command run that sampled and timed the point (util.provenance.run_id)
BATCH_SIZE = "batch_size"
PRECISION = "precision"              # the UNet's: "fp32", "bf16" or "fp16"
SAMPLE_SHAPE = "sample_shape"        # [channels, height, width]
RESULTS_HASH = "results_hash"
METRICS = (FID, KID, N, "inception_score", "inception_score_std")  # what scoring a point adds
MS_PER_IMAGE = "ms_per_image"        # no record field: the column records_frame adds beside SECONDS_PER_IMAGE

# -- values of STATUS ----------------------------------------------------------------------------------------------
OK = "ok"
FAILED = "failed"
FLOOR = "floor"
FLOOR_UNAVAILABLE = "floor-unavailable"

FLOOR_POINT = "real-data-floor"


def point_id(label: str, steps: int) -> str:
    return f"{label}@{steps}"


def point_slug(label: str, steps: int) -> str:
    return f"{re.sub(r'[^A-Za-z0-9_.=-]+', '_', label)}-{steps}"


def point_label(scheduler: str, steps: int) -> str:
    """How reports and ``compare`` name a point: ``ddim:20``, ``ddim:eta=1.0:20``."""
    return f"{scheduler}:{steps}"


def record_label(record) -> str:
    """``point_label`` of a record (a dict or a frame's row)."""
    return point_label(record[SCHEDULER], int(record[STEPS]))


def grid_file(label: str, steps: int) -> str:
    """The sample grid of a point, relative to the sweep folder."""
    return f"{GRIDS}/{point_slug(label, steps)}.png"


def features_file(label: str, steps: int) -> str:
    """The per-sample features of a point, relative to the sweep folder."""
    return f"{FEATURES_DIR}/{point_slug(label, steps)}.npy"


def save_features(features, path: Path) -> None:
    """A point's features as float32 .npy (sample-index order), written whole or not at all."""
    with atomic_file(path) as handle:
        np.save(handle, features.astype(np.float32), allow_pickle=False)


def load_features(folder: Path, record: dict) -> np.ndarray:
    """The features a record's point kept (``record[FEATURES]``, relative to ``folder``), without running any code
    stored in the file; a file that cannot be read is an error naming it."""
    path = Path(folder) / record[FEATURES]
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise BenchError(f"cannot read the features of {record.get(POINT, path.stem)} ({path}): {error}") from error


# what a one-line summary's FID and KID are (ddpm_bench.stats), said once beside such lines
INTERVAL_NOTE = ("FID and KID: the estimate for the sampler's distribution with its 95 % interval (basic bootstrap or "
                 "grouped jackknife), then the value at N, which keeps the bias of finite N and is what papers report.")


def scores_text(record: dict) -> str:
    """A record's FID and KID on one line: each metric's estimate with its 95 % interval and, labelled, its value at
    N; a record of an earlier version, without estimates, its value at N with the interval."""
    parts = []
    metrics = (("FID", FID, FID_ESTIMATE, FID_LOW, FID_HIGH, "{:.3f}"),
               ("KID", KID, KID_ESTIMATE, KID_LOW, KID_HIGH, "{:.4f}"))
    for name, field, estimate, low, high, form in metrics:
        if record.get(field) is None:
            continue
        interval = record.get(low) is not None and record.get(high) is not None
        if interval and record.get(estimate) is not None:
            parts.append(f"{name} {form.format(record[estimate])} [{form.format(record[low])}, "
                         f"{form.format(record[high])}] (at N {form.format(record[field])})")
            continue
        text = f"{name} {form.format(record[field])}"
        if interval:
            text += f" [{form.format(record[low])}, {form.format(record[high])}]"
        parts.append(text)
    return ", ".join(parts)


def read_records(path: Path, *, warn=lambda line: print(line, file=sys.stderr)) -> list[dict]:
    """Every complete record in ``path`` (none when it does not exist). A torn last line is dropped with a warning;
    a broken line elsewhere is an error naming it."""
    if not path.exists():
        return []
    data = path.read_bytes()
    complete = data[: data.rfind(b"\n") + 1]
    if len(complete) != len(data):
        warn(f"ddpm-bench: warning: {path} ends in a torn line (a run killed mid-write); ignoring it, its point counts "
             "as not done")
    records = []
    for number, line in enumerate(complete.decode(errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            raise BenchError(f"{path} line {number} is not valid JSON; move the file away to start over") from None
        if not isinstance(record, dict) or POINT not in record:
            raise BenchError(f"{path} line {number} is not a ddpm-bench record; move the file away to start over")
        records.append(upgraded(record))
    return records


def upgraded(record: dict) -> dict:
    """A record as this version writes it. Records of sweeps from before scoring.py stopped running torchmetrics'
    KID hold its mean over 100 random subsets as ``kid`` (their spread as ``kid_std``) beside ``kid_all``, the
    unbiased KID over all N samples that their interval is about; ``kid`` is now the latter. Records older still
    (no per-sample features, no ``kid_all``) keep their subset mean and spread: expectations.py judges them by it."""
    if KID_ALL not in record:
        return record
    kid = record[KID_ALL]
    return {**{key: value for key, value in record.items() if key not in (KID_ALL, KID_STD)}, KID: kid}


def current_records(records: list[dict]) -> list[dict]:
    """The last record of each point: a point computed again supersedes its earlier record."""
    return list({record[POINT]: record for record in records}.values())


def records_frame(records: list[dict]):
    """Records as a DataFrame sorted by scheduler and steps, with ``ms_per_image`` beside ``seconds_per_image``."""
    import pandas as pd

    frame = pd.DataFrame(records)
    if not frame.empty:
        frame = frame.sort_values([SCHEDULER, STEPS]).reset_index(drop=True)
    if SECONDS_PER_IMAGE in frame:
        frame[MS_PER_IMAGE] = frame[SECONDS_PER_IMAGE] * 1000
    return frame


def load_frame(folder: Path):
    """The current record of every point of a sweep folder, as a DataFrame; a one-line error when there are none."""
    path = Path(folder) / RECORDS
    if not path.exists():
        raise BenchError(f"{folder} has no {RECORDS}; run a sweep into it first")
    records = read_records(path)
    if not records:
        raise BenchError(f"{path} holds no records")
    return records_frame(current_records(records))


def ok_points(frame):
    """The finished points of a records frame (``load_frame``): no failed point, no floor."""
    return frame[frame[STATUS] == OK].copy() if STATUS in frame else frame.iloc[0:0]


def sampled_points(frame):
    """Every point a scheduler was run for, finished or failed: all records of a frame but the real-data floor."""
    return frame[frame[STATUS] != FLOOR] if STATUS in frame else frame


class RecordStore:
    """A sweep folder's records: the points already done, the check that they belong to this sweep, and appends."""

    def __init__(self, folder: Path, results_hash: str):
        self.path = Path(folder) / RECORDS
        self.results_hash = results_hash

    def load(self) -> list[dict]:
        """The records, checked to come from a sweep with the same results-determining settings."""
        records = read_records(self.path)
        foreign = {r.get(RESULTS_HASH) for r in records} - {self.results_hash}
        if foreign:
            raise BenchError(
                f"{self.path} holds records of another sweep config (n, seed, model, backbone, reference, batch size "
                "or "
                "precision differ); use another --out, or --force to replace them"
            )
        return records

    def model_mismatch(self, weights_sha256: str) -> Optional[str]:
        """Why the recorded points cannot sit beside new ones of a model with these weights (the model source may
        name a folder or hub id whose weights changed since), or None."""
        recorded = {r[MODEL_SHA256] for r in self.load() if r.get(MODEL_SHA256)} - {weights_sha256}
        if not recorded:
            return None
        return (f"{self.path} holds records of a model with other weights (sha256 {sorted(recorded)[0][:16]}, now "
                f"{weights_sha256[:16]}); use another --out, or --force to replace them")

    def append(self, record: dict) -> None:
        """Add one record durably. A torn last line left by a kill is cut off first, so the new line starts clean; a
        write that fails (a full disk) is undone, so the file keeps every earlier record and parses, and is reported
        in one line."""
        line = (json.dumps(record, sort_keys=True) + "\n").encode()
        try:
            descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        except OSError as error:
            raise BenchError(f"cannot write records to {self.path}: {error.strerror or error}") from error
        try:
            self._cut_torn_tail(descriptor)
            size = os.fstat(descriptor).st_size
            try:
                written = os.write(descriptor, line)
                if written != len(line):
                    raise OSError(f"short write, {written} of {len(line)} bytes")
                os.fsync(descriptor)
            except OSError as error:
                os.ftruncate(descriptor, size)
                raise BenchError(f"cannot write the record of {record.get(POINT)} to {self.path}: "
                                 f"{error.strerror or error}; the earlier records are kept") from error
        finally:
            os.close(descriptor)

    @staticmethod
    def _cut_torn_tail(descriptor: int) -> None:
        size = os.fstat(descriptor).st_size
        if size == 0:
            return
        tail = os.pread(descriptor, min(size, 1 << 20), max(0, size - (1 << 20)))
        if tail.endswith(b"\n"):
            return
        newline = tail.rfind(b"\n")
        keep = size - len(tail) + newline + 1 if newline >= 0 else (0 if size <= len(tail) else size)
        os.ftruncate(descriptor, keep)

    def reset(self) -> None:
        if self.path.exists():
            self.path.unlink()
