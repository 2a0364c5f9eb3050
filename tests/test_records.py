"""records.jsonl: one reader, one writer, one rule for a torn last line, and writes that fail without losing points."""

import json
import os

import pytest

from ddpm_bench.errors import BenchError
from ddpm_bench.report.tables import subset_kids
from ddpm_bench.store import records as R


def record(point, **extra):
    return {R.POINT: point, R.SCHEDULER: point.split("@")[0], R.STEPS: int(point.split("@")[1]), R.STATUS: R.OK,
            R.RESULTS_HASH: "h", **extra}


def test_append_then_read_round_trips(tmp_path):
    store = R.RecordStore(tmp_path, "h")
    for point in ("ddim@5", "ddpm@5"):
        store.append(record(point, fid=1.5))
    assert [r[R.POINT] for r in store.load()] == ["ddim@5", "ddpm@5"]
    assert all(line.endswith("}") for line in (tmp_path / R.RECORDS).read_text().splitlines())


def test_a_torn_last_line_is_dropped_with_a_warning_and_cut_before_the_next_append(tmp_path):
    store = R.RecordStore(tmp_path, "h")
    store.append(record("ddim@5"))
    with open(store.path, "a") as handle:
        handle.write('{"point": "ddpm@5", "fi')  # killed mid-write
    warnings = []
    assert [r[R.POINT] for r in R.read_records(store.path, warn=warnings.append)] == ["ddim@5"]
    assert len(warnings) == 1 and "torn line" in warnings[0] and "not done" in warnings[0]
    store.append(record("ddpm@5"))  # the point is computed again; its line starts on a clean line
    lines = store.path.read_text().splitlines()
    assert [json.loads(line)[R.POINT] for line in lines] == ["ddim@5", "ddpm@5"]


def test_a_broken_line_in_the_middle_is_an_error_naming_it(tmp_path):
    path = tmp_path / R.RECORDS
    path.write_text(json.dumps(record("ddim@5")) + "\nnot json\n" + json.dumps(record("ddpm@5")) + "\n")
    with pytest.raises(BenchError, match="line 2 is not valid JSON"):
        R.read_records(path)


def test_records_of_another_sweep_are_refused(tmp_path):
    R.RecordStore(tmp_path, "other").append(record("ddim@5", results_hash="other"))
    with pytest.raises(BenchError, match="records of another sweep config"):
        R.RecordStore(tmp_path, "h").load()


def test_a_failed_write_keeps_every_earlier_record_and_says_so_in_one_line(tmp_path, monkeypatch):
    store = R.RecordStore(tmp_path, "h")
    store.append(record("ddim@5"))
    real_write = os.write

    def full_disk(descriptor, data):
        real_write(descriptor, data[: len(data) // 2])  # part of the line reaches the disk, then it is full
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "write", full_disk)
    with pytest.raises(BenchError) as error:
        store.append(record("ddpm@5"))
    monkeypatch.undo()
    message = str(error.value)
    assert "\n" not in message and "No space left on device" in message and "ddpm@5" in message
    assert [r[R.POINT] for r in R.read_records(store.path, warn=pytest.fail)] == ["ddim@5"]


def test_the_latest_record_of_a_point_supersedes_earlier_ones():
    records = [record("ddim@5", fid=2.0), record("ddpm@5"), record("ddim@5", fid=1.0)]
    current = R.current_records(records)
    assert [(r[R.POINT], r.get("fid")) for r in current] == [("ddim@5", 1.0), ("ddpm@5", None)]


def test_load_frame_explains_an_empty_folder(tmp_path):
    with pytest.raises(BenchError, match="has no records.jsonl; run a sweep into it first"):
        R.load_frame(tmp_path)


def test_records_of_earlier_versions_read_with_kid_over_all_samples(tmp_path):
    # before scoring.py stopped running torchmetrics' KID: its subset mean as "kid", the KID over all N as "kid_all"
    with_both = record("ddim@5", kid=0.0045, kid_std=0.025, kid_all=0.0080, kid_low=0.004, kid_high=0.012)
    subsets_only = record("ddpm@5", kid=0.05, kid_std=0.01)  # older still: no per-sample features, no interval
    (tmp_path / R.RECORDS).write_text("".join(json.dumps(r) + "\n" for r in (with_both, subsets_only)))
    upgraded, older = R.read_records(tmp_path / R.RECORDS)
    assert upgraded["kid"] == 0.0080 and "kid_all" not in upgraded and "kid_std" not in upgraded
    assert (upgraded["kid_low"], upgraded["kid_high"]) == (0.004, 0.012)
    assert older == subsets_only
    assert R.scores_text({"fid": 1.23456, "fid_low": 1.0, "fid_high": 1.5, **upgraded}) == (
        "FID 1.235 [1.000, 1.500], KID 0.0080 [0.0040, 0.0120]")
    # the report says which KID a record holds
    assert not subset_kids(R.load_frame(tmp_path).iloc[:1]) and subset_kids(R.load_frame(tmp_path))
