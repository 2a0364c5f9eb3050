"""Splitting work into batches."""

from __future__ import annotations

from typing import Sequence, TypeVar

T = TypeVar("T", bound=Sequence)

#: How many images go through a feature network at once when nothing else decides it.
FEATURE_BATCH = 500


def chunks(items: T, size: int) -> list[T]:
    """``items`` (a list, tensor or array) cut into consecutive slices of ``size``; the last may be shorter."""
    return [items[i : i + size] for i in range(0, len(items), size)]
