"""DPM-Solver++(2M) against diffusers' DPMSolverMultistepScheduler, through ddpm-bench's plugin system."""

import diffusers
import pytest
import torch

from ddpm_bench import check_scheduler, create_scheduler, list_schedulers


def test_registered_through_its_entry_point():
    (info,) = [s for s in list_schedulers() if s.name == "dpmpp-2m"]
    assert (info.plugin, info.package, info.version) == ("dpmsolver", "ddpm-bench-dpmsolver", "0.1.0")


@pytest.mark.parametrize("beta_schedule", ["linear", "scaled_linear", "squaredcos_cap_v2"])
@pytest.mark.parametrize("prediction_type", ["epsilon", "sample", "v_prediction"])
@pytest.mark.parametrize("steps", [5, 10, 25])
def test_matches_diffusers_dpmsolver_plus_plus_2m(beta_schedule, prediction_type, steps):
    config = dict(beta_schedule=beta_schedule, prediction_type=prediction_type)
    ours = create_scheduler("dpmpp-2m", **config)
    theirs = diffusers.DPMSolverMultistepScheduler(
        algorithm_type="dpmsolver++", solver_order=2, solver_type="midpoint", timestep_spacing="trailing",
        final_sigmas_type="zero", **config,
    )
    ours.set_timesteps(steps)
    theirs.set_timesteps(steps)
    assert ours.timesteps.tolist() == theirs.timesteps.tolist()
    generator = torch.Generator().manual_seed(0)
    x_ours = x_theirs = torch.randn(2, 3, 8, 8, generator=generator)
    for t in ours.timesteps:
        out = torch.randn(2, 3, 8, 8, generator=generator)
        x_ours = ours.step(out, t, x_ours).prev_sample
        x_theirs = theirs.step(out, t, x_theirs).prev_sample
        assert (x_ours - x_theirs).abs().max() < 1e-4 * max(1.0, x_theirs.abs().max().item())


def test_second_order_beats_first_order_on_the_exact_trajectory():
    """On a Gaussian data set the ideal denoiser is known; 2M must track the ODE better than the first-order solver."""
    def run(order):
        # The plugin's default trailing grid; grids uniform in t that end at t = 0 put one huge logSNR step last,
        # where any multistep extrapolation suffers (the DPM-Solver paper steps uniformly in logSNR for this reason).
        scheduler = create_scheduler("dpmpp-2m", solver_order=order)
        scheduler.set_timesteps(40)
        x = torch.randn(1, 1, 64, 64, generator=torch.Generator().manual_seed(0))
        x_start = x.clone()
        for t in scheduler.timesteps:
            alpha_bar = scheduler.alphas_cumprod[int(t)]
            # data ~ N(0, 0.25 I): x_t ~ N(0, (0.25 alpha_bar + 1 - alpha_bar) I), E[x0 | x_t] = 0.25 sqrt(ab) x_t / var
            variance = 0.25 * alpha_bar + 1 - alpha_bar
            x0 = 0.25 * alpha_bar**0.5 * x / variance
            eps = (x - alpha_bar**0.5 * x0) / (1 - alpha_bar) ** 0.5
            x = scheduler.step(eps, t, x).prev_sample
        alpha_bar_T = scheduler.alphas_cumprod[int(scheduler.timesteps[0])]
        exact = x_start * (0.25 / (0.25 * alpha_bar_T + 1 - alpha_bar_T)) ** 0.5  # the probability-flow ODE's end point
        return (x - exact).abs().mean().item()

    second, first = run(2), run(1)
    assert second < 0.1 * first, (second, first)


def test_passes_the_conformance_kit():
    check_scheduler("dpmpp-2m")


def test_swept_next_to_the_built_ins(tmp_path):
    """The plugin in a real sweep beside DDPM, DDIM, PNDM and diffusers' own DPM-Solver, on a tiny 28x28 UNet."""
    import os
    import subprocess
    import sys

    from diffusers import UNet2DModel

    torch.manual_seed(0)
    UNet2DModel(sample_size=28, in_channels=1, out_channels=1, block_out_channels=(8, 16), layers_per_block=1,
                down_block_types=("DownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "UpBlock2D"),
                norm_num_groups=4).save_pretrained(tmp_path / "model")
    out = tmp_path / "sweep"
    result = subprocess.run(
        [sys.executable, "-m", "ddpm_bench", "sweep",
         "--schedulers", "ddpm,ddim,pndm,dpmpp-2m,diffusers:DPMSolverMultistepScheduler",
         "--steps", "4,8", "-n", "6", "--batch-size", "3", "--model", str(tmp_path / "model"), "--out", str(out),
         "--no-progress"],
        capture_output=True, text=True, env={**os.environ, "DDPM_BENCH_CACHE": str(tmp_path / "cache")},
    )
    assert result.returncode == 0, result.stderr
    assert "10 points (0 failed)" in result.stdout
    report = (out / "report.md").read_text()
    assert "`dpmpp-2m` from plugin dpmsolver (ddpm-bench-dpmsolver 0.1.0)" in report
