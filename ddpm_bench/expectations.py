"""What the DDPM, DDIM and PNDM papers lead one to expect of a sweep, checked against its numbers.

Each check finds its schedulers by plugin name and configuration (``ddim`` with ``eta`` 0, ``ddpm`` with
``variance_type`` ``fixed_large``...), not by the label a user typed, and is left out when the sweep lacks them. Each
paragraph states the expectation with its source, the figures that bear on it, and a verdict. FID decides which of two
points is better; KID's standard deviation says whether a difference is beyond noise.
"""

from __future__ import annotations

import math
from typing import Optional

import pandas as pd

LOW_RANGE_NFE = 100  # PNDM paper, Table 1: its gains over DDIM are at 10 to 100 model calls
MANY_STEPS = 100  # a step count at which deterministic samplers of the same ODE should have converged


def expectations(points: pd.DataFrame) -> list[str]:
    """One paragraph per check whose schedulers ``points`` (the sweep's finished points) holds."""
    by_label = {label: group.set_index("steps").sort_index() for label, group in points.groupby("scheduler")}
    ddim = _find(by_label, "ddim", eta=0.0)
    ddim_eta_one = _find(by_label, "ddim", eta=1.0)
    ddpm = _find(by_label, "ddpm", variance_type="fixed_small")
    ddpm_large = _find(by_label, "ddpm", variance_type="fixed_large")
    pndm = _find(by_label, "pndm")
    checks = [
        _ddim_beats_ddpm_at_few_steps(ddim, ddpm),
        _eta_one_is_ddpm(ddim_eta_one, ddpm),
        _large_variance_fails_at_few_steps(ddpm_large, ddpm),
        _pndm_beats_ddim_at_equal_calls(pndm, ddim),
        _deterministic_samplers_meet(ddim, pndm),
    ]
    return [check for check in checks if check]


def _find(by_label: dict, scheduler_name: str, **options) -> Optional[pd.DataFrame]:
    """The points of the scheduler ``scheduler_name`` configured with ``options`` (the shortest label if several)."""
    matches = []
    for label, group in by_label.items():
        first = group.iloc[0]
        config = first.get("scheduler_config")
        if first.get("scheduler_name") == scheduler_name and isinstance(config, dict):
            if all(config.get(key) == value for key, value in options.items()):
                matches.append(label)
    return by_label[min(matches, key=len)] if matches else None


def _common_steps(a: Optional[pd.DataFrame], b: Optional[pd.DataFrame]) -> list[int]:
    return [] if a is None or b is None else sorted(set(a.index) & set(b.index))


def _kid_noise(a, b) -> float:
    """Standard deviation of the difference of two independent KID estimates."""
    return (a["kid_std"] ** 2 + b["kid_std"] ** 2) ** 0.5


def _kid_within_noise(a, b) -> bool:
    return abs(a["kid"] - b["kid"]) <= _kid_noise(a, b)


def _kid_difference(a, b) -> str:
    """The KID difference of two points and whether it is within its noise, in words."""
    return (f"KID difference {abs(a['kid'] - b['kid']):.4f}, {'within' if _kid_within_noise(a, b) else 'beyond'} its "
            f"noise {_kid_noise(a, b):.4f}")


def _versus(steps: int, name_a: str, a, name_b: str, b) -> str:
    """``steps`` steps: which is better on FID, and whether the KID difference exceeds its noise."""
    better = name_a if a["fid"] < b["fid"] else name_b
    return (f"{steps} steps: {better} better (FID {name_a} {a['fid']:.2f} vs {name_b} {b['fid']:.2f}; "
            f"{_kid_difference(a, b)})")


def _verdict(holds: bool, undecided: bool = False) -> str:
    if holds:
        return "Shown."
    return "Not shown, but undecided: every difference is within noise at this N." if undecided else "Not shown."


def _ddim_beats_ddpm_at_few_steps(ddim, ddpm) -> str:
    steps = _common_steps(ddim, ddpm)
    if not steps:
        return ""
    parts = [_versus(s, "DDIM", ddim.loc[s], "DDPM", ddpm.loc[s]) for s in steps]
    text = ("DDIM (eta = 0) better than DDPM at few steps, the gap closing as steps grow (DDIM paper, Table 1). "
            "At equal steps: " + "; ".join(parts) + ".")
    first, last = steps[0], steps[-1]
    gap_first = ddpm.loc[first, "fid"] - ddim.loc[first, "fid"]
    gap_last = ddpm.loc[last, "fid"] - ddim.loc[last, "fid"]
    holds = gap_first > 0
    if len(steps) > 1:
        closing = abs(gap_last) < abs(gap_first)
        text += (f" The FID gap (DDPM minus DDIM) is {gap_first:.2f} at {first} steps and {gap_last:.2f} at {last}: "
                 f"{'closing' if closing else 'not closing'}.")
        holds = holds and closing
    return f"{text} {_verdict(holds)}"


def _eta_one_is_ddpm(ddim_eta_one, ddpm) -> str:
    steps = _common_steps(ddim_eta_one, ddpm)
    if not steps:
        return ""
    differences = {s: abs(ddim_eta_one.loc[s, "fid"] - ddpm.loc[s, "fid"]) for s in steps}
    worst = max(differences, key=differences.get)
    within = sum(_kid_within_noise(ddim_eta_one.loc[s], ddpm.loc[s]) for s in steps)
    holds = within == len(steps)
    return ("DDIM with eta = 1 is DDPM's sampler with the smaller variance, beta tilde (DDIM paper, eq. 16 and "
            "Section 4.1), so on the same noise the two give the same samples up to round-off. Largest FID difference "
            f"{differences[worst]:.3f} (at {worst} steps); KID difference within noise at {within} of {len(steps)} "
            f"step counts. {_verdict(holds)}")


def _large_variance_fails_at_few_steps(ddpm_large, ddpm) -> str:
    steps = _common_steps(ddpm_large, ddpm)
    if not steps:
        return ""
    first, last = steps[0], steps[-1]
    text = ("DDPM with the larger variance (beta, `fixed_large`; sigma hat in the DDIM paper) far worse than with "
            "beta tilde at few steps (DDIM paper, Table 1), the two similar at many (DDPM paper, Section 3.2, at "
            f"T = 1000). FID at {first} steps: {ddpm_large.loc[first, 'fid']:.2f} vs {ddpm.loc[first, 'fid']:.2f}")
    holds = ddpm_large.loc[first, "fid"] > ddpm.loc[first, "fid"]
    if len(steps) > 1:
        large, small = ddpm_large.loc[last], ddpm.loc[last]
        text += f"; at {last} steps: {large['fid']:.2f} vs {small['fid']:.2f}, {_kid_difference(large, small)}"
        holds = holds and (last < MANY_STEPS or _kid_within_noise(large, small))
    return f"{text}. {_verdict(holds)}"


def _at_calls(points: pd.DataFrame, nfe: float) -> Optional[dict]:
    """FID, KID and KID std of ``points`` at ``nfe`` model calls, interpolated linearly in log NFE between the two
    points that bracket it (the larger std of the two); None outside their range."""
    points = points.sort_values("nfe")
    below, above = points[points["nfe"] <= nfe], points[points["nfe"] >= nfe]
    if not len(below) or not len(above):
        return None
    low, high = below.iloc[-1], above.iloc[0]
    span = math.log(high["nfe"]) - math.log(low["nfe"])
    weight = 0.0 if span == 0 else (math.log(nfe) - math.log(low["nfe"])) / span
    value = {key: low[key] + weight * (high[key] - low[key]) for key in ("fid", "kid")}
    return {**value, "kid_std": max(low["kid_std"], high["kid_std"])}


def _pndm_beats_ddim_at_equal_calls(pndm, ddim) -> str:
    """Each PNDM point against DDIM at the same number of model calls, interpolated between DDIM's step counts."""
    if pndm is None or ddim is None:
        return ""
    pairs = []
    for _, row in pndm[pndm["nfe"] <= LOW_RANGE_NFE].iterrows():
        rival = _at_calls(ddim, row["nfe"])
        if rival is not None:
            pairs.append((row, rival))
    if not pairs:
        return ""
    wins = sum(p["fid"] < d["fid"] for p, d in pairs)
    clear = sum(not _kid_within_noise(p, d) for p, d in pairs)
    text = "; ".join(f"{int(p['nfe'])} calls: FID PNDM {p['fid']:.2f} vs DDIM {d['fid']:.2f}" for p, d in pairs)
    return ("PNDM better than DDIM at equal model calls in the low range (PNDM paper, Table 1). Each PNDM point with "
            f"at most {LOW_RANGE_NFE} calls against DDIM at as many calls (interpolated in log calls between its "
            f"step counts): {text}. PNDM is better in {wins} of {len(pairs)}; the KID difference is beyond its noise "
            f"in {clear} of {len(pairs)}. " + _verdict(wins > len(pairs) / 2, undecided=clear == 0))


def _deterministic_samplers_meet(ddim, pndm) -> str:
    steps = [s for s in _common_steps(ddim, pndm) if s >= MANY_STEPS]
    if not steps:
        return ""
    last = steps[-1]
    a, b = ddim.loc[last], pndm.loc[last]
    return ("DDIM (eta = 0) and PNDM integrate the same probability-flow ODE (DDIM paper, Section 4.3; PNDM paper, "
            "Section 3), so at many steps their samples, and scores, should meet. At "
            f"{last} steps: FID DDIM {a['fid']:.2f} vs PNDM {b['fid']:.2f}, {_kid_difference(a, b)}. "
            f"{_verdict(_kid_within_noise(a, b))}")
