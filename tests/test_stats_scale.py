"""The statistics at scale (issue 33): the grouped jackknife's calibration on Gaussians of known Frechet distance
where regime.py picks it (D = 128 beyond N = 10,000; D = 2,048), kernel sums in tiles, memory checked before it is
taken, and a sweep that keeps its record when the statistics do not fit."""

import subprocess
import sys
import textwrap
from types import SimpleNamespace

import numpy as np
import pytest

from ddpm_bench.errors import BenchError
from ddpm_bench.runs.scoring import STATISTICS_ERROR, Scoring
from ddpm_bench.stats import (
    JACKKNIFE,
    Gaussian,
    PointFeatures,
    Polynomial,
    Reference,
    compare,
    compute,
    mmd,
    point_intervals,
)

D, N, TRIALS = 128, 5_120, 200  # the jackknife at N = 40 D, chosen here: its regime starts beyond N = 10,000
POPULATION = Reference(np.zeros(D), np.eye(D))  # the reference is the population: true Frechet distances are exact
SHIFT = 0.04  # N(SHIFT, I): Frechet distance D SHIFT^2 = 0.2048


def rate(hits) -> float:
    return sum(hits) / len(hits)


@pytest.fixture(scope="module")
def trials():
    """Per trial: a point of N(SHIFT, I), and paired and unpaired differences of near-equal samplers (b's mean
    SHIFT + 0.002, so FD(a) - FD(b) = -D (0.042^2 - 0.04^2) = -0.0210), b's sample i close to a's."""
    out = []
    for trial in range(TRIALS):
        rng = np.random.default_rng(70_000 + trial)
        noise = rng.standard_normal((N, D), dtype=np.float32)
        a = SHIFT + noise
        b = SHIFT + 0.002 + 0.9 * noise + np.float32(np.sqrt(0.19)) * rng.standard_normal((N, D), dtype=np.float32)
        c = SHIFT + 0.002 + rng.standard_normal((N, D), dtype=np.float32)
        A = PointFeatures(a, POPULATION, method=JACKKNIFE)
        (paired,) = compare(A, PointFeatures(b, POPULATION, method=JACKKNIFE), ("a", "b"), paired=True)
        (unpaired,) = compare(A, PointFeatures(c, POPULATION, method=JACKKNIFE), ("a", "c"), paired=False)
        out.append((point_intervals(A), paired, unpaired))
    return out


def test_the_jackknife_covers_the_frechet_distance_at_the_stated_rate(trials):
    point, *_ = trials[0]
    assert point["interval_method"] == "jackknife"
    coverage = rate([p["fid_low"] <= D * SHIFT ** 2 <= p["fid_high"] for p, *_ in trials])
    assert 0.92 <= coverage <= 0.99, coverage
    assert np.mean([p["fid"] for p, *_ in trials]) > 1.5 * D * SHIFT ** 2  # FID at N overshoots


@pytest.mark.parametrize("which", [1, 2])
def test_near_equal_samplers_are_covered_and_rarely_claimed_as_good(trials, which):
    """A worse sampler b claimed as good as a or better (its interval's upper end below the true difference) at most
    about 2.5 % of the time, paired and unpaired; the paired interval narrower."""
    truth = -D * ((SHIFT + 0.002) ** 2 - SHIFT ** 2)
    differences = [row[which] for row in trials]
    assert 0.92 <= rate([d.low <= truth <= d.high for d in differences]) <= 0.99
    assert rate([d.high < truth for d in differences]) <= 0.05
    if which == 1:
        assert np.median([p.width / u.width for _, p, u in trials]) < 0.6


def test_at_inception_size_the_jackknife_removes_a_bias_forty_times_the_distance():
    """D = 2,048, N = 20,000 (the smoke test; the benchmark goes to 50,000): FID at N is about 57 for a Frechet
    distance of 1.64; the interval covers the distance."""
    d, n = 2048, 20_000
    population = Reference(np.zeros(d), np.eye(d))
    truth = d * 0.02 ** 2 + d * 0.02 ** 2  # mean 0.02, scale 1.02
    rng = np.random.default_rng(80_000)  # one trial: about 10 s; the second-order correction is what covers here
    x = rng.standard_normal((n, d), dtype=np.float32) * np.float32(1.02) + np.float32(0.02)
    point = point_intervals(PointFeatures(x, population, with_kid=False))
    assert point["fid"] > 30 * truth
    assert point["fid_low"] <= truth <= point["fid_high"], point


def test_kernel_sums_in_tiles_equal_the_whole_matrix(monkeypatch):
    monkeypatch.setattr(compute, "TILE", 7)  # many ragged tiles
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(50, 6)), rng.normal(0.2, 1.0, size=(40, 6))
    for kernel in (Polynomial.for_kid(6), Gaussian(2.0)):
        kxx, kyy, kxy = kernel(x, x), kernel(y, y), kernel(x, y)
        whole = ((kxx.sum() - np.trace(kxx)) / (50 * 49) + (kyy.sum() - np.trace(kyy)) / (40 * 39)
                 - 2 * kxy.mean())
        assert mmd(x, y, kernel) == pytest.approx(whole, rel=1e-5)


def test_kid_at_large_n_through_the_public_api_runs_in_bounded_memory():
    """N = 40,000 samples and a reference of 40,000: the N x N kernel KID once built (12.8 GB in float64, and a
    float32 product of 30,000 x 30,000 or more crashes OpenBLAS here) is summed in tiles; in a process limited to
    3 GiB of address space."""
    script = textwrap.dedent("""
        import resource
        resource.setrlimit(resource.RLIMIT_AS, (3 * 2 ** 30, 3 * 2 ** 30))
        import numpy as np
        from ddpm_bench.stats import PointFeatures, Reference, point_intervals
        rng = np.random.default_rng(0)
        reference = rng.standard_normal((40_000, 16), dtype=np.float32)
        x = rng.standard_normal((40_000, 16), dtype=np.float32) + np.float32(0.05)
        point = point_intervals(PointFeatures(x, Reference(np.zeros(16), np.eye(16), reference)))
        assert point["interval_method"] == "jackknife"
        assert point["kid_low"] <= point["kid_estimate"] <= point["kid_high"] and point["kid_high"] > 0
        print("ok", point["kid"])
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and result.stdout.startswith("ok"), result.stderr[-2000:]


def test_what_does_not_fit_is_an_error_saying_so_and_the_sweep_keeps_its_record(monkeypatch):
    monkeypatch.setattr(compute, "available_memory", lambda: 10_000)
    x = np.random.default_rng(0).normal(size=(300, 4))
    with pytest.raises(BenchError, match="do not fit in memory: the bootstrap's"):
        point_intervals(PointFeatures(x, Reference(np.zeros(4), np.eye(4))))
    scoring = SimpleNamespace(stats_reference=Reference(np.zeros(4), np.eye(4)), backbone=object(), manifold=None)
    record = Scoring.feature_statistics(scoring, x)
    assert "fid" not in record and "did not fit" in record[STATISTICS_ERROR]
    assert "ddpm-bench compare" in record[STATISTICS_ERROR] and "statistics_seconds" in record


def test_below_four_times_d_a_jackknife_interval_reaches_the_fid_at_n():
    """N < 4 D: the extrapolation in 1/N is not trusted (here it lands far above the distance), and the interval runs
    from 0 to FID at N (plus the half-width), an upper bound of the distance in expectation; the estimate inside."""
    d, n = 64, 128
    x = np.random.default_rng(5).normal(0.05, 1.0, size=(n, d))
    point = point_intervals(PointFeatures(x, Reference(np.zeros(d), np.eye(d)), method="jackknife"))
    assert point["fid_high"] > point["fid"] and point["fid_low"] <= point["fid_estimate"] <= point["fid_high"]
    assert point["fid_low"] == 0 < d * 0.05 ** 2 < point["fid_high"]
