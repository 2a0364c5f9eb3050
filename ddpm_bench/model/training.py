"""Training a diffusers ``UNet2DModel`` as a DDPM (Ho et al. 2020, Algorithm 1): how the embedded default is made.

Each step draws x_0 from the data, t ~ U{0..T-1} and eps ~ N(0, I), and takes a gradient step on
||eps - eps_theta(sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps, t)||^2 (the simplified loss, eq. 14).

Resumable: every ``checkpoint_every`` steps the model, its EMA, the optimiser, the learning-rate schedule and the
random-number state are written atomically to ``OUT/checkpoint.pt``; running the same command again continues from it.
At the end the EMA weights are saved as a diffusers folder ``OUT/model`` with a ``scheduler_config.json``.

``init_from`` starts a run from a saved model's weights instead of random ones (and its EMA from them too): how a
finished run is trained further under a fresh warm-up and cosine schedule.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import torch

from ddpm_bench.errors import BenchError
from ddpm_bench.model.data import EMBEDDED_MNIST, load_dataset, to_model_range
from ddpm_bench.model.loading import load_model
from ddpm_bench.schedulers.ddpm import DDPMScheduler
from ddpm_bench.util.atomic import atomic_file
from ddpm_bench.util.progress import duration

PROGRESS_EVERY = 10.0  # seconds between progress lines between checkpoints


@dataclass
class TrainConfig:
    """The full recipe; stored in every checkpoint so that a resumed run cannot silently change it."""

    data: str = EMBEDDED_MNIST
    image_size: int = 28
    channels: int = 1
    steps: int = 10000
    batch_size: int = 64
    lr: float = 1e-3
    warmup_steps: int = 500
    weight_decay: float = 0.0
    ema_decay: float = 0.999
    block_out_channels: tuple = (32, 64, 64)
    layers_per_block: int = 1
    norm_num_groups: int = 8
    num_train_timesteps: int = 1000
    beta_start: float = 0.0001
    beta_end: float = 0.02
    precision: str = "bf16"
    checkpoint_every: int = 250
    seed: int = 0
    init_from: Optional[str] = None  # a model source (folder, hub id, embedded:NAME) whose weights start the run


def build_unet(config: TrainConfig):
    """A UNet2DModel without attention: three resolutions (28, 14, 7 for MNIST)."""
    from diffusers import UNet2DModel  # diffusers: over a second to import, needed only to build a model

    levels = len(config.block_out_channels)
    return UNet2DModel(
        sample_size=config.image_size,
        in_channels=config.channels,
        out_channels=config.channels,
        block_out_channels=tuple(config.block_out_channels),
        layers_per_block=config.layers_per_block,
        down_block_types=("DownBlock2D",) * levels,
        up_block_types=("UpBlock2D",) * levels,
        norm_num_groups=config.norm_num_groups,
    )


def scheduler_config(config: TrainConfig) -> dict:
    """The training schedule as a diffusers ``scheduler_config.json`` (what samplers of this model must use)."""
    return {
        "_class_name": "DDPMScheduler",
        "num_train_timesteps": config.num_train_timesteps,
        "beta_start": config.beta_start,
        "beta_end": config.beta_end,
        "beta_schedule": "linear",
        "prediction_type": "epsilon",
        "variance_type": "fixed_small",
        "clip_sample": True,
        "clip_sample_range": 1.0,
    }


def _atomic_torch_save(obj, path: Path) -> None:
    with atomic_file(path) as handle:
        torch.save(obj, handle)


@dataclass
class TrainingRun:
    """What a checkpoint holds besides the recipe: the model, its EMA, the optimiser, the learning-rate schedule, the
    random-number state, and how far the run got (steps, seconds)."""

    model: Any
    ema: Any
    optimizer: torch.optim.Optimizer
    lr_schedule: Any
    generator: torch.Generator
    step: int = 0
    elapsed: float = 0.0

    def state(self, config: TrainConfig) -> dict:
        return {
            "config": _jsonable(config),
            "model": self.model.state_dict(),
            "ema": self.ema.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "lr_schedule": self.lr_schedule.state_dict(),
            "generator": self.generator.get_state(),
            "step": self.step,
            "elapsed": self.elapsed,
        }

    def load(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.ema.load_state_dict(state["ema"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.lr_schedule.load_state_dict(state["lr_schedule"])
        self.generator.set_state(state["generator"])
        self.step, self.elapsed = state["step"], state["elapsed"]


def train(config: TrainConfig, out: str | Path, log=print, export_only: bool = False) -> Path:
    """Train (or resume) into ``out``; returns the diffusers model folder. ``export_only`` saves the EMA weights of
    the latest checkpoint without training further (to look at, or ship, a run that is not finished)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    checkpoint_path = out / "checkpoint.pt"
    run = new_run(config)
    if checkpoint_path.exists():
        run.load(read_checkpoint(checkpoint_path, config))
        log(f"resumed from {checkpoint_path} at step {run.step}")
    elif export_only:
        raise BenchError(f"nothing to export: {checkpoint_path} does not exist")
    if not export_only:
        fit(run, config, out, log)
    return export(config, run.model, run.ema, out / "model")


def new_run(config: TrainConfig) -> TrainingRun:
    """The model (seeded, or ``init_from``'s weights), its EMA, AdamW and a cosine schedule with warm-up."""
    from diffusers.optimization import get_cosine_schedule_with_warmup  # diffusers: over a second to import
    from diffusers.training_utils import EMAModel

    torch.manual_seed(config.seed)
    model = build_unet(config)
    if config.init_from is not None:
        start_from(model, config)
    ema = EMAModel(model.parameters(), decay=config.ema_decay, use_ema_warmup=True, power=3 / 4)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    lr_schedule = get_cosine_schedule_with_warmup(optimizer, config.warmup_steps, config.steps)
    return TrainingRun(model, ema, optimizer, lr_schedule, torch.Generator().manual_seed(config.seed))


def read_checkpoint(path: Path, config: TrainConfig) -> dict:
    """The checkpoint at ``path``, refused (one line) when unreadable or written with another recipe."""
    try:
        state = torch.load(path, weights_only=True)  # a checkpoint never runs pickled code
    except Exception as error:
        reason = " ".join(str(error).split())[:160]
        raise BenchError(f"cannot read checkpoint {path}: {type(error).__name__}: {reason}") from error
    if state["config"] != _jsonable(config):
        raise BenchError(f"{path} was written with another recipe; use a new --out or the same options")
    return state


def fit(run: TrainingRun, config: TrainConfig, out: Path, log) -> None:
    """Train from ``run.step`` to ``config.steps``: a progress line every ``PROGRESS_EVERY`` seconds, and every
    ``checkpoint_every`` steps (and at the end) a checkpoint, a line of ``train_log.jsonl`` and a log line."""
    images = to_model_range(load_dataset(config.data, config.image_size, config.channels))
    noise_scheduler = DDPMScheduler(
        num_train_timesteps=config.num_train_timesteps, beta_start=config.beta_start, beta_end=config.beta_end
    )
    running, count, started = 0.0, 0, time.perf_counter() - run.elapsed
    start, last_line = (run.elapsed, run.step), time.perf_counter()
    run.model.train()
    while run.step < config.steps:
        running, count = running + training_step(run, config, images, noise_scheduler), count + 1
        run.step += 1
        now = time.perf_counter()
        if now - last_line >= PROGRESS_EVERY and run.step % config.checkpoint_every and run.step < config.steps:
            log(f"step {run.step}/{config.steps}: {time_left(now - started, run.step, config.steps, start)}")
            last_line = now
        if run.step % config.checkpoint_every == 0 or run.step == config.steps:
            run.elapsed = time.perf_counter() - started
            record = {"step": run.step, "loss": running / count, "lr": run.lr_schedule.get_last_lr()[0],
                      "seconds": run.elapsed}
            running, count = 0.0, 0
            save_checkpoint(run, config, out, record)
            log(f"step {run.step}/{config.steps} loss {record['loss']:.4f} lr {record['lr']:.2e}: "
                f"{time_left(run.elapsed, run.step, config.steps, start)}")
            last_line = time.perf_counter()


def training_step(run: TrainingRun, config: TrainConfig, images: torch.Tensor, noise_scheduler) -> float:
    """One gradient step on the simplified loss (Ho et al. 2020, eq. 14) for a batch drawn from ``images``; its loss."""
    index = torch.randint(0, len(images), (config.batch_size,), generator=run.generator)
    x0 = images[index]
    noise = torch.randn(x0.shape, generator=run.generator)
    t = torch.randint(0, config.num_train_timesteps, (config.batch_size,), generator=run.generator)
    noisy = noise_scheduler.add_noise(x0, noise, t)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=config.precision == "bf16"):
        prediction = run.model(noisy, t).sample
    loss = torch.nn.functional.mse_loss(prediction.float(), noise)
    run.optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(run.model.parameters(), 1.0)
    run.optimizer.step()
    run.lr_schedule.step()
    run.ema.step(run.model.parameters())
    return loss.item()


def save_checkpoint(run: TrainingRun, config: TrainConfig, out: Path, record: dict) -> None:
    """The run's state, atomically, to ``out/checkpoint.pt``, and ``record`` appended to ``out/train_log.jsonl``."""
    _atomic_torch_save(run.state(config), out / "checkpoint.pt")
    with open(out / "train_log.jsonl", "a") as handle:
        handle.write(json.dumps(record) + "\n")


def time_left(elapsed: float, step: int, steps: int, start: tuple[float, int]) -> str:
    """``12 min 04 s elapsed, about 1 h 02 min left``, at the rate measured since this run (or resume) began at
    ``start`` = (elapsed seconds, step) then."""
    text = f"{duration(elapsed)} elapsed"
    if step > start[1]:
        text += f", about {duration((elapsed - start[0]) / (step - start[1]) * (steps - step))} left"
    return text


def start_from(model, config: TrainConfig) -> None:
    """Load ``config.init_from``'s weights into ``model``: same architecture and training schedule required."""
    source = load_model(config.init_from, "cpu")
    expected = scheduler_config(config)
    differing = sorted(k for k, v in source.schedule.items() if k in expected and expected[k] != v)
    if differing:
        raise BenchError(f"--init-from {config.init_from} was trained with another schedule ({', '.join(differing)}) "
                         "than this recipe's")
    try:
        model.load_state_dict(source.unet.state_dict(), strict=True)
    except RuntimeError:
        raise BenchError(f"--init-from {config.init_from} has another architecture than this recipe's "
                         f"(block channels {list(config.block_out_channels)}, {config.layers_per_block} layer(s) per "
                         f"block, image size {config.image_size}); pass the same --block-out-channels and "
                         "--layers-per-block") from None


def export(config: TrainConfig, model, ema, folder: Path) -> Path:
    """Save the EMA weights as a diffusers folder with the training schedule beside them."""
    ema.copy_to(model.parameters())
    model.eval()
    model.save_pretrained(folder, safe_serialization=True)
    (folder / "scheduler_config.json").write_text(json.dumps(scheduler_config(config), indent=2) + "\n")
    return folder


def _jsonable(config: TrainConfig) -> dict:
    return json.loads(json.dumps(dataclasses.asdict(config)))


def config_from_options(**options: Optional[object]) -> TrainConfig:
    """A TrainConfig from CLI options, ignoring those left unset."""
    return TrainConfig(**{k: v for k, v in options.items() if v is not None})
