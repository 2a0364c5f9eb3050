"""The answer per time budget: for each budget, the fastest point shown as good as every other point within the
budget, or "undecided at this N".

A point A *answers* a budget when it is shown as good as every other point C within it (``rule.verdict``: the upper end
of the 95 % interval of A - C at most the margin; a point shown better than C is as good as it too). This is an
intersection-union test (Berger 1982; Berger & Hsu 1996, "Bioequivalence trials, intersection-union tests and
equivalence confidence sets", Statistical Science 11): the claim "A is as good as each of them" holds only when every
one of its parts does, so with each part at 95 % the whole claim errs at most 5 % of the time, with no correction for
the number of points. A screen that first set aside the points shown worse than the lowest estimate (as the issue that
asked for this answer proposed) would choose the claim's parts from the same data and add its own error (the best
point screened out by chance) to the 5 %; it saves little, since against a clearly worse point A - C comes out
"better" anyway, so there is none. Among the points that answer a budget the fastest is named (times within the time
tolerance count as equal, and then the lower estimate wins). The error rate is per claim: each budget's answer errs at
most 5 % of the time; over a list of several budgets the chance that some answer is wrong is larger, and the report
says so.

Budgets are the points' own times: the budget list opens at the fastest point and each point's time opens the next
budget (a point up to the time tolerance slower joins it); consecutive budgets with the same answer are merged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional

import pandas as pd

from ddpm_bench.stats import CONFIDENCE, Difference
from ddpm_bench.store import records as R
from ddpm_bench.verdicts.rule import AS_GOOD_VERDICTS, TIME_TOLERANCE, UNDECIDED, Margin, verdict

# two points -> their Frechet-distance difference with its interval (paired where they pair), or None; ``bound``: the
# value the verdict reads the interval against (the margin), where an interval at its edge is drawn again
Judge = Callable[[pd.Series, pd.Series, float], Optional[Difference]]


@dataclass(frozen=True)
class Claim:
    """The answer against one contender: the interval of answer - contender and its verdict."""

    contender: pd.Series
    difference: Difference
    verdict: str


@dataclass(frozen=True)
class Budget:
    """One budget range of the answer: from ``start`` seconds per image up to ``end`` (None: upward), the chosen
    point (None: undecided at this N), the points within the budget (``contenders``), and its claims against them."""

    start: float
    end: Optional[float]
    choice: Optional[pd.Series]
    contenders: list[pd.Series]
    claims: list[Claim] = field(default_factory=list)

    def same_answer(self, other: "Budget") -> bool:
        """Whether both budgets chose the same point, or both are undecided."""
        if self.choice is None or other.choice is None:
            return self.choice is None and other.choice is None
        return R.record_label(self.choice) == R.record_label(other.choice)


@dataclass(frozen=True)
class Answer:
    """The answer per budget at one N, with the margin it was read against."""

    budgets: list[Budget]
    margin: Margin
    n: int
    time_tolerance: float

    @property
    def top(self) -> Budget:
        """The answer without a time limit: the best quality."""
        return self.budgets[-1]


def estimate(row: pd.Series) -> float:
    """The point's estimate of the Frechet distance of its distribution (the value its interval brackets)."""
    return float(row[R.FID_ESTIMATE])


def within_budget(points: pd.DataFrame, seconds: float, time_tolerance: float) -> list[pd.Series]:
    return [row for _, row in points.iterrows() if row[R.SECONDS_PER_IMAGE] <= seconds * (1 + time_tolerance)]


def judged(judge: Judge, a: pd.Series, b: pd.Series, margin: float) -> Difference:
    difference = judge(a, b, margin)
    if difference is None:
        raise ValueError(f"no interval for {R.record_label(a)} - {R.record_label(b)}")
    return difference


def budget_answer(rows: list[pd.Series], judge: Judge, margin: Margin, time_tolerance: float,
                  start: float, end: Optional[float]) -> Budget:
    """The answer within one budget (``rows``: the points within it), as the module docstring says."""
    contenders = sorted(rows, key=estimate)
    qualifying = []
    for candidate in rows:
        claims = [Claim(c, d, verdict(d.low, d.high, margin.value))
                  for c in contenders if c is not candidate
                  for d in [judged(judge, candidate, c, margin.value)]]
        if all(claim.verdict in AS_GOOD_VERDICTS for claim in claims):
            qualifying.append((candidate, claims))
    if not qualifying:
        return Budget(start, end, None, contenders)
    fastest = min(row[R.SECONDS_PER_IMAGE] for row, _ in qualifying)
    level = [(row, claims) for row, claims in qualifying
             if row[R.SECONDS_PER_IMAGE] <= fastest * (1 + time_tolerance)]
    choice, claims = min(level, key=lambda item: estimate(item[0]))
    return Budget(start, end, choice, contenders, claims)


def answer(points: pd.DataFrame, judge: Judge, margin: Margin, n: int,
           time_tolerance: float = TIME_TOLERANCE) -> Answer:
    """The answer for every budget that ``points`` (finished points with estimates, at one N) open, merged where
    consecutive budgets give the same answer."""
    times = sorted(points[R.SECONDS_PER_IMAGE].unique())
    budgets: list[Budget] = []
    for i, seconds in enumerate(times):
        end = times[i + 1] if i + 1 < len(times) else None
        current = budget_answer(within_budget(points, seconds, time_tolerance), judge, margin, time_tolerance,
                                seconds, end)
        if budgets and budgets[-1].same_answer(current):
            previous = budgets[-1]
            budgets[-1] = Budget(previous.start, end, current.choice, current.contenders, current.claims)
        else:
            budgets.append(current)
    return Answer(budgets, margin, n, time_tolerance)


def reference_point(points: pd.DataFrame) -> pd.Series:
    """The point the default margin is a fraction of: the lowest estimate."""
    return points.loc[points[R.FID_ESTIMATE].astype(float).idxmin()]


def claim_data(claim: Claim) -> dict:
    d = claim.difference
    return {"against": R.record_label(claim.contender), "difference": d.difference, "low": d.low, "high": d.high,
            "paired": d.paired, "n": d.n, "verdict": claim.verdict}


def point_data(row: pd.Series) -> dict:
    """A point as the answer names it: label, cost, and its estimate with the interval that brackets it."""
    return {"point": R.record_label(row), "scheduler": row[R.SCHEDULER], "steps": int(row[R.STEPS]),
            "nfe": int(row[R.NFE]), "ms_per_image": float(row[R.SECONDS_PER_IMAGE]) * 1000, "value": estimate(row),
            "low": float(row[R.FID_LOW]), "high": float(row[R.FID_HIGH])}


def answer_data(result: Answer) -> dict:
    """The answer as data (``ddpm-bench report DIR --json``): what the report's first screen says, budget by budget."""
    budgets = []
    for budget in result.budgets:
        budgets.append({
            "from_ms": budget.start * 1000, "up_to_ms": None if budget.end is None else budget.end * 1000,
            "answer": None if budget.choice is None else point_data(budget.choice),
            "verdict": UNDECIDED if budget.choice is None else "as good as every contender",
            "contenders": [R.record_label(c) for c in budget.contenders],
            "claims": [claim_data(claim) for claim in budget.claims]})
    top = result.top.choice
    return {"n": result.n, "margin": {"value": result.margin.value, "basis": result.margin.basis},
            "confidence": CONFIDENCE, "error_rate": "per claim: each budget's answer errs at most 5 % of the time",
            "time_tolerance": result.time_tolerance, "pick": None if top is None else R.record_label(top),
            "budgets": budgets}
