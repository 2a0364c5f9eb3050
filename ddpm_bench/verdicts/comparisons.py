"""The points of one or two results folders as the statistics see them: each point's stored features, which points
pair, which pairs are compared by default, and their differences in FID and KID with 95 % intervals and verdicts
(nothing is sampled again).

Two points are compared *paired* when sample i of each started from the same initial noise: same model weights,
seed and N (and so the same per-index seeds). Otherwise the comparison is unpaired, and says so. Both points must
have been scored with the same backbone against the same reference, or the difference means nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from ddpm_bench.errors import BenchError
from ddpm_bench.stats import REPLICATES, Difference, PointFeatures, Reference, compare, point_intervals
from ddpm_bench.store import records as R
from ddpm_bench.store.folder_files import has_reference_stats, read_reference_stats
from ddpm_bench.util.names import unknown_name


@dataclass
class StoredPoint:
    label: str
    record: dict
    folder: Path

    def features(self) -> np.ndarray:
        return R.load_features(self.folder, self.record)

    def pairs_with(self, other: "StoredPoint") -> bool:
        """Whether sample i of both points started from the same x_T: the same model and seed. Points of different
        N (a target search grows each point to its own N) pair over their first min(N) samples."""
        keys = (R.MODEL_SHA256, R.SEED)
        return all(self.record.get(k) == other.record.get(k) for k in keys)


def load_points(folders: Sequence[Path]) -> list[StoredPoint]:
    """The finished points with stored features, labelled as the report labels them (``ddim:20``; with two folders
    the second's labels carry its folder name)."""
    points = []
    for number, folder in enumerate(folders):
        frame = R.load_frame(folder)
        for record in frame.to_dict("records"):
            if record.get(R.STATUS) != R.OK or not isinstance(record.get(R.FEATURES), str):
                continue
            label = R.record_label(record)
            points.append(StoredPoint(f"{Path(folder).name}/{label}" if number else label, record, Path(folder)))
    if not points:
        raise BenchError(f"no point in {', '.join(map(str, folders))} kept its features; run the sweep without "
                         "--no-features")
    return points


def default_pairs(points: list[StoredPoint]) -> list[tuple[StoredPoint, StoredPoint]]:
    """Every two schedulers at the same step count and at the nearest cost, and each scheduler's consecutive step
    counts."""
    return pairs_to_compare(points, lambda p: (p.record[R.SCHEDULER], p.record[R.STEPS], p.record.get(R.NFE)))


def pairs_to_compare(items: list, key) -> list[tuple]:
    """The comparisons a report makes by default, for anything ``key`` maps to (scheduler label, steps, NFE): every
    two schedulers at the same step count; every two schedulers at equal cost, each point with the other scheduler's
    point of the nearest NFE (a 2nd-order sampler at 5 steps, 9 model calls, with DDIM at 10, not only at 5); then
    each scheduler's consecutive step counts. ``sweep --decide`` plans its looks with the same rule (decide.py), so
    that it decides the comparisons the report shows."""
    pairs = [(a, b) for a, b in combinations(items, 2) if key(a)[1] == key(b)[1]]
    by_scheduler: dict[str, list] = {}
    for item in items:
        by_scheduler.setdefault(key(item)[0], []).append(item)
    for group in by_scheduler.values():
        group.sort(key=lambda item: key(item)[1])
    for item in items:
        for name, group in by_scheduler.items():
            costed = [other for other in group if key(other)[2] is not None]
            if name == key(item)[0] or key(item)[2] is None or not costed:
                continue
            nearest = min(costed, key=lambda other: (abs(key(other)[2] - key(item)[2]), key(other)[2]))
            if not any({id(item), id(nearest)} == {id(a), id(b)} for a, b in pairs):
                pairs.append((item, nearest))
    for group in by_scheduler.values():
        pairs += list(zip(group, group[1:]))
    return pairs


def named_pairs(points: list[StoredPoint], texts: Sequence[str]) -> list[tuple[StoredPoint, StoredPoint]]:
    """``A,B`` texts (labels as ``ddim:20`` or ``ddim@20``) resolved to points; an unknown label is named."""
    by_label = {p.label: p for p in points}
    by_label.update({p.label.rsplit(":", 1)[0] + "@" + p.label.rsplit(":", 1)[1]: p for p in points})
    pairs = []
    for text in texts:
        parts = [part.strip() for part in text.split(",")]
        if len(parts) != 2:
            raise BenchError(f"--pairs {text!r}: write two point labels separated by a comma, e.g. ddim:10,ddim:20")
        for part in parts:
            if part not in by_label:
                raise BenchError(unknown_name("point", part, [p.label for p in points]))
        pairs.append((by_label[parts[0]], by_label[parts[1]]))
    return pairs


def folder_reference(folder: Path) -> Reference:
    """The reference a folder's points were scored against, FID's side of it (mean and covariance), as the folder
    keeps it (``reference.npz``): what the report judges with, without the statistics cache or a feature network."""
    saved = read_reference_stats(folder)
    if saved is None:
        raise BenchError(f"{folder} holds no {R.REFERENCE_STATS} (written by an older ddpm-bench): run "
                         f"`ddpm-bench report {folder}` once, which adds it from the statistics cache")
    return Reference(*saved)


class StoredPoints:
    """Points of one or two sweep folders with the reference they were scored against; each point's features are
    read, and their kernel sums built, once however many comparisons use them."""

    def __init__(self, points: list[StoredPoint], reference: Reference, *, with_kid: bool = True):
        self.points = points
        self.by_label = {p.label: p for p in self.points}
        self.reference = reference
        self.with_kid = with_kid
        self._features: dict[tuple[str, int], PointFeatures] = {}
        self._differences: dict[tuple[str, str, float], Difference] = {}
        self._scores: dict[str, dict] = {}
        counts = {int(p.record[R.N]) for p in self.points}
        # FID's finite-N bias grows as N shrinks (Chong & Forsyth 2020): points grown to different N (a target
        # search, --decide) are compared by their FIDs over the first samples that all of them have.
        self.common_n = min(counts) if len(counts) > 1 else None

    def features(self, point: StoredPoint, n: Optional[int] = None) -> PointFeatures:
        """The point's first ``n`` samples (all by default), ready for resampling."""
        n = int(point.record[R.N]) if n is None else n
        if (point.label, n) not in self._features:
            self._features[(point.label, n)] = PointFeatures(point.features()[:n], self.reference,
                                                             with_kid=self.with_kid)
        return self._features[(point.label, n)]

    def fid_scores(self, point: StoredPoint) -> dict:
        """The point's FID at N, and the estimate of its Frechet distance with the 95 % interval that brackets it
        (``fid``, ``fid_estimate``, ``fid_low``, ``fid_high``), as points are compared: over its first ``common_n``
        samples where points have different N, else (and for a point of that N) as recorded, which is what
        stats.point_intervals gives for them; computed from the features for a record that predates the estimate."""
        keys = (R.FID, R.FID_ESTIMATE, R.FID_LOW, R.FID_HIGH, R.INTERVAL_METHOD)
        recorded = R.FID_ESTIMATE in point.record and point.record[R.FID_ESTIMATE] == point.record[R.FID_ESTIMATE]
        if recorded and (self.common_n is None or int(point.record[R.N]) == self.common_n):
            return {key: point.record.get(key) for key in keys}
        if point.label not in self._scores:
            scores = point_intervals(self.features(point, self.common_n or int(point.record[R.N])))
            self._scores[point.label] = {key: scores.get(key) for key in keys}
        return self._scores[point.label]

    def compare(self, a: StoredPoint, b: StoredPoint, *, paired: Optional[bool] = None, replicates: int = REPLICATES,
                bound: Optional[float] = 0.0) -> list[Difference]:
        """a - b for every metric the features allow; paired when the points pair (over their first min(N)
        samples), unless ``paired`` says otherwise. ``bound``: as for ``stats.compare`` (None: no verdict is read)."""
        paired = a.pairs_with(b) if paired is None else paired
        n = min(int(a.record[R.N]), int(b.record[R.N])) if paired else None
        return compare(self.features(a, n), self.features(b, n), (a.label, b.label), paired=paired,
                       replicates=replicates, bound=bound)

    def fid_difference(self, a: dict, b: dict, bound: float = 0.0) -> Optional[Difference]:
        """FID(a) - FID(b) with its 95 % interval for two records (rows) of these folders, or None when either kept
        no features; ``bound``: the value its verdict reads it against (0, or a margin), where an interval at its edge
        is drawn again. Cached: the answer, the comparisons and the expectations ask for the same pairs."""
        labels = (R.record_label(a), R.record_label(b))
        if (*labels, bound) not in self._differences:
            if labels[0] not in self.by_label or labels[1] not in self.by_label:
                return None
            first, second = self.by_label[labels[0]], self.by_label[labels[1]]
            self._differences[(*labels, bound)] = next(d for d in self.compare(first, second, bound=bound)
                                                       if d.metric == "fid")
        return self._differences[(*labels, bound)]


def width_ratio(differences: list[Difference], unpaired: list[Difference]) -> Optional[float]:
    """Median over pairs of (paired interval width / unpaired interval width), FID only."""
    ratios = [p.width / u.width for p, u in zip(differences, unpaired) if p.metric == "fid" and u.width > 0]
    return float(np.median(ratios)) if ratios else None


def stored_points(folder: Path) -> Optional[StoredPoints]:
    """The report's view of a folder's stored features against the reference the folder keeps (FID only: the report
    shows no KID differences, so no kernel sums are built); None when no point kept its features, or the folder keeps
    no reference statistics."""
    try:
        points = load_points([folder])
    except BenchError:  # no point kept its features
        return None
    return StoredPoints(points, folder_reference(folder), with_kid=False) if has_reference_stats(folder) else None
