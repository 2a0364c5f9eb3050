"""What the DDPM, DDIM and PNDM papers lead one to expect of a sweep, checked against its numbers.

Each check finds its schedulers by plugin name and configuration (``ddim`` with ``eta`` 0, ``ddpm`` with
``variance_type`` ``fixed_large``...), not by the label a user typed, and is left out when the sweep lacks them. Each
paragraph states the expectation with its source, the figures that bear on it, and a verdict: "shown", "not shown",
or "undecided at this N".

A point is better than another only when the 95 % interval of their FID difference excludes 0: the paired interval
of ``ddpm_bench.stats``, which the caller supplies as ``judge`` (``verdicts.StoredPoints.fid_difference``), read by
the one rule (``verdicts.rule.order``). A sweep that kept no
features (recorded by an older ddpm-bench) has no such intervals; its points are judged by KID's standard deviation
over subsets instead, unpaired and cruder, and the paragraph says so.
"""

from __future__ import annotations

from typing import Optional

import pandas as pd

from ddpm_bench.store import records as R
from ddpm_bench.verdicts.rule import Judge, kid_noise, order

LOW_RANGE_NFE = 100  # PNDM paper, Table 1: its gains over DDIM are at 10 to 100 model calls
MANY_STEPS = 100  # a step count at which deterministic samplers of the same ODE should have converged


def expectations(points: pd.DataFrame, judge: Optional[Judge] = None) -> list[str]:
    """One paragraph per check whose schedulers ``points`` (the sweep's finished points) holds; ``judge`` gives the
    FID difference of two points with its interval."""
    evidence = Evidence(judge or (lambda a, b: None))
    by_label = {label: group.set_index(R.STEPS, drop=False).sort_index()
                for label, group in points.groupby(R.SCHEDULER)}
    ddim = _find(by_label, "ddim", eta=0.0)
    ddim_eta_one = _find(by_label, "ddim", eta=1.0)
    ddpm = _find(by_label, "ddpm", variance_type="fixed_small")
    ddpm_large = _find(by_label, "ddpm", variance_type="fixed_large")
    pndm = _find(by_label, "pndm")
    checks = [
        _ddim_beats_ddpm_at_few_steps(evidence, ddim, ddpm),
        _eta_one_is_ddpm(evidence, ddim_eta_one, ddpm),
        _large_variance_fails_at_few_steps(evidence, ddpm_large, ddpm),
        _pndm_beats_ddim_at_equal_calls(evidence, pndm, ddim),
        _deterministic_samplers_meet(evidence, ddim, pndm),
    ]
    return [check for check in checks if check]


def _find(by_label: dict, scheduler_name: str, **options) -> Optional[pd.DataFrame]:
    """The points of the scheduler ``scheduler_name`` configured with ``options`` (the shortest label if several)."""
    matches = []
    for label, group in by_label.items():
        first = group.iloc[0]
        config = first.get(R.SCHEDULER_CONFIG)
        if first.get(R.SCHEDULER_NAME) == scheduler_name and isinstance(config, dict):
            if all(config.get(key) == value for key, value in options.items()):
                matches.append(label)
    return by_label[min(matches, key=len)] if matches else None


def _common_steps(a: Optional[pd.DataFrame], b: Optional[pd.DataFrame]) -> list[int]:
    return [] if a is None or b is None else sorted(set(a.index) & set(b.index))


class Evidence:
    """Which of two points is better, and the figures that say so, from ``judge``'s FID interval (or KID's noise)."""

    def __init__(self, judge: Judge):
        self.judge = judge

    def order(self, a, b) -> str:
        """"a better", "b better" or "tied": by the FID interval when there is one, else by KID beyond its noise."""
        return order(self.judge, a, b)

    def evidence(self, a, b) -> str:
        """The FID difference with its interval, else the KID difference with its noise."""
        difference = self.judge(a, b)
        if difference is not None:
            kind = "paired" if difference.paired else "unpaired"
            return (f"FID difference {difference.difference:+.3f}, {kind} 95 % interval [{difference.low:+.3f}, "
                    f"{difference.high:+.3f}]")
        return (f"no stored features, so by KID: difference {abs(a[R.KID] - b[R.KID]):.4f} against its noise "
                f"{kid_noise(a, b):.4f}")

    def versus(self, steps: int, name_a: str, a, name_b: str, b) -> str:
        """``steps`` steps: which is better, or undecided, with the evidence."""
        outcome = {"a better": f"{name_a} better", "b better": f"{name_b} better",
                   "tied": "undecided"}[self.order(a, b)]
        return (f"{steps} steps: {outcome} (FID {name_a} {shown_value(a)} vs {name_b} {shown_value(b)}; "
                f"{self.evidence(a, b)})")


def shown_value(row) -> str:
    """A point's FID as the comparison judges it: the estimate its interval brackets, else (no intervals) at N."""
    value = row.get(R.FID_ESTIMATE)
    return f"{row[R.FID]:.2f} at N" if value is None or value != value else f"{value:.2f}"


def _verdict(holds: bool, undecided: bool = False) -> str:
    if holds:
        return "Shown."
    return "Undecided at this N: the intervals include no difference either way." if undecided else "Not shown."


def _ddim_beats_ddpm_at_few_steps(ev: "Evidence", ddim, ddpm) -> str:
    steps = _common_steps(ddim, ddpm)
    if not steps:
        return ""
    parts = [ev.versus(s, "DDIM", ddim.loc[s], "DDPM", ddpm.loc[s]) for s in steps]
    text = ("DDIM (eta = 0) better than DDPM at few steps, the gap closing as steps grow (DDIM paper, Table 1). "
            "At equal steps: " + "; ".join(parts) + ".")
    first, last = steps[0], steps[-1]
    gap_first = ddpm.loc[first, R.FID] - ddim.loc[first, R.FID]
    gap_last = ddpm.loc[last, R.FID] - ddim.loc[last, R.FID]
    first_order = ev.order(ddim.loc[first], ddpm.loc[first])
    holds = first_order == "a better"
    if len(steps) > 1:
        closing = abs(gap_last) < abs(gap_first) or ev.order(ddim.loc[last], ddpm.loc[last]) == "tied"
        text += (f" The FID gap (DDPM minus DDIM) is {gap_first:.2f} at {first} steps and {gap_last:.2f} at {last}: "
                 f"{'closing' if closing else 'not closing'}.")
        holds = holds and closing
    return f"{text} {_verdict(holds, undecided=first_order == 'tied')}"


def _eta_one_is_ddpm(ev: "Evidence", ddim_eta_one, ddpm) -> str:
    steps = _common_steps(ddim_eta_one, ddpm)
    if not steps:
        return ""
    differences = {s: abs(ddim_eta_one.loc[s, R.FID] - ddpm.loc[s, R.FID]) for s in steps}
    worst = max(differences, key=differences.get)
    tied = sum(ev.order(ddim_eta_one.loc[s], ddpm.loc[s]) == "tied" for s in steps)
    return ("DDIM with eta = 1 is DDPM's sampler with the smaller variance, beta tilde (DDIM paper, eq. 16 and "
            "Section 4.1), so on the same noise the two give the same samples up to round-off. Largest FID difference "
            f"{differences[worst]:.3f} (at {worst} steps: {ev.evidence(ddim_eta_one.loc[worst], ddpm.loc[worst])}); "
            f"no difference shown at {tied} of {len(steps)} step counts. {_verdict(tied == len(steps))}")


def _large_variance_fails_at_few_steps(ev: "Evidence", ddpm_large, ddpm) -> str:
    steps = _common_steps(ddpm_large, ddpm)
    if not steps:
        return ""
    first, last = steps[0], steps[-1]
    text = ("DDPM with the larger variance (beta, `fixed_large`; sigma hat in the DDIM paper) far worse than with "
            "beta tilde at few steps (DDIM paper, Table 1), the two similar at many (DDPM paper, Section 3.2, at "
            f"T = 1000). FID at {first} steps: {ddpm_large.loc[first, R.FID]:.2f} vs {ddpm.loc[first, R.FID]:.2f}")
    first_order = ev.order(ddpm_large.loc[first], ddpm.loc[first])
    text += f" ({ev.evidence(ddpm_large.loc[first], ddpm.loc[first])})"
    holds = first_order == "b better"
    if len(steps) > 1:
        large, small = ddpm_large.loc[last], ddpm.loc[last]
        text += f"; at {last} steps: {large[R.FID]:.2f} vs {small[R.FID]:.2f} ({ev.evidence(large, small)})"
        holds = holds and (last < MANY_STEPS or ev.order(large, small) == "tied")
    return f"{text}. {_verdict(holds, undecided=first_order == 'tied')}"


OUTCOMES = {"a better": "PNDM better", "b better": "DDIM better", "tied": "undecided"}  # PNDM as a, DDIM as b


def _pndm_beats_ddim_at_equal_calls(ev: "Evidence", pndm, ddim) -> str:
    """Each PNDM point against DDIM given at least as many model calls (its smallest step count that makes as many):
    a PNDM point better than that is better than DDIM at equal calls."""
    if pndm is None or ddim is None:
        return ""
    pairs = []
    for _, row in pndm[pndm[R.NFE] <= LOW_RANGE_NFE].iterrows():
        rivals = ddim[ddim[R.NFE] >= row[R.NFE]]
        if len(rivals):
            pairs.append((row, rivals.iloc[0]))
    if not pairs:
        return ""
    orders = [ev.order(p, d) for p, d in pairs]
    text = "; ".join(f"PNDM at {int(p.name)} steps ({int(p[R.NFE])} calls, FID {p[R.FID]:.2f}) vs DDIM at "
                     f"{int(d.name)} steps ({int(d[R.NFE])} calls, FID {d[R.FID]:.2f}): "
                     f"{OUTCOMES[o]} ({ev.evidence(p, d)})"
                     for (p, d), o in zip(pairs, orders))
    wins, losses = orders.count("a better"), orders.count("b better")
    return ("PNDM better than DDIM at equal model calls in the low range (PNDM paper, Table 1). Each PNDM point with "
            f"at most {LOW_RANGE_NFE} calls against DDIM given at least as many calls: {text}. PNDM is better in "
            f"{wins} of {len(pairs)}, worse in {losses}. "
            + _verdict(wins > len(pairs) / 2, undecided=wins == losses == 0))


def _deterministic_samplers_meet(ev: "Evidence", ddim, pndm) -> str:
    steps = [s for s in _common_steps(ddim, pndm) if s >= MANY_STEPS]
    if not steps:
        return ""
    last = steps[-1]
    a, b = ddim.loc[last], pndm.loc[last]
    return ("DDIM (eta = 0) and PNDM integrate the same probability-flow ODE (DDIM paper, Section 4.3; PNDM paper, "
            "Section 3), so at many steps their samples, and scores, should meet. At "
            f"{last} steps: FID DDIM {a[R.FID]:.2f} vs PNDM {b[R.FID]:.2f} ({ev.evidence(a, b)}). "
            f"{_verdict(ev.order(a, b) == 'tied')}")
