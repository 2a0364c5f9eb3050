"""The report's words: what its numbers are and how to read them, and how one value, verdict or target answer is
written, so that the report and the CLI phrase them alike."""

from __future__ import annotations

from typing import Optional

import pandas as pd

from ddpm_bench.store import records as R
from ddpm_bench.verdicts import REFINE, REPLICATES, Difference, chosen_at_edge, ended_out_of_reach, verdict

INTERVALS = (
    "What the intervals estimate: the FID of the sampler's distribution, without the upward bias of a finite N (the "
    "Frechet distance between the sampler's and the reference's feature distributions). The value printed beside "
    "each interval is the same method's estimate of that quantity, so it always lies inside its interval; \"FID at "
    "N\" is the plain N-sample value that papers report, for comparison with them, and lies above it. Intervals: "
    f"95 %, from the basic bootstrap over sample indices with the reference fixed ({REPLICATES} replicates, "
    f"{REFINE * REPLICATES:,} for a comparison whose interval ends within Monte Carlo error of its bound; "
    "ddpm_bench/stats/): resampling repeats samples, which raises FID, and the basic interval subtracts that rise "
    "once more, which removes the bias of finite N to first order. A value or end below 0 is shown as 0."
)
SMALL_N = 4  # N below this many times the feature dimension: the bootstrap's intervals are conservative
TOO_FEW = 2  # N below this many times the feature dimension: the report warns


def intervals_text(n: int, dimension: Optional[int]) -> str:
    """How the intervals were made and what they bracket; with N only a few times the feature dimension D, that
    they are conservative there (tests/test_stats.py calibrates them at N = 2 D)."""
    if dimension is None or not 0 < n < SMALL_N * dimension:
        return INTERVALS
    return (f"{INTERVALS} With N = {n} samples, fewer than {SMALL_N} times the feature dimension D = {dimension}, the "
            "intervals are conservative, so \"undecided\" is answered more often than a larger N would.")


def small_n_warning(n: int, dimension: Optional[int]) -> str:
    """A warning where N is below ``TOO_FEW`` times the feature dimension D: the covariance behind FID is poorly
    determined there, and the calibration of the intervals was not checked (tests/test_stats.py calibrates N >= 2 D)."""
    if dimension is None or not 0 < n < TOO_FEW * dimension:
        return ""
    return (f"**Warning: N = {n} is below twice the feature dimension D = {dimension}.** The feature covariance is "
            "poorly determined with so few samples; the intervals are not calibrated here, and the answer may not "
            f"hold. Use N of at least {TOO_FEW * dimension}.")


NO_FEATURES = ("No point of this sweep kept its features (recorded by an older ddpm-bench, or with --no-features), so "
               "there are no intervals or paired comparisons; run the sweep again into a new folder to get them.")
NO_REFERENCE = ("The points kept their features, but this folder keeps no reference statistics (reference.npz, written "
                "by a newer ddpm-bench), so there are no intervals or paired comparisons here; `ddpm-bench report DIR` "
                "adds them from the statistics cache.")
SUBSET_KID = ("The KID of a point without a KID interval (recorded by an older ddpm-bench) is torchmetrics' mean over "
              "100 random subsets of its samples, not the KID over all N.")

COLUMNS = (
    "FD∞ (Chong & Forsyth 2020) is FID with the finite-N bias removed (FID on subsets of N/2 to N samples, "
    "extrapolated to infinitely many). KID is over all N samples, unbiased. Precision and density (how much of the "
    "samples lies on the real data) and recall and coverage (how much of the real data the samples reach) are "
    "Naeem et al. 2020's k-NN measures (k = 5) in the backbone's feature space: a low FID bought with low diversity "
    "shows as high precision with low recall and coverage. Near copies: the share of samples closer (pixel L2) to "
    "a reference image than any two reference images are to each other."
)

BELOW_THE_FLOOR = (
    "A point below the floor, or a negative KID, is noise, not a better-than-real sampler. The floor is N real "
    "images scored the same way. Samples a little less diverse than real data, or copies of training images, get "
    "a smaller finite-N FID than real data can. KID is unbiased, so when the true value is near 0 about half of its "
    "estimates fall below 0. Judge such points by their intervals and the paired comparisons, not by their order."
)

EDGE_VERDICTS = ("A verdict marked at the edge has its bound (0, or the margin) within the bootstrap's Monte Carlo "
                 f"error of an end of its interval even drawn again from {REFINE} times the replicates: another "
                 "bootstrap seed could call it otherwise, so read it as undecided.")


def verdict_text(difference: Difference, margin: float = 0.0) -> str:
    """The rule's verdict on a - b with ``margin`` (``verdicts.verdict``), flagged when 0 or the margin is within the
    bootstrap's Monte Carlo error of an end (``EDGE_VERDICTS``)."""
    edge = difference.at_edge() or (margin > 0 and difference.at_edge(margin))
    return flagged(verdict(difference.low, difference.high, margin), edge)


def flagged(verdict: str, edge: bool) -> str:
    """A verdict as tables show it: marked when it is at the edge (a Difference's, or one stored in decisions.json)."""
    return verdict + (" (at the edge)" if edge else "")


def point_name(row: pd.Series) -> str:
    """``ddim at 20 steps``."""
    return f"{row[R.SCHEDULER]} at {int(row[R.STEPS])} steps"


def ms_text(row: pd.Series) -> str:
    """``118.3 ms``: the point's time per image."""
    return f"{row[R.SECONDS_PER_IMAGE] * 1000:.1f} ms"


def fid_text(row: pd.Series) -> str:
    interval = ""
    if R.FID_LOW in row and row[R.FID_LOW] == row[R.FID_LOW]:
        interval = f", 95 % interval [{row[R.FID_LOW]:.2f}, {row[R.FID_HIGH]:.2f}]"
    return f"FID {row[R.FID]:.2f}{interval}"


def sample_count_text(frame: pd.DataFrame, fid_n: Optional[int] = None) -> str:
    """N, or its range when points have different N (a target search's adaptive N), and then the N that their FIDs
    are compared at (``fid_n``)."""
    counts = sorted({int(n) for n in R.sampled_points(frame)[R.N].dropna()}) if R.N in frame else []
    if len(counts) > 1:
        compared = (f"; FIDs are over each point's first {fid_n} samples, so that all carry the same finite-N bias"
                    if fid_n is not None else "")
        return f"N = {counts[0]} to {counts[-1]} samples per point (each point's N is in the table{compared})"
    return f"N = {counts[0] if counts else frame.iloc[0].get(R.N)} samples per point"


def edge_note(result: dict) -> str:
    """How the tables mark a scheduler's answer that verdicts at the edge could move (target.fewest_met): one that
    rests on such a verdict, with the fewest steps that met the target clear of the edge (where the answer would be
    should that verdict go the other way), and fewer steps that missed the target at the edge (where it could be)."""
    notes = []
    if chosen_at_edge(result):
        notes.append("at the edge")
        if result["met"] and "firm_steps" in result:  # a target.json from before firm_steps has not got it
            firm = result["firm_steps"]
            notes.append(f"{firm} steps clear of it" if firm is not None else
                         "no step count tried met it clear of the edge")
    if result.get("edge_below") is not None:
        notes.append(f"{result['edge_below']} steps missed it at the edge")
    return f" ({'; '.join(notes)})" if notes else ""


def missed_text(result: dict) -> str:
    """How a scheduler's search ended without meeting the target, before its last step count."""
    return "out of reach at" if ended_out_of_reach(result) else "best tried:"


def look_text(result: dict, matching: bool) -> str:
    """A look's interval, which is what its verdict read (the value at N that target.json keeps beside it is not its
    estimate, so it is not printed)."""
    if result["low"] is None:
        return "failed"
    return f"[{result['low']:+.2f}, {result['high']:+.2f}]" if matching else \
        f"[{result['low']:.2f}, {result['high']:.2f}]"
