"""ddpm-bench performance, measured side by side in one process and printed as ratios.

    python benchmarks/bench.py [--model embedded:mnist] [--quick] [--out results/benchmarks]

1. sampling: ours against diffusers' DDPMPipeline, DDIMPipeline and PNDMPipeline (same UNet, scheduler settings,
   steps, N, batch size), runs interleaved, median of repeats: ratio = ours / diffusers (<= 1 is the target);
2. harness overhead: a sweep's wall time (sampling, scheduler steps, noise, features, FID/KID and their intervals,
   FD-infinity, PRDC, near copies, the libraries they import) over the sum of its UNet forward times measured in the
   same process (issue 18's goal: <= 1.02); and the finished sweep run again with the CLI, as a user would, over the
   first run's wall time (goal: <= 0.02; the first run's time leaves out importing torch and diffusers, which the
   bench has done before it, so the ratio errs high);
3. scheduler step: ours against diffusers' step on the same batch;
4. metric features: mnist-cnn images per second;
5. fast mode: bf16 autocast (+ channels_last) against diffusers fp32, and its FID change next to the FID difference
   between two fp32 seeds (run-to-run noise);
6. peak memory of streaming sampling + scoring as N grows (separate processes, ru_maxrss).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import torch

from ddpm_bench import create_scheduler
from ddpm_bench.model.loading import load_model
from ddpm_bench.sampling.loop import Precision, Sampler, sample_generators, sample_images
from ddpm_bench.util.provenance import device_description, library_versions

PIPELINES = {"ddpm": "DDPMPipeline", "ddim": "DDIMPipeline", "pndm": "PNDMPipeline"}


def timed(function) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


@contextlib.contextmanager
def unet_clock() -> Iterator[dict]:
    """Every UNet2DModel forward call inside the block, counted and timed: ``{"seconds": ..., "calls": ...}``."""
    from diffusers import UNet2DModel

    clock = {"seconds": 0.0, "calls": 0}
    original = UNet2DModel.forward

    def counted(self, *args, **kwargs):
        started = time.perf_counter()
        try:
            return original(self, *args, **kwargs)
        finally:
            clock["seconds"] += time.perf_counter() - started
            clock["calls"] += 1

    UNet2DModel.forward = counted
    try:
        yield clock
    finally:
        UNet2DModel.forward = original


def timed_outside_unet(function) -> tuple[float, float, int]:
    """Wall seconds of ``function``, the seconds spent outside the UNet's forward calls, and the number of calls."""
    with unet_clock() as clock:
        seconds = timed(function)
    return seconds, seconds - clock["seconds"], clock["calls"]


def bench_sampling(model, steps: int, n: int, batch: int, repeats: int) -> dict:
    """Our sampling loop against diffusers' pipeline on the same UNet, interleaved, median of ``repeats``; each with
    the time it spends outside the UNet per model call (scheduler steps, noise, conversions: where they differ)."""
    import diffusers

    results = {}
    for name, pipeline_name in PIPELINES.items():
        scheduler_class = getattr(diffusers, f"{name.upper()}Scheduler")
        pipeline = getattr(diffusers, pipeline_name)(
            unet=model.unet, scheduler=scheduler_class.from_config(model.schedule)
        )
        pipeline.set_progress_bar_config(disable=True)

        def ours():
            sample_images(
                Sampler(model, create_scheduler(name, **_own(name, model.schedule)), steps, batch_size=batch,
                        progress=False),
                n,
            )

        def theirs():
            for start in range(0, n, batch):
                rows = range(start, min(n, start + batch))
                pipeline(
                    batch_size=len(rows), generator=sample_generators(0, rows), num_inference_steps=steps,
                    output_type="np",
                )

        runs = {"ours": [], "diffusers": []}
        for _ in range(repeats):
            runs["ours"].append(timed_outside_unet(ours))
            runs["diffusers"].append(timed_outside_unet(theirs))
        result = {}
        for side, measured in runs.items():
            result[f"{side}_s"] = statistics.median(seconds for seconds, _, _ in measured)
            result[f"{side}_outside_unet_ms_per_call"] = statistics.median(
                outside / calls * 1000 for _, outside, calls in measured)
            result[f"{side}_unet_calls"] = measured[-1][2]  # the first run of all also holds the warm-up calls
        results[name] = {**result, "ratio": result["ours_s"] / result["diffusers_s"]}
    return results


def _own(name: str, schedule: dict) -> dict:
    """The model's schedule entries our scheduler of that name takes."""
    from ddpm_bench.schedulers.specs import accepted_options, scheduler_registration

    accepted = accepted_options(scheduler_registration(name).factory)
    return {k: v for k, v in schedule.items() if accepted is None or k in accepted}


def bench_overhead(model_source: str, steps: list[int], n: int, batch: int, out: Path) -> dict:
    """Sum of UNet forward times inside a real sweep (all three built-ins), against the sweep's wall time; then the
    finished sweep run again in a fresh process (after one run that writes its report, as the CLI's first run does)."""
    from ddpm_bench.runs.sweep import run_sweep
    from ddpm_bench.settings import config_from

    config = config_from(model=model_source, steps=steps, n=n, batch_size=batch)
    with unet_clock() as clock:
        wall = timed(lambda: run_sweep(config, out, force=True, progress=False))
    again = [sys.executable, "-m", "ddpm_bench", "sweep", "--config", str(out / "sweep.toml"), "--out", str(out),
             "--no-progress"]
    subprocess.run(again, capture_output=True, check=True)
    rerun = timed(lambda: subprocess.run(again, capture_output=True, check=True))
    return {"sweep_wall_s": wall, "unet_forward_s": clock["seconds"], "ratio": wall / clock["seconds"],
            "rerun_s": rerun, "rerun_ratio": rerun / wall}


def bench_steps(batch: int, repeats: int, steps: int) -> dict:
    import diffusers

    results = {}
    sample = torch.randn(batch, 1, 28, 28)
    for name in PIPELINES:
        ours, theirs = create_scheduler(name), getattr(diffusers, f"{name.upper()}Scheduler")()
        times = {}
        for label, scheduler in (("ours", ours), ("diffusers", theirs)):
            def loop():
                scheduler.set_timesteps(steps)
                x = sample
                generator = torch.Generator().manual_seed(0)
                for t in scheduler.timesteps:
                    kwargs = {"generator": generator} if name == "ddpm" else {}
                    x = scheduler.step(0.1 * x, t, x, **kwargs).prev_sample

            times[label] = statistics.median(timed(loop) for _ in range(repeats)) / len(scheduler.timesteps)
        results[name] = {"ours_ms": times["ours"] * 1000, "diffusers_ms": times["diffusers"] * 1000,
                         "ratio": times["ours"] / times["diffusers"]}
    return results


def bench_features(count: int) -> dict:
    from ddpm_bench.metrics.backbones import get_backbone
    from ddpm_bench.model.data import mnist_digits

    backbone, images = get_backbone("mnist-cnn"), mnist_digits()[0][:count]
    seconds = timed(lambda: [backbone.features(images[i : i + 500]) for i in range(0, len(images), 500)])
    return {"images": len(images), "seconds": seconds, "images_per_second": len(images) / seconds}


def bench_fast_mode(model_source: str, steps: int, n: int, batch: int) -> dict:
    """bf16 autocast + channels_last against fp32, ours and diffusers' DDIM, timed side by side; and what it costs in
    FID: the bf16 - fp32 difference on the same x_T (paired, so its interval is narrow), beside the difference
    between two fp32 seeds (unpaired: run-to-run noise), each with its 95 % interval (ddpm_bench.stats)."""
    import diffusers

    from ddpm_bench.metrics.backbones import get_backbone
    from ddpm_bench.metrics.reference import resolve_reference
    from ddpm_bench.stats import PointFeatures, compare

    backbone = get_backbone("mnist-cnn")
    reference = resolve_reference("embedded:mnist", backbone, 28, 1).for_statistics()
    model = load_model(model_source, "cpu")

    def run(precision: Precision, seed: int) -> tuple[float, PointFeatures]:
        sampler = Sampler(model, create_scheduler("ddim", **_own("ddim", model.schedule)), steps, batch_size=batch,
                          precision=precision, progress=False)
        started, images = time.perf_counter(), [b.images for b in sampler.stream(n, seed)]
        seconds = time.perf_counter() - started
        features = torch.cat([backbone.features(chunk) for chunk in images]).float().numpy()
        return seconds, PointFeatures(features, reference, with_kid=False)

    pipeline = diffusers.DDIMPipeline(unet=model.unet, scheduler=diffusers.DDIMScheduler.from_config(model.schedule))
    pipeline.set_progress_bar_config(disable=True)
    diffusers_s = timed(lambda: [pipeline(batch_size=min(batch, n - s), num_inference_steps=steps, output_type="np",
                                          generator=sample_generators(0, range(s, min(n, s + batch))))
                                 for s in range(0, n, batch)])
    fp32_s, fp32 = run(Precision("fp32"), 0)
    _, fp32_seed1 = run(Precision("fp32"), 1)
    fast_s, fast = run(Precision("bf16", channels_last=True), 0)  # last: channels_last converts the UNet in place

    def fid_difference(a: PointFeatures, b: PointFeatures, paired: bool) -> dict:
        (fid,) = compare(a, b, ("a", "b"), paired=paired, metrics=("fid",))
        return {"difference": fid.difference, "low": fid.low, "high": fid.high, "verdict": fid.verdict}

    return {
        "n": n, "steps": steps, "fp32_s": fp32_s, "fast_s": fast_s, "diffusers_fp32_s": diffusers_s,
        "speedup_vs_ours_fp32": fp32_s / fast_s, "speedup_vs_diffusers_fp32": diffusers_s / fast_s,
        "fid_fp32_seed0": fp32.estimates()["fid"], "fid_fast_seed0": fast.estimates()["fid"],
        "fid_fp32_seed1": fp32_seed1.estimates()["fid"],
        "fid_change_paired": fid_difference(fast, fp32, paired=True),
        "fid_seed_noise_unpaired": fid_difference(fp32_seed1, fp32, paired=False),
    }


MEMORY_CHILD = """
import sys, torch
from ddpm_bench import create_scheduler
from ddpm_bench.model.loading import load_model
from ddpm_bench.sampling.loop import Sampler
from ddpm_bench.metrics.backbones import get_backbone
from ddpm_bench.metrics.reference import resolve_reference
from ddpm_bench.metrics.scoring import Scorer
n = int(sys.argv[1]); model = load_model(sys.argv[2], "cpu")
backbone = get_backbone("mnist-cnn"); scorer = Scorer(backbone, resolve_reference("embedded:mnist", backbone, 28, 1))
for batch in Sampler(model, create_scheduler("ddim"), 1, batch_size=250, progress=False).stream(n):
    scorer.update(batch.images)
scorer.compute()
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over fork and exec, so a child would report its parent's peak
print(next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:")))
"""


def bench_memory(model_source: str, sizes: list[int]) -> dict:
    peaks = {}
    for n in sizes:
        out = subprocess.run(
            [sys.executable, "-c", MEMORY_CHILD, str(n), model_source], capture_output=True, text=True, check=True
        )
        peaks[n] = int(out.stdout.strip().splitlines()[-1]) / 1024
    first = peaks[sizes[0]]
    return {"peak_mib": peaks, "ratio_largest_to_smallest": peaks[sizes[-1]] / first}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="embedded:mnist")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke test (CI): every section at a small N, one repeat; its figures measure nothing")
    parser.add_argument("--out", default="results/benchmarks")
    parser.add_argument("--skip", default="", help="comma-separated sections to skip")
    args = parser.parse_args()
    quick, skip = args.quick, set(filter(None, args.skip.split(",")))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    model = load_model(args.model, "cpu")
    results = {"machine": device_description(torch.device("cpu")),
               "versions": library_versions(), "quick": quick}
    sections = {
        "sampling": lambda: bench_sampling(model, *((5, 16, 16, 1) if quick else (20, 128, 128, 3))),
        "steps": lambda: bench_steps(*((16, 1, 5) if quick else (128, 7, 50))),
        "features": lambda: bench_features(500 if quick else 5000),
        "overhead": lambda: bench_overhead(args.model, *(([2], 16, 16) if quick else ([10, 20], 200, 200)),
                                           out / "overhead-sweep"),
        "fast_mode": lambda: bench_fast_mode(args.model, *((5, 32, 16) if quick else (20, 500, 250))),
        "memory": lambda: bench_memory(args.model, [200, 400] if quick else [1000, 5000, 10000]),
    }
    for name, run in sections.items():
        if name in skip:
            continue
        started = time.perf_counter()
        results[name] = run()
        print(f"{name} ({time.perf_counter() - started:.0f}s): {json.dumps(results[name], default=str)}", flush=True)
    path = out / "benchmarks.json"
    previous = json.loads(path.read_text()) if skip and path.exists() else {}
    path.write_text(json.dumps({**previous, **results}, indent=2, default=str) + "\n")
    print(f"peak memory of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
