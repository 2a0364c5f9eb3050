"""How many samples a paired comparison needs to call a winner, against an unpaired one, from a sweep's stored
features: for each pair, the smallest N (the first N sample indices) at which the 95 % interval of the FID
difference excludes 0.

    .venv/bin/python benchmarks/samples_needed.py results/default ddim:5,ddim:10 ddim:10,ddim:20 ddim:20,pndm:20
"""

from __future__ import annotations

import sys

from ddpm_bench.compare import load_points, named_pairs, reference_for
from ddpm_bench.stats import PointFeatures, compare


def first_decided(a, b, reference, paired: bool, sizes) -> str:
    for n in sizes:
        (fid,) = [d for d in compare(PointFeatures(a[:n], reference, with_kid=False),
                                     PointFeatures(b[:n], reference, with_kid=False), ("a", "b"), paired=paired)
                  if d.metric == "fid"]
        if fid.verdict != "tied":
            return f"N = {n} ({fid.verdict})"
    return f"tied up to N = {sizes[-1]}"


def main(folder: str, pair_texts: list[str]) -> None:
    points = load_points([folder])
    reference = reference_for(points[0])
    for a, b in named_pairs(points, pair_texts):
        fa, fb = a.features(), b.features()
        sizes = [n for n in (32, 48, 64, 96, 128, 160, 192, 224, 256, 384, 512, 768, 1000) if n < len(fa)] + [len(fa)]
        print(f"{a.label} vs {b.label}: paired {first_decided(fa, fb, reference, True, sizes)}; "
              f"unpaired {first_decided(fa, fb, reference, False, sizes)}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
