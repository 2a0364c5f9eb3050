"""The sampling loop: parity with diffusers' pipelines, reproducibility, NFE, image conversion, NaN detection."""

import json
import sys

import diffusers
import numpy as np
import processes
import pytest
import torch

from ddpm_bench import create_scheduler
from ddpm_bench.errors import ConfigError, SamplingError
from ddpm_bench.model.data import to_uint8
from ddpm_bench.model.loading import load_model
from ddpm_bench.sampling.loop import Sampler, sample_generators, sample_images


@pytest.fixture(scope="module")
def model(tiny_model_dir):
    return load_model(str(tiny_model_dir), "cpu")


PIPELINES = [
    ("ddpm", {}, diffusers.DDPMPipeline, diffusers.DDPMScheduler, {}),
    ("ddpm", {"variance_type": "fixed_large"}, diffusers.DDPMPipeline, diffusers.DDPMScheduler, {}),
    ("ddim", {}, diffusers.DDIMPipeline, diffusers.DDIMScheduler, {"eta": 0.0, "use_clipped_model_output": True}),
    (
        "ddim",
        {"eta": 1.0},
        diffusers.DDIMPipeline,
        diffusers.DDIMScheduler,
        {"eta": 1.0, "use_clipped_model_output": True},
    ),
    (
        "ddim",
        {"use_clipped_model_output": False},
        diffusers.DDIMPipeline,
        diffusers.DDIMScheduler,
        {"eta": 0.0, "use_clipped_model_output": False},
    ),
    ("pndm", {}, diffusers.PNDMPipeline, diffusers.PNDMScheduler, {}),
]


@pytest.mark.parametrize("name,config,pipeline_class,scheduler_class,call_kwargs", PIPELINES, ids=lambda v: str(v))
def test_same_images_as_diffusers_pipelines(model, name, config, pipeline_class, scheduler_class, call_kwargs):
    """Same UNet, same per-sample generators: the same images (uint8 may differ by one level from float round-off)."""
    n, seed, steps = 6, 3, 10
    ours = sample_images(Sampler(model, create_scheduler(name, **config), steps, batch_size=n, progress=False), n, seed)
    scheduler = scheduler_class(**{k: v for k, v in config.items() if k not in call_kwargs})
    pipeline = pipeline_class(unet=model.unet, scheduler=scheduler)
    pipeline.set_progress_bar_config(disable=True)
    theirs = pipeline(
        batch_size=n, generator=sample_generators(seed, range(n)), num_inference_steps=steps, output_type="np",
        **call_kwargs,
    ).images
    theirs = torch.from_numpy((theirs * 255).round().astype(np.uint8)).permute(0, 3, 1, 2)
    difference = (ours.int() - theirs.int()).abs()
    assert difference.max() <= 1
    assert (difference == 0).float().mean() > 0.99


@pytest.mark.parametrize("name", ["ddpm", "ddim:eta=1", "pndm"])
def test_batch_size_does_not_change_any_sample(model, name):
    from ddpm_bench.schedulers.specs import build_scheduler, parse_scheduler_spec

    runs = [
        sample_images(
            Sampler(model, build_scheduler(parse_scheduler_spec(name)), 5, batch_size=b, progress=False), 7, 11
        )
        for b in (1, 3, 7)
    ]
    assert torch.equal(runs[0], runs[1]) and torch.equal(runs[0], runs[2])


def test_a_sample_depends_only_on_seed_and_index(model):
    sampler = Sampler(model, create_scheduler("ddpm"), 5, batch_size=4, progress=False)
    full = torch.cat([b.images for b in sampler.stream(8, seed=5)])
    subset = torch.cat([b.images for b in sampler.stream(3, seed=5, indices=[6, 2, 7])])
    assert torch.equal(subset, full[[6, 2, 7]])
    other_seed = sample_images(sampler, 8, seed=6)
    assert not torch.equal(other_seed, full)


@pytest.mark.parametrize(
    "name,steps,expected", [("ddpm", 7, 7), ("ddim", 7, 7), ("pndm", 7, 16), ("pndm:skip_prk_steps=true", 7, 8)]
)
def test_nfe_is_counted_in_the_loop(tiny_model_dir, name, steps, expected):
    from ddpm_bench.schedulers.specs import build_scheduler, parse_scheduler_spec

    model = load_model(str(tiny_model_dir), "cpu")  # fresh: warm-up runs once per loaded model
    scheduler = build_scheduler(parse_scheduler_spec(name))
    calls = []
    original = model.unet.forward
    model.unet.forward = lambda *a, **k: calls.append(1) or original(*a, **k)
    try:
        sampler = Sampler(model, scheduler, steps, batch_size=2, progress=False)
        sample_images(sampler, 4)
    finally:
        del model.unet.forward
    assert sampler.stats.nfe == expected == len(scheduler.timesteps)
    warmup_calls = 2
    assert len(calls) == warmup_calls + 2 * expected
    calls.clear()
    model.unet.forward = lambda *a, **k: calls.append(1) or original(*a, **k)
    try:
        sample_images(Sampler(model, scheduler, steps, batch_size=2, progress=False), 4)
    finally:
        del model.unet.forward
    assert len(calls) == 2 * expected  # the same shape again: no second warm-up
    assert len(sampler.stats.batch_seconds) == 2
    assert sampler.stats.seconds_per_image > 0


def test_images_are_converted_as_diffusers_does():
    x = torch.tensor([-1.5, -1.0, -0.5, 0.0, 0.0039, 0.5, 1.0, 2.0])
    expected = (np.clip(x.numpy() / 2 + 0.5, 0, 1) * 255).round().astype(np.uint8)
    assert to_uint8(x).numpy().tolist() == expected.tolist()
    assert to_uint8(x).dtype == torch.uint8


def test_non_finite_samples_stop_the_run_with_the_step_named(tiny_model_dir):
    model = load_model(str(tiny_model_dir), "cpu")
    with torch.no_grad():
        model.unet.conv_out.bias.fill_(float("nan"))
    sampler = Sampler(model, create_scheduler("ddim"), 5, batch_size=2, progress=False, label="ddim")
    with pytest.raises(SamplingError, match=r"ddim: non-finite values after step 1/5 \(timestep 800\)"):
        sample_images(sampler, 2)


@pytest.mark.parametrize("n", [0, -1, 2.5])
def test_bad_sample_counts(model, n):
    with pytest.raises(ConfigError, match="number of samples"):
        sample_images(Sampler(model, create_scheduler("ddim"), 5, progress=False), n)


def test_cli_sample_writes_grid_images_and_provenance(tiny_model_dir, tmp_path):
    out = tmp_path / "out"
    result = processes.ddpm_bench(
        "sample", "--model", str(tiny_model_dir), "--scheduler", "ddim:eta=0.5",
        "--steps", "4", "-n", "5", "--batch-size", "2", "--seed", "1", "--out", str(out), "--save-images",
    )
    assert result.returncode == 0, result.stderr
    record = json.loads((out / "sample.json").read_text())
    assert record["scheduler"] == "ddim:eta=0.5" and record["scheduler_config"]["eta"] == 0.5
    assert record["nfe"] == 4 and record["images"] == 5 and record["timed_batches"] == 3
    assert record["plugin"] == "ddim" and record["model_sha256"]
    assert (out / "grid.png").exists() and len(list((out / "images").glob("*.png"))) == 5


@pytest.mark.parametrize(
    "arguments,match",
    [
        (["--scheduler", "ddin", "--steps", "4"], "unknown scheduler 'ddin' (did you mean 'ddim'?)"),
        (["--scheduler", "ddim:eta=x", "--steps", "4"], "option eta='x' has the wrong type"),
        (["--scheduler", "ddim", "--steps", "0"], "num_inference_steps=0 is outside"),
        (["--scheduler", "ddim", "--steps", "4", "--model", "/nonexistent/model"], "is not a folder, a hub id"),
    ],
)
def test_cli_sample_bad_input_is_one_line(tiny_model_dir, tmp_path, arguments, match):
    argv = [sys.executable, "-m", "ddpm_bench", "sample", "--model", str(tiny_model_dir), "-n", "2",
            "--out", str(tmp_path / "o")]
    result = processes.run(argv + arguments)
    assert result.returncode == 2
    assert match in result.stderr and result.stderr.count("\n") == 1
