"""The Pareto front of FID estimates (what a folder without intervals shows, making no claim), on hand-made points
whose front is known."""


import numpy as np
import pandas as pd
import processes

from ddpm_bench.report.answer import estimates_only
from ddpm_bench.verdicts.rule import equal_nfe_time_spread, pareto_front, set_aside


def points(*rows):
    """Points from (scheduler, steps, nfe, ms per image, FID) tuples."""
    frame = pd.DataFrame(rows, columns=["scheduler", "steps", "nfe", "ms", "fid"])
    return frame.assign(seconds_per_image=frame["ms"] / 1000).drop(columns="ms")


SWEEP = points(
    ("ddim", 5, 5, 14.5, 5.37),
    ("ddpm", 5, 5, 15.1, 7.80),       # slower and worse than ddim 5: off any front
    ("eta1", 10, 10, 29.8, 3.32),     # 5% faster than ddim 10 but worse: on the plain front only
    ("ddim", 10, 10, 31.4, 2.53),
    ("pndm", 5, 14, 43.5, 1.70),
    ("ddpm", 50, 50, 129.4, 1.00),
    ("ddim", 50, 50, 155.7, 1.42),    # slower and worse than ddpm 50
)


def labels(frame):
    return [f"{row.scheduler}-{row.steps}" for row in frame.itertuples()]


def test_the_plain_front_keeps_every_point_that_nothing_faster_beats():
    assert labels(pareto_front(SWEEP, 0.0)) == ["ddim-5", "eta1-10", "ddim-10", "pndm-5", "ddpm-50"]


def test_the_tolerance_sets_aside_a_point_only_slightly_faster_than_a_better_one():
    assert labels(pareto_front(SWEEP, 0.10)) == ["ddim-5", "ddim-10", "pndm-5", "ddpm-50"]
    (removed, replacement), = set_aside(SWEEP, pareto_front(SWEEP, 0.10), 0.10)
    assert labels(pd.DataFrame([removed, replacement])) == ["eta1-10", "ddim-10"]
    # 31.4 ms is 5.4% slower than 29.8 ms: a 5% tolerance keeps both
    assert labels(pareto_front(SWEEP, 0.05)) == labels(pareto_front(SWEEP, 0.0))


def test_fid_falls_strictly_along_every_front():
    rng = np.random.default_rng(0)
    for tolerance in (0.0, 0.05, 0.2):
        for _ in range(20):
            n = 12
            frame = points(*zip(["s"] * n, range(n), range(n), rng.uniform(10, 100, n), rng.uniform(1, 10, n)))
            front = pareto_front(frame, tolerance)
            assert front["seconds_per_image"].is_monotonic_increasing
            assert (np.diff(front["fid"].to_numpy()) < 0).all()
            for _, row in frame.iterrows():  # every point off the front is beaten within the tolerance
                if row.name not in front.index:
                    rivals = frame[(frame["fid"] <= row["fid"]) & (frame.index != row.name)
                                   & (frame["seconds_per_image"] <= row["seconds_per_image"] * (1 + tolerance))]
                    assert len(rivals), (tolerance, row.to_dict())


def test_equal_nfe_spread_names_the_widest_pair():
    ratio, slow, fast = equal_nfe_time_spread(SWEEP)
    assert np.isclose(ratio, 155.7 / 129.4)
    assert (slow["scheduler"], fast["scheduler"]) == ("ddim", "ddpm") and slow["nfe"] == 50
    assert equal_nfe_time_spread(SWEEP.iloc[[0, 2, 4]]) is None


def test_a_folder_without_intervals_lists_its_estimates_and_says_it_makes_no_claim():
    lines = estimates_only(SWEEP, pareto_front(SWEEP, 0.10), 0.10)
    assert lines[0].startswith("This folder has no intervals, so it makes no claim.")
    assert lines[1].splitlines()[0] == "- 14.5 ms per image: ddim at 5 steps (NFE 5, FID 5.37)"
    assert lines[1].splitlines()[-1] == "- 129.4 ms per image: ddpm at 50 steps (NFE 50, FID 1.00)"
    assert "differ in time per image by up to 20%" in lines[2] and "ddim at 50 steps 155.7 ms" in lines[2]
    assert lines[3] == ("Left out for that reason: eta1 at 10 steps (29.8 ms, FID 3.32) for ddim at 10 steps "
                        "(31.4 ms, FID 2.53).")
    nothing = ["No point finished, so there is nothing to answer."]
    assert estimates_only(SWEEP.iloc[0:0], SWEEP.iloc[0:0], 0.10) == nothing


def test_the_report_command_refuses_a_tolerance_outside_zero_to_one(tmp_path):
    for value in ("1.5", "-0.1", "ten"):
        result = processes.ddpm_bench("report", str(tmp_path), "--time-tolerance", value)
        assert result.returncode == 2
        assert len(result.stderr.strip().splitlines()) == 1 and "--time-tolerance" in result.stderr
