"""The report's paper checks: each finds its schedulers by configuration, and its verdict follows the numbers."""

import pandas as pd
import pytest

from ddpm_bench.stats import Difference
from ddpm_bench.verdicts.expectations import expectations

DEFAULTS = {"ddim": {"eta": 0.0}, "ddpm": {"variance_type": "fixed_small"}, "pndm": {"skip_prk_steps": False}}


def point(label, steps, fid, kid, nfe=None, kid_std=0.01, name=None, **options):
    name = name or label.split(":")[0]
    return {"scheduler": label, "scheduler_name": name, "scheduler_config": {**DEFAULTS[name], **options},
            "steps": steps, "nfe": nfe or steps, "fid": fid, "kid": kid, "kid_std": kid_std, "status": "ok"}


def judge_with(half_width):
    """A stand-in for the paired intervals: FID(a) - FID(b) +- half_width."""
    def judge(a, b):
        d = a["fid"] - b["fid"]
        return Difference(a["scheduler"], b["scheduler"], "fid", d, d - half_width, d + half_width, True, 256)
    return judge


def paragraph(points, starts_with, judge=None):
    found = [p for p in expectations(pd.DataFrame(points), judge) if p.startswith(starts_with)]
    assert len(found) == 1, found
    return found[0]


@pytest.mark.parametrize("fids,verdict", [
    ({5: (5.0, 9.0), 50: (2.0, 2.2)}, "closing. Shown."),  # DDIM decidedly better at 5, tied at 50
    ({5: (9.0, 5.0), 50: (2.0, 2.2)}, "Not shown."),  # DDPM better at 5
    ({5: (5.0, 6.0), 50: (2.0, 4.0)}, "not closing. Not shown."),  # gap grows
    ({5: (5.0, 5.3), 50: (2.0, 2.2)}, "Undecided at this N: the intervals include no difference either way."),
])
def test_ddim_against_ddpm_verdict_follows_the_intervals(fids, verdict):
    points = [point("ddim", s, d, 0.0) for s, (d, _) in fids.items()] + [
        point("ddpm", s, p, 0.0) for s, (_, p) in fids.items()
    ]
    text = paragraph(points, "DDIM (eta = 0) better than DDPM", judge_with(0.5))
    assert text.endswith(verdict)
    assert "paired 95 % interval [" in text


def test_a_lower_fid_inside_the_interval_is_undecided_not_better():
    points = [point("ddim", 10, 2.0, 0.0), point("ddpm", 10, 2.4, 0.0)]
    assert "10 steps: DDIM better" in paragraph(points, "DDIM (eta = 0)", judge_with(0.3))
    assert "10 steps: undecided" in paragraph(points, "DDIM (eta = 0)", judge_with(0.5))


def test_schedulers_are_found_by_configuration_not_by_label():
    points = [point("my-sampler", 10, 3.0, 0.0, name="ddim"), point("ddpm:variance_type=fixed_small", 10, 4.0, 0.0),
              point("ddim:eta=0.5", 10, 1.0, 0.0, eta=0.5)]
    text = paragraph(points, "DDIM (eta = 0) better than DDPM")
    assert "FID DDIM 3.00 at N vs DDPM 4.00 at N" in text  # eta 0.5 is neither DDIM eta 0 nor eta 1


def test_checks_whose_schedulers_are_missing_are_left_out():
    assert expectations(pd.DataFrame([point("ddpm", 10, 4.0, 0.0), point("ddpm", 20, 3.0, 0.0)])) == []


@pytest.mark.parametrize("kid,verdict", [(0.101, "Shown."), (0.2, "Not shown.")])
def test_ddim_with_eta_one_must_score_as_ddpm(kid, verdict):
    points = [point("ddim:eta=1.0", 10, 3.0, kid, eta=1.0), point("ddpm", 10, 3.0, 0.1)]
    assert paragraph(points, "DDIM with eta = 1 is DDPM's sampler").endswith(verdict)


@pytest.mark.parametrize("large_fid_at_5,verdict", [(40.0, "Shown."), (4.0, "Not shown.")])
def test_the_large_variance_must_lose_at_few_steps(large_fid_at_5, verdict):
    points = [point("ddpm", 5, 8.0, 0.1), point("ddpm", 1000, 1.0, 0.0),
              point("ddpm:variance_type=fixed_large", 5, large_fid_at_5, 0.5, variance_type="fixed_large"),
              point("ddpm:variance_type=fixed_large", 1000, 1.1, 0.001, variance_type="fixed_large")]
    assert paragraph(points, "DDPM with the larger variance").endswith(verdict)


def test_pndm_is_compared_with_ddim_given_at_least_as_many_calls():
    """PNDM at 14 calls meets DDIM at 20 calls (DDIM's smallest step count with at least 14): better than that is
    better at equal calls."""
    ddim = [point("ddim", 10, 3.0, 0.05), point("ddim", 20, 2.0, 0.02)]
    text = paragraph(ddim + [point("pndm", 5, 1.5, 0.03, nfe=14)], "PNDM better than DDIM", judge_with(0.3))
    assert "PNDM at 5 steps (14 calls, FID 1.50) vs DDIM at 20 steps (20 calls, FID 2.00): PNDM better" in text
    assert text.endswith("Shown.")
    text = paragraph(ddim + [point("pndm", 5, 2.1, 0.03, nfe=14)], "PNDM better than DDIM", judge_with(0.3))
    assert text.endswith("Undecided at this N: the intervals include no difference either way.")
    outside = expectations(pd.DataFrame(ddim + [point("pndm", 20, 1.0, 0.0, nfe=29)]))
    assert not any(p.startswith("PNDM better") for p in outside)  # no DDIM point at or beyond 29 calls to compare with


@pytest.mark.parametrize("pndm_kid,verdict", [(0.011, "Shown."), (0.08, "Not shown.")])
def test_deterministic_samplers_must_meet_at_many_steps(pndm_kid, verdict):
    points = [point("ddim", 500, 1.2, 0.01), point("pndm", 500, 1.3, pndm_kid, nfe=509)]
    assert paragraph(points, "DDIM (eta = 0) and PNDM integrate").endswith(verdict)
    few = [point("ddim", 20, 1.2, 0.01), point("pndm", 20, 1.3, pndm_kid, nfe=29)]
    assert not any(p.startswith("DDIM (eta = 0) and PNDM") for p in expectations(pd.DataFrame(few)))
