"""Whether a results folder's report still shows its records, so that a run that computed nothing need not rebuild it.

A sweep's report (``report.md`` and ``report.html``) is built from the folder's files, and a sweep changes only
``records.jsonl`` (and the features and grids its records name), so the report is current exactly when it was written
after the records last changed. Every run that adds or recomputes a point writes ``records.jsonl``, which
changes its modification time; comparing that time before and after a run shows whether the run changed anything.
The report is stale when the folder had no records before the run, when the run changed them, or when the report is
missing or older than the records (a run stopped between writing its records and its report).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from ddpm_bench.store.records import RECORDS, REPORT


def records_stamp(folder: str | Path) -> Optional[int]:
    """The modification time (ns) of the folder's records, or None when it has none yet: taken before a run."""
    records = Path(folder) / RECORDS
    return records.stat().st_mtime_ns if records.exists() else None


def report_is_current(folder: str | Path, stamp_before: Optional[int]) -> bool:
    """True when the records are as they were at ``stamp_before`` (records_stamp before the run) and the report was
    written no earlier than that: the report then shows every record and need not be built again."""
    if stamp_before is None or records_stamp(folder) != stamp_before:
        return False
    report = Path(folder) / REPORT
    return report.exists() and report.stat().st_mtime_ns >= stamp_before
