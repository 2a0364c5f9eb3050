"""Intervals of a point's FID and KID and of the difference between two points, by the method regime.py picks.

One estimand whatever the method: the metric of the sampler's distribution against the reference (the Frechet
distance between the two Gaussians for FID, the MMD^2 for KID), not its expectation at the N drawn. Each interval
comes with that method's estimate of it, which always lies inside: the bootstrap's ``2 T - median(replicates)``
(bootstrap.py), the jackknife's bias-corrected mean of pseudo-values (jackknife.py). The plug-in value at N (``fid``,
``kid``, ``Difference.at_n``) is kept beside it, labelled, for comparison with papers, which report FID at N.
A squared distance is never negative, so a point's ends and estimate below 0 are raised to 0 (coverage is kept).
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from typing import Optional

import numpy as np

from ddpm_bench.stats import jackknife
from ddpm_bench.stats.bootstrap import (
    CONFIDENCE,
    Interval,
    PointFeatures,
    at_edge,
    basic_interval,
    bootstrap_weights,
    decisive_interval,
    end_noise,
)
from ddpm_bench.stats.regime import BOOTSTRAP, JACKKNIFE, REPLICATES


def jackknife_interval(values: jackknife.Jackknifed, confidence: float) -> Interval:
    """The jackknife's interval as an ``Interval``: exact ends (no Monte Carlo error), never at the edge."""
    estimate, low, high = jackknife.interval(values, confidence)
    return Interval(low, high, 0.0, 0.0, len(values.leave_out), estimate, JACKKNIFE)


def fid_interval(point: PointFeatures, *, replicates: int = REPLICATES, seed: int = 0,
                 confidence: float = CONFIDENCE, bound: Optional[float] = None) -> Interval:
    """The interval of the point's FID, not clipped; ``bound``: the FID it will be read against (a target), where a
    bootstrap interval is drawn again with more replicates when at its edge (``decisive_interval``)."""
    if point.method == JACKKNIFE:
        values = point.fid_jackknife
        interval = jackknife_interval(values, confidence)
        if point.n >= jackknife.TRUSTED_RATIO * point.d:
            return interval
        # FID's bias is no low-degree polynomial in 1/N here, and the extrapolation may land on either side: the
        # interval runs from 0 to FID at N (an upper bound in expectation, its bias being upward) plus the half-width
        return dataclasses.replace(interval, low=min(interval.low, 0.0),
                                   high=max(interval.high, values.full + (interval.high - interval.low) / 2))

    def replicates_of(count: int) -> np.ndarray:
        return point.fid(bootstrap_weights(point.n, count, np.random.default_rng(seed)))

    return decisive_interval(point.estimates()["fid"], replicates_of, replicates, confidence, bound)


def kid_interval(point: PointFeatures, replicates: int, seed: int, confidence: float) -> Optional[Interval]:
    """The interval of the point's KID, not clipped (None without reference features)."""
    if not point.with_kid:
        return None
    if point.method == JACKKNIFE:
        return jackknife_interval(point.kid_jackknife, confidence)
    estimate = point.estimates()["kid"]
    values = point.kid(bootstrap_weights(point.n, replicates, np.random.default_rng(seed)))
    return Interval(*basic_interval(estimate, values, confidence), *end_noise(values, confidence), replicates,
                    float(2 * estimate - np.median(values)))


def point_intervals(point: PointFeatures, *, replicates: int = REPLICATES, seed: int = 0,
                    confidence: float = CONFIDENCE) -> dict:
    """FID and KID of one point at N (``fid``, ``kid``), the estimate of each metric of the sampler's distribution
    (``fid_estimate``, ``kid_estimate``) and its interval (``fid_low``/``fid_high``, ``kid_low``/``kid_high``), the
    ends' Monte Carlo error (0 for the jackknife) and the method (``interval_method``). ``confidence`` above 95 %
    serves adaptive N (adaptive.py), which splits its error rate over several looks. Calibration (tests/test_stats.py,
    tests/test_stats_scale.py): at the stated rate when N is large against the feature dimension D; conservative
    (wider than needed) when N is near 2 D, as in the default sweep (N = 256, D = 128)."""
    estimate = point.estimates()
    fid = fid_interval(point, replicates=replicates, seed=seed, confidence=confidence)
    kid = kid_interval(point, replicates, seed, confidence)
    return {"fid": estimate["fid"], "fid_estimate": max(0.0, fid.estimate), "fid_low": max(0.0, fid.low),
            "fid_high": max(0.0, fid.high), "fid_low_noise": fid.low_noise, "fid_high_noise": fid.high_noise,
            "kid": estimate["kid"], "kid_estimate": None if kid is None else max(0.0, kid.estimate),
            "kid_low": None if kid is None else max(0.0, kid.low),
            "kid_high": None if kid is None else max(0.0, kid.high), "interval_method": point.method}


@dataclass(frozen=True)
class Difference:
    """metric(a) - metric(b): the estimate of the difference between the samplers' metrics (``difference``, inside
    the interval), its interval, the plain difference of the two values at N (``at_n``), and what it says."""

    a: str
    b: str
    metric: str
    difference: float
    low: float
    high: float
    paired: bool
    n: int
    low_noise: float = 0.0  # the Monte Carlo standard deviation of each end (end_noise; 0 for the jackknife)
    high_noise: float = 0.0
    replicates: int = REPLICATES  # the jackknife: its blocks
    at_n: Optional[float] = None
    method: str = BOOTSTRAP

    @property
    def verdict(self) -> str:
        if self.high < 0:
            return "a better"
        if self.low > 0:
            return "b better"
        return "tied"

    def at_edge(self, bound: float = 0.0) -> bool:
        """Whether ``bound`` (0: the verdict's) lies within Monte Carlo error of an end even after the interval was
        drawn again: a verdict against it could go either way with another bootstrap seed (never for the jackknife,
        whose ends are exact)."""
        return at_edge(self.low, self.high, bound, self.low_noise, self.high_noise)

    @property
    def width(self) -> float:
        return self.high - self.low

    def to_dict(self) -> dict:
        return {"a": self.a, "b": self.b, "metric": self.metric, "difference": self.difference, "at_n": self.at_n,
                "low": self.low, "high": self.high, "paired": self.paired, "n": self.n, "verdict": self.verdict,
                "low_noise": self.low_noise, "high_noise": self.high_noise, "replicates": self.replicates,
                "method": self.method, "edge": self.at_edge()}


def jackknife_differences(a: PointFeatures, b: PointFeatures, labels: tuple[str, str], paired: bool,
                          confidence: float, metrics: tuple[str, ...]) -> list[Difference]:
    """``compare`` by the jackknife: paired, over the same blocks of sample indices."""
    out = []
    for metric in ("fid", "kid"):
        va, vb = (getattr(p, f"{metric}_jackknife") if metric in metrics else None for p in (a, b))
        if va is None or vb is None:
            continue
        estimate, low, high = jackknife.difference_interval(va, vb, paired, confidence)
        out.append(Difference(*labels, metric, estimate, low, high, paired, min(a.n, b.n), 0.0, 0.0,
                              len(va.leave_out), va.full - vb.full, JACKKNIFE))
    return out


def compare(a: PointFeatures, b: PointFeatures, labels: tuple[str, str], *, paired: bool,
            replicates: int = REPLICATES, seed: int = 0, confidence: float = CONFIDENCE,
            metrics: tuple[str, ...] = ("fid", "kid"), bound: Optional[float] = 0.0) -> list[Difference]:
    """FID(a) - FID(b) and KID(a) - KID(b) with intervals at ``confidence`` (95 %); paired resampling needs equal N
    (sample i of a matched with sample i of b). By the jackknife where either point's method is the jackknife
    (``replicates``, ``seed`` and ``bound`` then have nothing to do), else by the bootstrap: ``bound`` is what the
    verdict compares the interval with (0; a target search's margin), where an interval at its edge is drawn again
    with more replicates (``decisive_interval``); None for an interval no verdict is read from."""
    if paired and a.n != b.n:
        raise ValueError(f"paired comparison needs equal N, got {a.n} and {b.n}")
    if JACKKNIFE in (a.method, b.method):
        return jackknife_differences(a, b, labels, paired, confidence, metrics)

    @functools.lru_cache(maxsize=None)
    def weights(count: int) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng(seed)
        wa = bootstrap_weights(a.n, count, rng)
        return wa, wa if paired else bootstrap_weights(b.n, count, rng)

    ea, eb = a.estimates(), b.estimates()
    out = []
    for metric, compute in (("fid", lambda p, w: p.fid(w)), ("kid", lambda p, w: p.kid(w))):
        if metric not in metrics or ea[metric] is None or eb[metric] is None:
            continue

        def differences(count: int, compute=compute) -> np.ndarray:
            wa, wb = weights(count)
            return compute(a, wa) - compute(b, wb)

        at_n = ea[metric] - eb[metric]
        interval = decisive_interval(at_n, differences, replicates, confidence, bound)
        out.append(Difference(*labels, metric, interval.estimate, interval.low, interval.high, paired,
                              min(a.n, b.n), interval.low_noise, interval.high_noise, interval.replicates, at_n))
    return out
