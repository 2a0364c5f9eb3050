"""Content hashes that identify files and settings in records and cache keys."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def json_digest(value: Any, length: int = 16) -> str:
    """A short hash of a JSON value, independent of key order."""
    return text_sha256(json.dumps(value, sort_keys=True))[:length]
