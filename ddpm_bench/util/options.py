"""Values a user writes as text (command-line lists, ``ddim:eta=1.0``) and the checks every count goes through.

Each check raises a one-line ``ConfigError`` that names the offending item.
"""

from __future__ import annotations

from typing import Any

from ddpm_bench.errors import ConfigError


def positive_int(value: Any, what: str) -> int:
    """``value`` if it is an int (not a bool) above zero; else a ConfigError naming ``what``."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigError(f"{what} must be a positive integer, got {value!r}")
    return value


def literal_candidates(text: str) -> list[Any]:
    """What ``text`` may mean, most specific first: a bool or None, an int, a float, else the text itself."""
    candidates: list[Any] = []
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        candidates.append(lowered == "true")
    if lowered in ("none", "null"):
        candidates.append(None)
    for convert in (int, float):
        try:
            candidates.append(convert(text))
        except ValueError:
            pass
    return [*candidates, text]


def literal(text: str) -> Any:
    """The value of an option whose type is not declared: its most specific reading."""
    return literal_candidates(text)[0]


def split_list(text: str, what: str = "", distinct: bool = True) -> list[str]:
    """Comma-separated items, stripped; an empty item, or with ``distinct`` a repeated one, is an error naming it
    (after ``what``)."""
    prefix = f"{what}: " if what else ""
    items = [item.strip() for item in str(text).split(",")]
    if any(not item for item in items):
        raise ConfigError(f"{prefix}empty item in {text!r}; separate items by single commas")
    repeated = sorted({item for item in items if items.count(item) > 1}) if distinct else []
    if repeated:
        raise ConfigError(f"{prefix}{repeated[0]!r} is given more than once in {text!r}")
    return items


def positive_int_list(text: str, what: str = "", distinct: bool = True) -> list[int]:
    """Comma-separated positive integers (``5,10,20``); the first bad item is named (after ``what``). ``distinct``:
    a value given twice is an error too (step counts; not channel widths)."""
    prefix = f"{what}: " if what else ""
    values: list[int] = []
    for item in split_list(text, what, distinct):
        try:
            value = int(item)
        except ValueError:
            raise ConfigError(f"{prefix}{item!r} is not an integer") from None
        if value <= 0:
            raise ConfigError(f"{prefix}{item!r} is not a positive integer")
        if distinct and value in values:
            raise ConfigError(f"{prefix}{value} is given more than once in {text!r}")
        values.append(value)
    return values


def parse_point(text: str) -> tuple[str, int]:
    """A point as reports label it, ``SCHEDULER:STEPS`` (``ddpm:1000``, ``ddim:eta=1.0:50``): (scheduler, steps)."""
    scheduler, _, steps = str(text).rpartition(":")
    try:
        value = int(steps)
    except ValueError:
        value = 0
    if not scheduler or value <= 0:
        raise ConfigError(f"point {text!r} should be SCHEDULER:STEPS, e.g. ddpm:1000")
    return scheduler, value
