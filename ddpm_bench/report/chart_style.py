"""How a scheduler looks in every chart of every report, and the values a chart draws for a point.

- Colour, marker and dash are a function of the scheduler's label alone, never of the other schedulers in the folder:
  fixed for the built-in schedulers (ddim blue, ddpm vermillion, pndm green, the dpmsolver plugin's dpmpp-2m reddish
  purple), and for any other name a stable hash of the name (``zlib.crc32``, not Python's salted ``hash``) into the
  rest of the Okabe-Ito palette (safe for colour-blind readers): orange, sky blue and black, its yellow left out as too
  pale for a line on white; the marker and dash hashed too, so that two plugins of one colour still differ. So pndm is
  green in every report, whichever schedulers it is drawn beside, and a plugin never takes a built-in's colour.
- A variant (``ddim:eta=1.0``) keeps its base scheduler's colour with a marker and dash of its own, so that lines that
  coincide (``ddim:eta=1`` on ``ddpm``) stay visible.
- Each point is drawn at the value its bar brackets: the bias-corrected estimate of the Frechet distance of the
  distributions (``fid_estimate``) where the record has one, with its 95 % interval as the bar; else the plug-in FID at
  N, with no bar (its interval brackets another quantity). The same for KID (``kid_estimate``); records from before
  KID's interval existed draw the subset mean +- its standard deviation. A bar is drawn only where its upper end lies
  above its lower end and its point lies inside it (a KID interval clipped at 0 to [0, 0] is no bar).
"""

from __future__ import annotations

import zlib
from typing import NamedTuple

import numpy as np
import pandas as pd

from ddpm_bench.store import records as R

OKABE_ITO = {"blue": "#0072B2", "orange": "#E69F00", "green": "#009E73", "vermillion": "#D55E00",
             "purple": "#CC79A7", "sky": "#56B4E9", "yellow": "#F0E442", "black": "#000000"}
HASHED_COLOURS = [OKABE_ITO[name] for name in ("orange", "sky", "black")]  # those no built-in scheduler has
MARKERS = ["o", "s", "^", "D", "v", "P", "X"]  # no star (a target search's matched point), no hexagon (a circle)
DASHES = ["-", "--", ":", "-."]
BUILT_IN = {  # registered name -> (colour, marker, dash)
    "ddim": (OKABE_ITO["blue"], "o", "-"),
    "ddpm": (OKABE_ITO["vermillion"], "s", "--"),
    "pndm": (OKABE_ITO["green"], "^", "-."),
    "dpmpp-2m": (OKABE_ITO["purple"], "D", ":"),
}

FID_ESTIMATE, KID_ESTIMATE = R.FID_ESTIMATE, R.KID_ESTIMATE


def base_name(label: str) -> str:
    """The registered name in a scheduler label: the segments before the first ``key=value`` one, as the scheduler
    specs parse it (``ddim:eta=1.0`` -> ``ddim``, ``diffusers:DDIMScheduler`` unchanged)."""
    segments = label.split(":")
    split = next((i for i, s in enumerate(segments) if "=" in s), len(segments))
    return ":".join(segments[:split]) or label


def _stable_hash(text: str) -> int:
    return zlib.crc32(text.encode("utf-8"))


def _other(choices: list[str], taken: str, key: int) -> str:
    """One of ``choices`` other than ``taken``, picked by ``key``."""
    rest = [c for c in choices if c != taken]
    return rest[key % len(rest)]


def style_of(label: str) -> dict:
    """Colour, marker and dash style of a scheduler label, the same in every chart of every report."""
    base = base_name(label)
    if base in BUILT_IN:
        colour, marker, dash = BUILT_IN[base]
    else:
        key = _stable_hash(base)
        colour = HASHED_COLOURS[key % len(HASHED_COLOURS)]
        marker = MARKERS[(key // len(HASHED_COLOURS)) % len(MARKERS)]
        dash = DASHES[(key // (len(HASHED_COLOURS) * len(MARKERS))) % len(DASHES)]
    if label != base:  # a variant: its base's colour, a marker and dash of its own
        key = _stable_hash(label)
        marker, dash = _other(MARKERS, marker, key), _other(DASHES, dash, key // 8)
    return {"color": colour, "marker": marker, "linestyle": dash}


def styles(labels) -> dict[str, dict]:
    """``style_of`` for each label (order and repeats do not matter)."""
    return {label: style_of(label) for label in set(labels)}


class Drawn(NamedTuple):
    """What a chart draws for some rows: each point's value, and its bar's ends (NaN where no bar is drawn)."""
    value: np.ndarray
    low: np.ndarray
    high: np.ndarray
    estimated: bool  # whether any row's value is the bias-corrected estimate (else every value is the plug-in)

    @property
    def has_bars(self) -> bool:
        return bool(np.isfinite(self.low).any())


def _column(rows: pd.DataFrame, name: str) -> np.ndarray:
    return rows[name].to_numpy(dtype=float) if name in rows else np.full(len(rows), np.nan)


def drawn(rows: pd.DataFrame, metric: str, factor: float = 1.0) -> Drawn:
    """The values and bars of ``metric`` (R.FID or R.KID) for ``rows``, times ``factor``: the estimate with its
    interval where a row has one, else the plug-in value with no bar (see the module's docstring)."""
    estimate_field, low_field, high_field = {R.FID: (FID_ESTIMATE, R.FID_LOW, R.FID_HIGH),
                                             R.KID: (KID_ESTIMATE, R.KID_LOW, R.KID_HIGH)}[metric]
    plug_in, estimate = _column(rows, metric), _column(rows, estimate_field)
    low, high = _column(rows, low_field), _column(rows, high_field)
    has_estimate = np.isfinite(estimate)
    value = np.where(has_estimate, estimate, plug_in)
    if metric == R.KID and not np.isfinite(low).any() and R.KID_STD in rows:  # subset KIDs: mean +- std
        std = _column(rows, R.KID_STD)
        low, high, has_estimate = value - std, value + std, np.isfinite(std)
    bar = has_estimate & (high > low) & (low <= value) & (value <= high)
    return Drawn(value * factor, np.where(bar, low * factor, np.nan), np.where(bar, high * factor, np.nan),
                 bool(np.isfinite(estimate).any()))


def floor_drawn(floor, metric: str, factor: float, estimated: bool) -> Drawn:
    """``drawn`` for the real-data floor's record (a row, or None: nothing). Nothing, too, where the floor would stand
    for another quantity than the points (``estimated``: whether theirs are estimates): a plug-in FID at N among
    bias-corrected estimates sits above points as good as real data."""
    values = drawn(pd.DataFrame([floor]) if floor is not None else pd.DataFrame({metric: []}), metric, factor)
    if values.estimated != estimated:
        return drawn(pd.DataFrame({metric: []}), metric, factor)
    return values
