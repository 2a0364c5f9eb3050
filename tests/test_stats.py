"""Calibration of the intervals on synthetic features with known answers (fixed seeds, 200 trials each)."""

import numpy as np
import pytest

from ddpm_bench import stats
from ddpm_bench.stats import REFINE, PointFeatures, Reference, compare, point_intervals

D, N, TRIALS, REPLICATES = 4, 300, 200, 200
POPULATION = Reference(np.zeros(D), np.eye(D))  # the reference is the population N(0, I): true FDs are exact
MEAN = np.full(D, 0.3)  # true FD of N(MEAN, I) to the reference: |MEAN|^2 = 0.36


def gaussian(rng, n=N, mean=MEAN):
    return mean + rng.normal(size=(n, D))


def correlated_twin(rng, a, rho=0.9):
    """Same distribution as ``a``, sample i close to a_i: what one x_T does for two similar samplers."""
    return MEAN + rho * (a - MEAN) + np.sqrt(1 - rho**2) * rng.normal(size=a.shape)


def rate(hits):
    return sum(hits) / len(hits)


@pytest.fixture(scope="module")
def null_trials():
    """For each trial: paired difference of correlated twins, unpaired difference of independent sets, and the
    width of the unpaired interval of the twins (for the width ratios)."""
    out = []
    for trial in range(TRIALS):
        rng = np.random.default_rng(10_000 + trial)
        a = gaussian(rng)
        twin, other = correlated_twin(rng, a), gaussian(rng)
        A = PointFeatures(a, POPULATION)
        (paired,) = compare(
            A, PointFeatures(twin, POPULATION), ("a", "b"), paired=True, replicates=REPLICATES, seed=trial
        )
        (unpaired,) = compare(
            A, PointFeatures(other, POPULATION), ("a", "c"), paired=False, replicates=REPLICATES, seed=trial
        )
        (twin_unpaired,) = compare(
            A, PointFeatures(twin, POPULATION), ("a", "b"), paired=False, replicates=REPLICATES, seed=trial
        )
        (independent_paired,) = compare(
            A, PointFeatures(other, POPULATION), ("a", "c"), paired=True, replicates=REPLICATES, seed=trial
        )
        out.append((paired, unpaired, twin_unpaired, independent_paired))
    return out


def test_same_distribution_paired_contains_zero_at_the_stated_rate(null_trials):
    coverage = rate([p.low <= 0 <= p.high for p, *_ in null_trials])
    assert 0.90 <= coverage <= 0.99, coverage
    assert rate([p.verdict == "tied" for p, *_ in null_trials]) == coverage


def test_same_distribution_unpaired_contains_zero_at_the_stated_rate(null_trials):
    coverage = rate([u.low <= 0 <= u.high for _, u, *_ in null_trials])
    assert 0.90 <= coverage <= 0.99, coverage


def test_paired_intervals_are_narrower_when_pairs_are_correlated_and_no_narrower_when_not(null_trials):
    correlated = np.median([p.width / t.width for p, _, t, _ in null_trials])
    independent = np.median([i.width / u.width for _, u, _, i in null_trials])
    assert correlated < 0.5, correlated           # rho = 0.9: about a third as wide
    assert 0.85 < independent < 1.15, independent  # nothing shared, nothing gained


def test_a_known_shift_is_covered_and_a_large_one_excludes_zero():
    shift = np.full(D, 0.25)  # FD(N(0, I)) - FD(N(shift, I)) = -|shift|^2 = -0.25
    hits, excluded = [], []
    for trial in range(TRIALS):
        rng = np.random.default_rng(20_000 + trial)
        a, s = rng.normal(size=(N, D)), rng.normal(size=(N, D)) + shift
        (d,) = compare(PointFeatures(a, POPULATION), PointFeatures(s, POPULATION), ("a", "s"), paired=False,
                       replicates=REPLICATES, seed=trial)
        hits.append(d.low <= -np.sum(shift**2) <= d.high)
        excluded.append(d.verdict == "a better")
    assert 0.90 <= rate(hits) <= 0.99, rate(hits)
    assert rate(excluded) > 0.95, rate(excluded)


def test_a_point_interval_covers_the_true_frechet_distance_and_the_plain_estimate_is_biased():
    hits, errors = [], []
    for trial in range(TRIALS):
        rng = np.random.default_rng(30_000 + trial)
        point = point_intervals(PointFeatures(gaussian(rng), POPULATION), replicates=REPLICATES, seed=trial)
        hits.append(point["fid_low"] <= 0.36 <= point["fid_high"])
        errors.append(point["fid"] - 0.36)
    assert 0.90 <= rate(hits) <= 0.99, rate(hits)
    assert np.mean(errors) > 0.01  # FID at finite N overshoots (about tr/N); the interval accounts for it


def test_kid_differences_are_calibrated_too():
    rng0 = np.random.default_rng(7)
    reference_features = rng0.normal(size=(1000, D))
    reference = Reference(reference_features.mean(0), np.cov(reference_features, rowvar=False), reference_features)
    paired_hits, unpaired_hits = [], []
    for trial in range(TRIALS):
        rng = np.random.default_rng(40_000 + trial)
        a = gaussian(rng)
        A = PointFeatures(a, reference)
        _, paired = compare(A, PointFeatures(correlated_twin(rng, a), reference), ("a", "b"), paired=True,
                            replicates=REPLICATES, seed=trial)
        _, unpaired = compare(A, PointFeatures(gaussian(rng), reference), ("a", "c"), paired=False,
                              replicates=REPLICATES, seed=trial)
        assert paired.metric == unpaired.metric == "kid"
        paired_hits.append(paired.low <= 0 <= paired.high)
        unpaired_hits.append(unpaired.low <= 0 <= unpaired.high)
    assert 0.90 <= rate(paired_hits) <= 0.99 and 0.90 <= rate(unpaired_hits) <= 0.99


def test_paired_needs_equal_n():
    a = PointFeatures(np.zeros((5, D)) + np.arange(5)[:, None], POPULATION)
    b = PointFeatures(np.zeros((6, D)) + np.arange(6)[:, None], POPULATION)
    with pytest.raises(ValueError, match="equal N"):
        compare(a, b, ("a", "b"), paired=True)


def test_with_n_near_twice_the_dimension_the_intervals_stay_valid_but_wide():
    """The default sweep's regime (N = 256 samples of D = 128 features), scaled down: FID at this N is several times
    the true distance; the intervals still cover it (conservatively), and the null paired difference contains 0."""
    d, n = 32, 64
    population = Reference(np.zeros(d), np.eye(d))
    mean = np.full(d, 0.1)  # true FD 0.32
    point_hits, null_hits, estimates = [], [], []
    for trial in range(60):
        rng = np.random.default_rng(50_000 + trial)
        a = mean + rng.normal(size=(n, d))
        twin = mean + 0.9 * (a - mean) + np.sqrt(0.19) * rng.normal(size=(n, d))
        A = PointFeatures(a, population)
        point = point_intervals(A, replicates=REPLICATES, seed=trial)
        (difference,) = compare(
            A, PointFeatures(twin, population), ("a", "b"), paired=True, replicates=REPLICATES, seed=trial
        )
        point_hits.append(point["fid_low"] <= 0.32 <= point["fid_high"])
        null_hits.append(difference.low <= 0 <= difference.high)
        estimates.append(point["fid"])
        assert point["fid_low"] >= 0
    assert np.mean(estimates) > 3 * 0.32
    assert rate(point_hits) >= 0.95 and rate(null_hits) >= 0.95


def test_fd_infinity_removes_the_finite_n_bias_that_fid_keeps():
    """Chong & Forsyth 2020: on Gaussians of known FD, FID at N = 400 (D = 16) overshoots by about 0.23; the
    extrapolation to 1/N = 0 lands within 0.06 of the truth on average."""
    from ddpm_bench.stats import fd_infinity

    d, n = 16, 400
    population = Reference(np.zeros(d), np.eye(d))
    mean = np.full(d, 0.15)
    true = float(np.sum(mean**2))  # 0.36
    fid_errors, infinity_errors = [], []
    for trial in range(20):
        point = PointFeatures(mean + np.random.default_rng(60_000 + trial).normal(size=(n, d)), population)
        fid_errors.append(point.estimates()["fid"] - true)
        infinity_errors.append(fd_infinity(point, seed=trial)["fd_infinity"] - true)
    assert np.mean(fid_errors) > 0.15
    assert abs(np.mean(infinity_errors)) < 0.06


def test_a_subset_given_as_0_1_weights_scores_the_fid_of_that_subset_alone():
    """FD-infinity scores its subsets as weight rows of the whole point in one batch; each must be the subset's FID."""
    d, n = 8, 60
    rng = np.random.default_rng(3)
    reference = Reference(rng.normal(size=d), np.cov(rng.normal(size=(500, d)), rowvar=False))
    x = rng.normal(0.3, 1.1, size=(n, d))
    subsets = [rng.choice(n, size=m, replace=False) for m in (30, 45, 60)]
    weights = np.zeros((len(subsets), n))
    for row, subset in zip(weights, subsets):
        row[subset] = 1.0
    batched = PointFeatures(x, reference, with_kid=False).fid(weights)
    alone = [PointFeatures(x[subset], reference, with_kid=False).estimates()["fid"] for subset in subsets]
    assert np.allclose(batched, alone, rtol=1e-10) and len(set(np.round(alone, 6))) == 3


def test_interval_ends_are_never_below_zero_nor_crossed_when_the_estimate_is_negative():
    # real data against its own population: the unbiased KID falls below 0 about half the time
    rng = np.random.default_rng(7)
    population = rng.normal(size=(400, 4))
    reference = Reference(np.zeros(4), np.eye(4), population)
    negatives = 0
    for _ in range(10):
        point = point_intervals(PointFeatures(rng.normal(size=(60, 4)), reference), replicates=100)
        negatives += point["kid"] < 0
        assert 0 <= point["kid_low"] <= point["kid_high"] and 0 <= point["fid_low"] <= point["fid_high"]
    assert negatives >= 2  # the case that once gave an upper end below the lower one


@pytest.mark.parametrize("replicates", [300, 3000])
def test_the_ends_monte_carlo_error_is_estimated_from_one_bootstrap(replicates):
    """end_noise, from one set of replicates, against the spread of the ends over 40 bootstrap seeds of the same
    samples: within 30 % on average, and smaller with more replicates."""
    rng = np.random.default_rng(7)
    a = gaussian(rng)
    A, B = PointFeatures(a, POPULATION), PointFeatures(correlated_twin(rng, a), POPULATION)
    draws = [compare(A, B, ("a", "b"), paired=True, replicates=replicates, seed=seed, metrics=("fid",), bound=None)[0]
             for seed in range(40)]
    for end in ("low", "high"):
        spread = np.std([getattr(d, end) for d in draws], ddof=1)
        estimated = np.mean([getattr(d, f"{end}_noise") for d in draws])
        assert 0.7 < estimated / spread < 1.4, (end, estimated, spread)  # 1.00 to 1.09 here
    if replicates == 3000:
        assert np.mean([d.high_noise for d in draws]) < 0.02 * (draws[0].high - draws[0].low)


def test_an_interval_at_the_edge_of_its_bound_is_drawn_again_from_more_replicates():
    """A bound within Monte Carlo error of an end: the interval is redrawn from REFINE times the replicates of the same
    seed (what compare gives at that count), and one far from both ends leaves the interval as it was."""
    rng = np.random.default_rng(7)
    a = gaussian(rng)
    A, B = PointFeatures(a, POPULATION), PointFeatures(correlated_twin(rng, a), POPULATION)

    def fid(**options):
        return compare(A, B, ("a", "b"), paired=True, metrics=("fid",), **options)[0]

    plain = fid(bound=None)
    assert fid(bound=plain.high + 10 * plain.high_noise) == plain
    redrawn = fid(bound=plain.high)
    assert redrawn.replicates == REFINE * stats.REPLICATES
    assert redrawn == fid(replicates=REFINE * stats.REPLICATES, bound=None)
    assert redrawn.high_noise < 0.5 * plain.high_noise  # sqrt(10) smaller, give or take the estimate's own error


def test_an_end_without_monte_carlo_error_is_never_at_the_edge():
    """Two labels of one sampler: the paired difference is 0 in every replicate, an exact [0, 0] that no bootstrap seed
    moves, so it is tied, not at the edge, and not drawn again (it was, at 10 times the cost, before)."""
    a = gaussian(np.random.default_rng(7))
    same = compare(PointFeatures(a, POPULATION), PointFeatures(a.copy(), POPULATION), ("a", "b"), paired=True,
                   metrics=("fid",))[0]
    assert (same.low, same.high, same.low_noise, same.high_noise) == (0, 0, 0, 0)
    assert same.verdict == "tied" and not same.at_edge() and same.replicates == stats.REPLICATES
    assert stats.at_edge(-1.0, 0.01, 0.0, 0.1, 0.01)  # 0 one Monte Carlo error from the upper end


def test_redrawing_at_the_edge_settles_verdicts_another_bootstrap_seed_would_flip():
    """A bound 1.5 Monte Carlo errors above the exact bootstrap interval's upper end (30,000 replicates): at 300
    replicates some of 40 bootstrap seeds put the end above it (not met), after redrawing at the edge none does."""
    rng = np.random.default_rng(7)
    a = gaussian(rng)
    A, B = PointFeatures(a, POPULATION), PointFeatures(correlated_twin(rng, a), POPULATION)

    def fid(seed, **options):
        return compare(A, B, ("a", "b"), paired=True, metrics=("fid",), seed=seed, **options)[0]

    exact = fid(0, replicates=30_000, bound=None).high
    bound = exact + 1.5 * fid(0, bound=None).high_noise
    assert sum(fid(seed, bound=None).high > bound for seed in range(40)) >= 1
    assert all(fid(seed, bound=bound).high <= bound for seed in range(40))


# -- one estimand: each interval's estimate lies inside it, beside the value at N ----------------------------------


@pytest.mark.parametrize("method", ["bootstrap", "jackknife"])
def test_every_estimate_lies_inside_its_interval_and_the_value_at_n_is_kept_beside_it(method):
    rng = np.random.default_rng(7)
    population = rng.normal(size=(400, D))
    reference = Reference(np.zeros(D), np.eye(D), population)
    for trial in range(5):
        a = gaussian(rng)
        A, B = PointFeatures(a, reference, method=method), PointFeatures(correlated_twin(rng, a), reference,
                                                                          method=method)
        point = point_intervals(A, replicates=100, seed=trial)
        assert point["interval_method"] == method
        for metric in ("fid", "kid"):
            assert point[f"{metric}_low"] <= point[f"{metric}_estimate"] <= point[f"{metric}_high"], point
        assert point["fid"] == A.estimates()["fid"]
        for difference in compare(A, B, ("a", "b"), paired=True, replicates=100, seed=trial):
            assert difference.low <= difference.difference <= difference.high and difference.method == method
            assert difference.at_n == pytest.approx(A.estimates()[difference.metric] - B.estimates()[difference.metric])
            assert {"at_n", "method"} <= difference.to_dict().keys()


def test_the_method_follows_the_stated_rule():
    """regime.py: the bootstrap where its replicates are affordable (the default sweep, results/n1000: unchanged), the
    jackknife at Inception's D = 2,048 whatever the N, and at D = 128 beyond N = 10,000."""
    assert stats.method_for(256, 128) == stats.method_for(1000, 128) == stats.method_for(10_000, 128) == "bootstrap"
    assert stats.method_for(10_001, 128) == stats.method_for(2_000, 2048) == stats.method_for(50_000, 2048) == (
        "jackknife")


def test_jackknife_ends_are_exact_so_never_at_the_edge():
    """Two labels of one sampler: every pseudo-value of the paired difference is 0, the interval [0, 0]; and a
    jackknife interval has no Monte Carlo error, so no bound is ever at its edge and nothing is redrawn."""
    a = gaussian(np.random.default_rng(7), n=2_000)
    A, B = PointFeatures(a, POPULATION, method="jackknife"), PointFeatures(a.copy(), POPULATION, method="jackknife")
    (same,) = compare(A, B, ("a", "b"), paired=True, metrics=("fid",))
    assert (same.low, same.high, same.difference) == (0, 0, 0) and same.verdict == "tied" and not same.at_edge()
    interval = stats.fid_interval(A, bound=0.36)
    assert interval.low_noise == interval.high_noise == 0 and not interval.at_edge(interval.high)
