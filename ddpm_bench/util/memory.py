"""How much memory a new allocation can take: checked before a large one, because on Linux the OOM killer ends the
process before numpy or torch could raise a MemoryError."""

from __future__ import annotations

import os
import re
from pathlib import Path


def available_memory() -> int:
    """Bytes that a new allocation can take without swapping: /proc/meminfo's MemAvailable (Linux), else the free
    physical pages."""
    try:
        found = re.search(r"^MemAvailable:\s+(\d+) kB", Path("/proc/meminfo").read_text(), re.MULTILINE)
    except OSError:
        found = None
    return int(found.group(1)) * 1024 if found else os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
