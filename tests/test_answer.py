"""The one decision rule and the answer per time budget built from it: verdicts against 0 and a margin, the
intersection-union answer on hand-made intervals whose answer is known, and the rule's error rate calibrated on
synthetic paired features whose true Frechet distances are known."""

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from ddpm_bench.stats import PointFeatures, Reference, compare
from ddpm_bench.verdicts import Margin, answer, answer_data, verdict
from ddpm_bench.verdicts.rule import AS_GOOD, BETTER, UNDECIDED, WORSE, WORSE_BEYOND, WORSE_WITHIN


@pytest.mark.parametrize("low, high, expected", [
    (-0.5, -0.1, BETTER), (-0.5, 0.2, AS_GOOD), (0.05, 0.2, WORSE_WITHIN), (0.1, 0.6, WORSE),
    (0.4, 0.6, WORSE_BEYOND), (-0.5, 0.6, UNDECIDED), (-0.5, 0.3, AS_GOOD),
])
def test_each_verdict_reads_the_interval_against_zero_and_the_margin(low, high, expected):
    assert verdict(low, high, 0.3) == expected


def test_the_default_margin_is_a_tenth_of_the_reference_estimate_and_says_so():
    margin = Margin.of(None, "pndm:20", 2.0)
    assert margin.value == pytest.approx(0.2) and "pndm:20" in margin.basis
    assert Margin.of(0.5, "pndm:20", 2.0) == Margin(0.5, "set with --margin")


def points(*rows):
    """Points from (scheduler, steps, ms per image, estimate) tuples, with an interval of +-0.5 about each."""
    frame = pd.DataFrame(rows, columns=["scheduler", "steps", "ms", "fid_estimate"])
    return frame.assign(seconds_per_image=frame["ms"] / 1000, nfe=frame["steps"], fid_low=frame["fid_estimate"] - 0.5,
                        fid_high=frame["fid_estimate"] + 0.5).drop(columns="ms")


def judge_with_half_width(width):
    """Intervals of a - b: the estimates' difference +- ``width``."""
    def judge(a, b, _bound):
        difference = a["fid_estimate"] - b["fid_estimate"]
        return SimpleNamespace(difference=difference, low=difference - width, high=difference + width, paired=True,
                               n=256)
    return judge


SWEEP = points(("ddpm", 5, 60, 8.0), ("ddim", 5, 75, 4.0), ("ddim", 10, 120, 1.1), ("pndm", 5, 160, 1.0),
               ("ddim", 20, 220, 0.9))


def labelled(result):
    return [(b["from_ms"], b["answer"]["point"] if b["answer"] else None) for b in answer_data(result)["budgets"]]


def test_the_fastest_point_as_good_as_every_contender_answers_each_budget():
    # half width 0.2, margin 0.5: ddim:10 (1.1) is within 0.5 of pndm:5 and ddim:20 even at its interval's upper end
    result = answer(SWEEP, judge_with_half_width(0.2), Margin(0.5, "given"), 256)
    assert labelled(result) == [(60, "ddpm:5"), (75, "ddim:5"), (120, "ddim:10")]
    top = answer_data(result)["budgets"][-1]
    # the answer is claimed against every other point within the budget: better than the faster ones, as good as
    # pndm:5 and ddim:20
    assert top["up_to_ms"] is None
    assert {c["against"] for c in top["claims"]} == {"ddpm:5", "ddim:5", "pndm:5", "ddim:20"}
    verdicts = {c["against"]: c["verdict"] for c in top["claims"]}
    assert verdicts["ddim:5"] == "better" and verdicts["ddim:20"] == "worse, within the margin"
    assert all(c["high"] <= 0.5 for c in top["claims"]) and answer_data(result)["pick"] == "ddim:10"


def test_a_budget_is_undecided_when_no_point_is_shown_as_good_as_the_contenders():
    # half width 1: ddim:10, pndm:5 and ddim:20 are within 0.2 of each other, none shown within 0.5 of the others
    result = answer(SWEEP, judge_with_half_width(1.0), Margin(0.5, "given"), 256)
    budgets = answer_data(result)["budgets"]
    assert budgets[-1]["answer"] is None and answer_data(result)["pick"] is None
    assert set(budgets[-1]["contenders"]) == {"ddpm:5", "ddim:5", "ddim:10", "pndm:5", "ddim:20"}
    # a point clearly better than every other within its budget answers it: ddim:5 (4.0) against ddpm:5 (8.0)
    assert budgets[1]["answer"]["point"] == "ddim:5"


def test_times_within_the_tolerance_count_as_equal_and_the_lower_estimate_wins():
    close = points(("ddim", 10, 100, 1.2), ("pndm", 5, 105, 1.0))
    result = answer(close, judge_with_half_width(0.1), Margin(0.5, "given"), 256, time_tolerance=0.10)
    assert labelled(result)[-1] == (100, "pndm:5")


def paired_point(rng, z, shift, share):
    """Features sqrt(1 - s^2) z + s e + shift: covariance I whatever s, so the Frechet distance to N(0, I) is
    |shift|^2; a larger ``share`` of z makes two points' samples more alike (paired)."""
    noise = rng.standard_normal(z.shape)
    return np.sqrt(share) * z + np.sqrt(1 - share) * noise + shift


def as_good_rate(true_difference, margin, trials=200, n=400, d=8, seed=0):
    """How often the rule says A is as good as B (the paired interval's upper end at most ``margin``) when FD(A) -
    FD(B) is ``true_difference``."""
    rng = np.random.default_rng(seed)
    reference = Reference(np.zeros(d), np.eye(d))
    base = np.zeros(d)
    base[0] = 1.0  # FD(B) = 1
    shift_a = np.zeros(d)
    shift_a[0] = np.sqrt(1.0 + true_difference)
    claims = 0
    for trial in range(trials):
        z = rng.standard_normal((n, d))
        a = PointFeatures(paired_point(rng, z, shift_a, 0.8), reference, with_kid=False)
        b = PointFeatures(paired_point(rng, z, base, 0.8), reference, with_kid=False)
        fid = compare(a, b, ("a", "b"), paired=True, replicates=200, seed=trial, metrics=("fid",), bound=margin)[0]
        claims += verdict(fid.low, fid.high, margin) in (BETTER, AS_GOOD, WORSE_WITHIN)
    return claims / trials


def test_as_good_as_is_claimed_falsely_at_most_five_percent_of_the_time_and_found_when_true():
    margin = 0.2
    assert as_good_rate(margin, margin) <= 0.05  # A exactly the margin worse: every "as good as" is false
    assert as_good_rate(0.0, margin) >= 0.5  # A as good as B: the claim is made most of the time
