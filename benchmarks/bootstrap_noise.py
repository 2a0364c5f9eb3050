"""How much of a paired FID interval's ends is bootstrap Monte Carlo noise: for each pair of a folder's points, the
95 % interval of FID(a) - FID(b) is drawn again with several bootstrap seeds at several replicate counts, and the
spread (standard deviation over seeds) of each end is printed, also as a share of the interval's half-width. A
verdict whose bound (0 for compare, the margin for ``target --match``) lies within about two of these spreads of an
end depends on the bootstrap's seed as much as on the samples. With ``--bound``, how many seeds put the upper end at
most the bound (a match's "met"), with 300 replicates alone and with the interval drawn again at the edge
(stats.decisive_interval), as the target search does.

    .venv/bin/python benchmarks/bootstrap_noise.py results/target-match-ddim100 ddim:37,ddim:100 pndm:20,ddim:100 \
        --bound 0.239
"""

from __future__ import annotations

import argparse

import numpy as np

from ddpm_bench.stats import REPLICATES, PointFeatures, compare
from ddpm_bench.verdicts.comparisons import folder_reference, load_points, named_pairs


def ends(a: PointFeatures, b: PointFeatures, replicates: int, seeds: int, bound=None) -> np.ndarray:
    """(low, high) of the paired FID difference's interval for bootstrap seeds 0..seeds-1; ``bound``: drawn again
    where that bound is at its edge."""
    rows = []
    for seed in range(seeds):
        (fid,) = compare(a, b, ("a", "b"), paired=True, replicates=replicates, seed=seed, metrics=("fid",),
                         bound=bound)
        rows.append((fid.low, fid.high))
    return np.array(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder")
    parser.add_argument("pairs", nargs="+", help="A,B point labels, e.g. ddim:37,ddim:100")
    parser.add_argument("--replicates", default="300,1000,3000")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--bound", type=float, help="a match's margin: count the seeds whose upper end is at most it")
    parser.add_argument("--quick", action="store_true", help="a smoke test: 300 replicates, 2 seeds")
    args = parser.parse_args()
    if args.quick:
        args.replicates, args.seeds = str(REPLICATES), 2
    points = load_points([args.folder])
    reference = folder_reference(args.folder)  # FID only: the folder's own mean and covariance
    for a, b in named_pairs(points, args.pairs):
        features = a.features(), b.features()
        n = min(map(len, features))  # paired over the samples both have
        fa, fb = (PointFeatures(x[:n], reference, with_kid=False) for x in features)
        print(f"{a.label} - {b.label}, N = {n}: FID difference {fa.estimates()['fid'] - fb.estimates()['fid']:+.3f}")
        for replicates in map(int, args.replicates.split(",")):
            found = ends(fa, fb, replicates, args.seeds)
            half_width = float(np.mean(found[:, 1] - found[:, 0]) / 2)
            low_sd, high_sd = found.std(axis=0, ddof=1)
            print(f"  {replicates:>5} replicates: low {found[:, 0].mean():+.3f} sd {low_sd:.4f}, high "
                  f"{found[:, 1].mean():+.3f} sd {high_sd:.4f} (ends' spread {max(low_sd, high_sd) / half_width:.1%} "
                  f"of the half-width {half_width:.3f}; {args.seeds} seeds)")
        if args.bound is not None:
            plain, redrawn = (ends(fa, fb, REPLICATES, args.seeds, bound)[:, 1] for bound in (None, args.bound))
            print(f"  upper end at most {args.bound}: {int((plain <= args.bound).sum())} of {args.seeds} seeds with "
                  f"{REPLICATES} replicates, {int((redrawn <= args.bound).sum())} of {args.seeds} drawn again at the "
                  "edge")


if __name__ == "__main__":
    main()
