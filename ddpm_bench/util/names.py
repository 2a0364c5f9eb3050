"""Names a user typed that match nothing: one wording everywhere, with the closest known name as a suggestion."""

from __future__ import annotations

import difflib
from typing import Iterable


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """`` (did you mean 'ddim'?)`` for the closest of ``known``, or an empty string when nothing is close."""
    close = difflib.get_close_matches(str(name), sorted(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def unknown_name(kind: str, name: str, known: Iterable[str]) -> str:
    """``unknown scheduler 'ddin' (did you mean 'ddim'?); available: ddim, ddpm, pndm``."""
    known = sorted(known)
    return f"unknown {kind} {name!r}{did_you_mean(name, known)}; available: {', '.join(known) or 'none'}"


def unknown_option(owner: str, name: str, known: Iterable[str]) -> str:
    """``DDIMScheduler: unknown option 'etta' (did you mean 'eta'?); valid options: ...``."""
    known = sorted(known)
    return f"{owner}: unknown option {name!r}{did_you_mean(name, known)}; valid options: {', '.join(known)}"
