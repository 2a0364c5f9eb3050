"""Adaptive N (adaptive.py) calibrated on synthetic features with known answers: looking at the data several times
must not inflate false verdicts, and a real difference must still be found."""

import numpy as np
import pytest

from ddpm_bench.stats import REPLICATES, PointFeatures, Reference, at_edge, compare
from ddpm_bench.stats.adaptive import (
    MET,
    NOT_MET,
    UNDECIDED,
    decide,
    interval_outcome,
    look_confidence,
    looks_again,
    replicates_for,
    sample_sizes,
)

D, TRIALS = 4, 200
SIZES = [64, 128, 256]
POPULATION = Reference(np.zeros(D), np.eye(D))
MEAN = np.full(D, 0.3)


def twins(rng, n, shift=0.0, rho=0.9):
    """Paired features of two samplers: sample i of both close together (one x_T), b's mean moved by ``shift``."""
    a = MEAN + rng.normal(size=(n, D))
    b = MEAN + shift + rho * (a - MEAN) + np.sqrt(1 - rho**2) * rng.normal(size=(n, D))
    return a, b


def adaptive_comparison(a, b, trial, *, corrected=True):
    """``decide`` over SIZES on the paired FID difference: decided as soon as its interval excludes 0."""
    def test(n, confidence):
        if not corrected:
            confidence = 0.95
        (difference,) = compare(PointFeatures(a[:n], POPULATION), PointFeatures(b[:n], POPULATION), ("a", "b"),
                                paired=True, confidence=confidence, replicates=replicates_for(confidence),
                                seed=trial, metrics=("fid",))
        return UNDECIDED if difference.verdict == "tied" else NOT_MET

    return decide(test, SIZES)


@pytest.fixture(scope="module")
def identical_trials():
    out = []
    for trial in range(TRIALS):
        a, b = twins(np.random.default_rng(20_000 + trial), SIZES[-1])
        out.append((adaptive_comparison(a, b, trial), adaptive_comparison(a, b, trial, corrected=False)))
    return out


def test_identical_samplers_with_adaptive_n_are_called_different_in_at_most_5_percent(identical_trials):
    false_verdicts = np.mean([outcome != UNDECIDED for (outcome, _), _ in identical_trials])
    assert false_verdicts <= 0.05, false_verdicts


def test_three_uncorrected_looks_call_identical_samplers_different_more_often(identical_trials):
    corrected = np.mean([outcome != UNDECIDED for (outcome, _), _ in identical_trials])
    naive = np.mean([outcome != UNDECIDED for _, (outcome, _) in identical_trials])
    assert naive > corrected + 0.02, (naive, corrected)


def test_a_real_difference_is_found_and_stops_early_when_large():
    small, large = [], []
    for trial in range(40):
        rng = np.random.default_rng(30_000 + trial)
        small.append(adaptive_comparison(*twins(rng, SIZES[-1], shift=0.12), trial))
        large.append(adaptive_comparison(*twins(rng, SIZES[-1], shift=0.5), trial))
    assert np.mean([outcome == NOT_MET for outcome, _ in small]) >= 0.8
    assert all(outcome == NOT_MET and n == SIZES[0] for outcome, n in large)
    assert np.mean([n for _, n in small]) > SIZES[0]  # smaller differences needed more samples


def test_sample_sizes_double_up_to_the_largest():
    assert sample_sizes(256, 1024) == [256, 512, 1024]
    assert sample_sizes(256, 1000) == [256, 512, 1000]
    assert sample_sizes(100, 100) == [100]
    with pytest.raises(ValueError):
        sample_sizes(512, 256)


def test_looks_share_the_error_rate_and_intervals_keep_replicates_in_their_tails():
    assert look_confidence(3) == pytest.approx(1 - 0.05 / 3)
    assert replicates_for(0.95) == REPLICATES == 300  # a look at 95 % is the point's own interval
    assert replicates_for(look_confidence(3)) == 900


def test_a_verdict_is_at_the_edge_when_the_bound_is_within_two_monte_carlo_errors_of_an_end():
    assert at_edge(-0.1, 0.239, 0.24, 0.01, 0.01)  # met by 0.001, the end's error 0.01
    assert at_edge(0.25, 0.6, 0.24, 0.02, 0.0)  # not met by 0.01: the low end's error decides
    assert not at_edge(-0.1, 0.2, 0.24, 0.01, 0.01)  # 4 errors away
    assert not at_edge(0.0, 0.0, 1e-3, 0.0, 0.0)  # a point matched with itself: no Monte Carlo error


def test_interval_outcome_needs_the_whole_interval_on_one_side():
    assert interval_outcome(1.0, 2.0, 2.0) == MET
    assert interval_outcome(2.1, 3.0, 2.0) == NOT_MET
    assert interval_outcome(1.5, 2.5, 2.0) == UNDECIDED


def test_a_verdict_at_the_edge_is_looked_at_again_only_while_a_larger_n_remains():
    assert looks_again(True, 64, SIZES) and looks_again(True, 128, SIZES)
    assert not looks_again(True, 256, SIZES) and not looks_again(False, 64, SIZES)
