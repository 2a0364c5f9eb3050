"""CMMD's estimator (ddpm_bench.metrics.cmmd) calibrated on synthetic embeddings with known answers: L2-normalised
Gaussians in D = 8, as CLIP's embeddings are normalised, 200 trials each with fixed seeds. The reference is a fixed
set of 500 embeddings, as a sweep's is, so the true CMMD of a distribution P is that against this set: E k(x, x')
over P, the reference's own kernel mean, and E k(x, y_j) over P and the set, the expectations over P taken from
10,000 draws.

CMMD comes with the ``clip`` backbone, so its calibration (a minute of numpy) runs with the plugin's tests in tox's
``backbones`` environment, and is skipped where the plugin is not installed: the core suite keeps its runtime."""

import os

import numpy as np
import pytest

if not os.environ.get("DDPM_BENCH_REQUIRE_BACKBONES"):
    pytest.importorskip("ddpm_bench_backbones")

from ddpm_bench.metrics.cmmd import KERNEL, SCALE, CmmdPoint, cmmd_difference, cmmd_scores
from ddpm_bench.stats import BOOTSTRAP, JACKKNIFE, PointFeatures, Reference, mmd

D, N, TRIALS, REPLICATES = 8, 200, 200, 200
SHIFT = np.r_[1.5, np.zeros(D - 1)]  # moves the embeddings' directions: a CMMD of about 1.9 against the reference


def embeddings(rng, n=N, shift=0.0):
    x = rng.normal(size=(n, D)) + shift
    return x / np.linalg.norm(x, axis=1, keepdims=True)


REFERENCE_FEATURES = embeddings(np.random.default_rng(7), 500)
REMEMBERED: dict = {}


def remember(name, compute):
    """The reference's kernel mean computed once, as a sweep's disk cache keeps it."""
    if name not in REMEMBERED:
        REMEMBERED[name] = compute()
    return REMEMBERED[name]


REFERENCE = Reference(REFERENCE_FEATURES.mean(0), np.cov(REFERENCE_FEATURES, rowvar=False), REFERENCE_FEATURES,
                      remember)


def rate(hits):
    return sum(hits) / len(hits)


def true_cmmd(shift) -> float:
    """1,000 MMD^2 of the distribution against the fixed reference set, its expectations over 10,000 draws."""
    rng = np.random.default_rng(99)
    blocks = [embeddings(rng, 2500, shift) for _ in range(4)]
    pairs = [KERNEL(a, b) for i, a in enumerate(blocks) for b in blocks[i + 1 :]]
    kxx = np.mean([k.mean() for k in pairs])  # pairs of distinct draws only
    kxy = np.mean([KERNEL(block, REFERENCE_FEATURES).mean() for block in blocks])
    k = KERNEL(REFERENCE_FEATURES, REFERENCE_FEATURES)
    kyy = (k.sum() - np.trace(k)) / (len(k) * (len(k) - 1))
    return SCALE * (kxx + kyy - 2 * kxy)


@pytest.fixture(scope="module")
def truths():
    return {"null": true_cmmd(0.0), "shifted": true_cmmd(SHIFT)}


def test_the_estimator_is_unbiased_where_the_authors_biased_one_is_not(truths):
    """The authors' code averages k over every pair, k(x, x) = 1 included: above the truth by about
    1,000 (1 - E k(x, x')) (1/N + 1/M) for N samples against M reference embeddings."""
    unbiased, biased = [], []
    kyy = KERNEL(REFERENCE_FEATURES, REFERENCE_FEATURES).mean()
    for trial in range(TRIALS):
        x = embeddings(np.random.default_rng(50_000 + trial))
        unbiased.append(CmmdPoint(PointFeatures(x, REFERENCE)).at_n)
        biased.append(SCALE * (KERNEL(x, x).mean() + kyy - 2 * KERNEL(x, REFERENCE_FEATURES).mean()))
    spread = np.std(unbiased) / np.sqrt(TRIALS)
    # the truth's own Monte Carlo error is about twice ``spread`` (pairs among 10,000 draws against 200 x 200)
    assert abs(np.mean(unbiased) - truths["null"]) < 3 * np.sqrt(1 + 2 ** 2) * spread, (np.mean(unbiased), spread)
    assert np.mean(biased) - truths["null"] > 20 * spread


def test_the_value_at_n_is_the_statistics_packages_mmd_with_the_gaussian_kernel_by_either_method():
    x = embeddings(np.random.default_rng(1))
    expected = SCALE * mmd(x, REFERENCE_FEATURES, KERNEL)
    for method in (BOOTSTRAP, JACKKNIFE):
        assert CmmdPoint(PointFeatures(x, REFERENCE, method=method)).at_n == pytest.approx(expected, abs=1e-4)


@pytest.mark.parametrize("method", [BOOTSTRAP, JACKKNIFE])
def test_a_point_interval_covers_the_true_cmmd_at_the_stated_rate_and_a_shift_excludes_zero(truths, method):
    hits, excluded = [], []
    for trial in range(TRIALS):
        x = embeddings(np.random.default_rng(60_000 + trial), shift=SHIFT)
        point = cmmd_scores(PointFeatures(x, REFERENCE, method=method), replicates=REPLICATES, seed=trial)
        hits.append(point["cmmd_low"] <= truths["shifted"] <= point["cmmd_high"])
        excluded.append(point["cmmd_low"] > 0)
        assert point["cmmd_low"] <= point["cmmd_estimate"] <= point["cmmd_high"]
    assert 0.90 <= rate(hits) <= 0.99, rate(hits)
    assert rate(excluded) == 1.0


@pytest.mark.parametrize("method", [BOOTSTRAP, JACKKNIFE])
def test_null_differences_cover_zero_at_the_stated_rate_paired_and_unpaired(method):
    paired_hits, unpaired_hits, widths = [], [], []
    for trial in range(TRIALS):
        rng = np.random.default_rng(70_000 + trial)
        raw = rng.normal(size=(N, D))
        twin = 0.9 * raw + np.sqrt(1 - 0.9 ** 2) * rng.normal(size=(N, D))  # sample i close to a_i (one x_T)
        a = PointFeatures(raw / np.linalg.norm(raw, axis=1, keepdims=True), REFERENCE, method=method)
        b = PointFeatures(twin / np.linalg.norm(twin, axis=1, keepdims=True), REFERENCE, method=method)
        c = PointFeatures(embeddings(rng), REFERENCE, method=method)
        paired = cmmd_difference(a, b, ("a", "b"), paired=True, replicates=REPLICATES, seed=trial)
        unpaired = cmmd_difference(a, c, ("a", "c"), paired=False, replicates=REPLICATES, seed=trial)
        twin_unpaired = cmmd_difference(a, b, ("a", "b"), paired=False, replicates=REPLICATES, seed=trial)
        assert paired.metric == "cmmd" and paired.paired and not unpaired.paired
        paired_hits.append(paired.low <= 0 <= paired.high)
        unpaired_hits.append(unpaired.low <= 0 <= unpaired.high)
        widths.append(paired.width / twin_unpaired.width)
    # conservative (paired 0.995, unpaired 0.99 by the bootstrap; 0.975, 0.995 by the jackknife): between two samples
    # of one distribution the difference of their MMDs is nearly a degenerate U-statistic, whose spread resampling
    # overstates; never below the stated rate
    assert 0.90 <= rate(paired_hits), rate(paired_hits)
    assert 0.90 <= rate(unpaired_hits), rate(unpaired_hits)
    assert np.median(widths) < 0.6, np.median(widths)  # what the shared x_T buys


@pytest.mark.parametrize("method", [BOOTSTRAP, JACKKNIFE])
def test_a_known_shift_between_points_is_covered_and_found(truths, method):
    truth = truths["null"] - truths["shifted"]
    hits, found = [], []
    for trial in range(TRIALS):
        rng = np.random.default_rng(80_000 + trial)
        a = PointFeatures(embeddings(rng), REFERENCE, method=method)
        s = PointFeatures(embeddings(rng, shift=SHIFT), REFERENCE, method=method)
        difference = cmmd_difference(a, s, ("a", "s"), paired=False, replicates=REPLICATES, seed=trial)
        assert difference.method == method
        hits.append(difference.low <= truth <= difference.high)
        found.append(difference.verdict == "a better")
    assert 0.90 <= rate(hits) <= 0.99, rate(hits)
    assert rate(found) == 1.0


def test_no_reference_features_no_cmmd():
    imported = Reference(np.zeros(D), np.eye(D))
    assert cmmd_scores(PointFeatures(embeddings(np.random.default_rng(0)), imported)) == {}
