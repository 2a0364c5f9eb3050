"""How many samples a paired comparison needs to call a winner, against an unpaired one, from a sweep's stored
features: for each pair, the smallest N (the first N sample indices) at which the 95 % interval of the FID
difference excludes 0. When ``ddpm-bench convergence`` has run on the folder, the same for the paired difference in
distance to its solution (convergence.py), which compares each sample with its own target.

    .venv/bin/python benchmarks/samples_needed.py results/default ddim:5,ddim:10 ddim:10,ddim:20 ddim:20,pndm:20
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from ddpm_bench.compare import load_points, named_pairs, reference_for
from ddpm_bench.convergence import REPLICATES, paired_difference, read_convergence, sample_distances
from ddpm_bench.stats import PointFeatures, bootstrap_weights, compare


def first_decided(a, b, reference, paired: bool, sizes) -> str:
    for n in sizes:
        (fid,) = [d for d in compare(PointFeatures(a[:n], reference, with_kid=False),
                                     PointFeatures(b[:n], reference, with_kid=False), ("a", "b"), paired=paired)
                  if d.metric == "fid"]
        if fid.verdict != "tied":
            return f"N = {n} ({fid.verdict})"
    return f"tied up to N = {sizes[-1]}"


def first_converged(a, b, solution) -> str:
    """The smallest N at which the paired difference in distance to the solution excludes 0."""
    da, db = sample_distances(a, solution), sample_distances(b, solution)
    sizes = [n for n in (4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128) if n < len(da)] + [len(da)]
    for n in sizes:
        weights = bootstrap_weights(n, REPLICATES, np.random.default_rng(0))
        difference = paired_difference(da[:n], db[:n], ("a", "b"), weights)
        if difference.verdict != "tied":
            return f"N = {n} ({difference.verdict})"
    return f"tied up to N = {sizes[-1]}"


def main(folder: str, pair_texts: list[str]) -> None:
    points = load_points([folder])
    reference = reference_for(points[0])
    convergence = read_convergence(Path(folder))
    solution = None
    if convergence:
        solved = load_points([Path(folder) / convergence["solution_folder"]])
        solution = next(p for p in solved if p.label == convergence["solution"]).features()
    for a, b in named_pairs(points, pair_texts):
        fa, fb = a.features(), b.features()
        sizes = [n for n in (32, 48, 64, 96, 128, 160, 192, 224, 256, 384, 512, 768, 1000) if n < len(fa)] + [len(fa)]
        line = (f"{a.label} vs {b.label}: FID paired {first_decided(fa, fb, reference, True, sizes)}; "
                f"unpaired {first_decided(fa, fb, reference, False, sizes)}")
        if solution is not None:
            line += f"; distance to {convergence['solution']} {first_converged(fa, fb, solution)}"
        print(line)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
