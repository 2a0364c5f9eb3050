"""How many samples a paired comparison needs to call a winner, against an unpaired one, from a sweep's stored
features: for each pair, the smallest N (the first N sample indices) from which on the 95 % interval of the FID
difference excludes 0 at every N tried up to all the samples (the first N at which it excludes 0 once would count
lucky early looks). When ``ddpm-bench convergence`` has run on the folder, the same for the paired difference in
distance to its solution (convergence.py), which compares each sample with its own target. Also what the pairing
rests on: the sample-wise correlation of the two points' features (sample i of both from the same x_T), and the
half-widths of the paired and unpaired 95 % intervals at all the samples.

    .venv/bin/python benchmarks/samples_needed.py results/default ddim:5,ddim:10 ddim:10,ddim:20 ddim:20,pndm:20

``--quick`` (a smoke test) tries three sample sizes only.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from ddpm_bench.runs.convergence import paired_difference, sample_distances
from ddpm_bench.stats import PointFeatures, compare
from ddpm_bench.store.folder_files import read_convergence
from ddpm_bench.verdicts.comparisons import folder_reference, load_points, named_pairs

FID_SIZES = (32, 48, 64, 96, 128, 160, 192, 224, 256, 384, 512, 768, 1000)
DISTANCE_SIZES = (4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128)
QUICK_SIZES = 2  # --quick: the two smallest sizes and all the samples


def settled(verdict_at, sizes) -> str:
    """The smallest of ``sizes`` from which on ``verdict_at(n)`` is the verdict at the largest size and not tied."""
    verdicts = [verdict_at(n) for n in sizes]
    if verdicts[-1] == "tied":
        return f"tied at N = {sizes[-1]}"
    start = len(sizes) - 1
    while start > 0 and verdicts[start - 1] == verdicts[-1]:
        start -= 1
    return f"N = {sizes[start]} ({verdicts[-1]})"


def fid_settled(a, b, reference, paired: bool, sizes) -> str:
    def verdict_at(n):
        (fid,) = [d for d in compare(PointFeatures(a[:n], reference, with_kid=False),
                                     PointFeatures(b[:n], reference, with_kid=False), ("a", "b"), paired=paired)
                  if d.metric == "fid"]
        return fid.verdict

    return settled(verdict_at, sizes)


def pairing_text(a, b, reference) -> str:
    """The features' sample-wise correlation (over all feature dimensions, each centred) and the FID difference's
    95 % interval half-widths, paired and unpaired, at all the samples."""
    ca, cb = a - a.mean(0), b - b.mean(0)
    correlation = float((ca * cb).sum() / np.sqrt((ca * ca).sum() * (cb * cb).sum()))
    widths = {}
    for paired in (True, False):
        (fid,) = compare(PointFeatures(a, reference, with_kid=False), PointFeatures(b, reference, with_kid=False),
                         ("a", "b"), paired=paired, metrics=("fid",))
        widths[paired] = (fid.high - fid.low) / 2
    return (f"feature correlation {correlation:.3f}; FID half-width at N = {len(a)}: paired {widths[True]:.3f}, "
            f"unpaired {widths[False]:.3f} (ratio {widths[True] / widths[False]:.2f})")


def sizes_below(candidates: tuple[int, ...], n: int, quick: bool) -> list[int]:
    """The sample sizes tried: ``candidates`` below ``n`` (the two smallest with ``quick``), then ``n``."""
    below = [size for size in candidates if size < n]
    return (below[:QUICK_SIZES] if quick else below) + [n]


def distance_settled(a, b, solution, quick: bool) -> str:
    """The same for the paired difference in distance to the solution."""
    da, db = sample_distances(a, solution), sample_distances(b, solution)
    sizes = sizes_below(DISTANCE_SIZES, len(da), quick)
    return settled(lambda n: paired_difference(da[:n], db[:n], ("a", "b")).verdict, sizes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder")
    parser.add_argument("pairs", nargs="+", help="A,B point labels, e.g. ddim:5,ddim:10")
    parser.add_argument("--quick", action="store_true", help="a smoke test: three sample sizes")
    args = parser.parse_args()
    folder, quick = args.folder, args.quick
    points = load_points([folder])
    reference = folder_reference(folder)  # FID only: the folder's own mean and covariance
    convergence = read_convergence(Path(folder))
    solution = None
    if convergence:
        solved = load_points([Path(folder) / convergence["solution_folder"]])
        solution = next(p for p in solved if p.label == convergence["solution"]).features()
    for a, b in named_pairs(points, args.pairs):
        fa, fb = a.features(), b.features()
        sizes = sizes_below(FID_SIZES, len(fa), quick)
        line = (f"{a.label} vs {b.label}: FID paired {fid_settled(fa, fb, reference, True, sizes)}; "
                f"unpaired {fid_settled(fa, fb, reference, False, sizes)}")
        if solution is not None:
            line += f"; distance to {convergence['solution']} {distance_settled(fa, fb, solution, quick)}"
        print(line)
        print(f"  {pairing_text(fa, fb, reference)}")


if __name__ == "__main__":
    main()
