"""The paired convergence metric: its intervals calibrated on synthetic features with known answers, then run end to
end on a tiny model (the solution sampled once and reused, distances shrinking with steps, report and command)."""

import json

import numpy as np
import processes
import pytest
from scipy.special import gammaln
from scipy.stats import ttest_ind

from ddpm_bench.runs.convergence import (
    mean_interval,
    paired_difference,
    run_convergence,
    sample_distances,
    unrelated_scale,
)
from ddpm_bench.runs.sweep import run_sweep
from ddpm_bench.settings import config_from
from ddpm_bench.store.records import CONVERGENCE, RECORDS, REPORT, read_records

D, N, TRIALS = 16, 64, 200
ODE = "ddim:clip_sample=false"  # DDIM without clipping x_0: the probability-flow ODE that PNDM integrates too


def expected_norm(sigma: float, d: int) -> float:
    """E||e|| for e ~ N(0, sigma^2 I_d): sigma sqrt(2) Gamma((d+1)/2) / Gamma(d/2) (the chi distribution's mean)."""
    return sigma * np.sqrt(2) * np.exp(gammaln((d + 1) / 2) - gammaln(d / 2))


def noisy(solution, sigma, rng):
    return solution + sigma * rng.standard_normal(solution.shape)


def test_the_mean_distance_interval_covers_the_known_mean_at_its_stated_rate():
    covered = 0
    for trial in range(TRIALS):
        rng = np.random.default_rng(trial)
        solution = rng.standard_normal((N, D))
        distances = sample_distances(noisy(solution, 0.3, rng), solution)
        _, low, high = mean_interval(distances)
        covered += low <= expected_norm(0.3, D) <= high
    assert 0.90 * TRIALS <= covered <= 0.99 * TRIALS


def test_two_samplers_equally_far_from_the_solution_are_tied_at_the_stated_rate():
    tied = 0
    for trial in range(TRIALS):
        rng = np.random.default_rng(1000 + trial)
        solution = rng.standard_normal((N, D))
        a, b = (sample_distances(noisy(solution, 0.3, rng), solution) for _ in range(2))
        tied += paired_difference(a, b, ("a", "b")).verdict == "tied"
    assert 0.90 * TRIALS <= tied <= 0.99 * TRIALS


def test_a_sampler_closer_to_the_solution_is_found_and_pairing_narrows_the_interval():
    rng = np.random.default_rng(7)
    solution = rng.standard_normal((N, D))
    shared = 0.3 * rng.standard_normal(solution.shape)  # what both samplers' errors share (the same x_T)
    a = sample_distances(solution + shared, solution)
    b = sample_distances(solution + 1.1 * shared + 0.05 * rng.standard_normal(solution.shape), solution)
    paired = paired_difference(a, b, ("a", "b"))
    assert paired.verdict == "a better"
    assert paired.low <= expected_norm(0.3, D) - expected_norm(np.hypot(0.33, 0.05), D) <= paired.high
    # unpaired (Welch): the two means' own spreads add up, what the samples share does not cancel
    low, high = ttest_ind(a, b, equal_var=False).confidence_interval(0.95)
    assert paired.width < (high - low) / 3


def test_the_scale_is_the_distance_between_two_unrelated_samples():
    rng = np.random.default_rng(3)
    assert unrelated_scale(rng.standard_normal((4000, D))) == pytest.approx(np.sqrt(2 * D), rel=0.02)


@pytest.fixture(scope="module")
def swept(env):
    config = config_from(model=str(env / "model"), schedulers=[ODE, "pndm", "ddpm"], steps=[2, 8, 32], n=16,
                         batch_size=16, grid_samples=4)
    run_sweep(config, env / "sweep", progress=False)
    lines = []
    summary = run_convergence(env / "sweep", f"{ODE}:200", 12, progress=False, log=lines.append)
    return env, summary, lines


def test_deterministic_samplers_approach_the_solution_with_more_steps(swept):
    _, summary, _ = swept
    ddim = "ddim:clip_sample=False"  # the label records give it
    mean = {p["label"]: p["mean"] for p in summary["points"]}
    assert mean[f"{ddim}:2"] > mean[f"{ddim}:8"] > mean[f"{ddim}:32"]
    assert mean["pndm:8"] > mean["pndm:32"]
    assert mean["ddpm:32"] > 5 * mean["pndm:32"]  # a stochastic sampler does not approach the ODE's solution
    verdicts = {(d["a"], d["b"]): d["verdict"] for d in summary["comparisons"]}
    assert verdicts[(f"{ddim}:8", f"{ddim}:32")] == verdicts[("pndm:8", "pndm:32")] == "b better"
    assert summary["n"] == 12 and all(p["n"] == 12 for p in summary["points"])
    for point in summary["points"]:
        assert point["low"] <= point["mean"] <= point["high"]


def test_the_solution_is_an_ordinary_sweep_folder_sampled_once(swept):
    root, summary, lines = swept
    solution = root / "sweep" / summary["solution_folder"]
    records = read_records(solution / RECORDS)
    assert [r["point"] for r in records if r["status"] == "ok"] == ["ddim:clip_sample=False@200"]
    again = []
    assert run_convergence(root / "sweep", f"{ODE}:200", 12, progress=False, log=again.append) == summary
    assert not any("[1/1]" in line for line in again) and any("[1/1]" in line for line in lines)
    assert len(read_records(solution / RECORDS)) == len(records)


def test_the_report_and_the_command_show_the_same_numbers(swept):
    root, summary, _ = swept
    folder = root / "sweep"
    result = processes.ddpm_bench("convergence", str(folder), "--to", f"{ODE}:200", "-n", "12", "--json",
                                  "--no-progress")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == summary == json.loads((folder / CONVERGENCE).read_text())
    report = (folder / REPORT).read_text()
    assert "## Convergence to the solution" in report
    first = summary["points"][0]
    assert f"| {first['label']} | {first['nfe']} |" in report and f"{first['mean']:.3f}" in report


def test_a_folder_without_features_or_a_bad_solution_is_one_line(swept, tmp_path):
    root, _, _ = swept
    empty = processes.ddpm_bench("convergence", str(tmp_path))
    assert empty.returncode == 2 and empty.stderr.count("\n") == 1 and "records" in empty.stderr
    bad = processes.ddpm_bench("convergence", str(root / "sweep"), "--to", "ddim")
    assert bad.returncode == 2 and "SCHEDULER:STEPS" in bad.stderr and "Traceback" not in bad.stderr
