"""Training: resumable to the bit, a diffusers folder that the sampler loads, and image folders as data."""

import json

import pytest
import torch
from PIL import Image

from ddpm_bench.errors import BenchError
from ddpm_bench.model.loading import load_model
from ddpm_bench.model.training import TrainConfig, train

TINY = dict(image_size=8, channels=1, block_out_channels=(8, 16), norm_num_groups=4, steps=6, batch_size=4,
            warmup_steps=2, checkpoint_every=3, precision="fp32")


@pytest.fixture(scope="module")
def digit_folder(tmp_path_factory):
    from ddpm_bench.model.data import mnist_digits

    folder = tmp_path_factory.mktemp("digits")
    for i, image in enumerate(mnist_digits()[0][::500]):
        Image.fromarray(image[0].numpy()).resize((12, 10)).save(folder / f"{i}.png")
    return folder


class Interrupt(Exception):
    pass


def stop_at(step):
    def log(line):
        if line.startswith(f"step {step}/"):
            raise Interrupt
    return log


def test_an_interrupted_run_resumes_to_the_same_weights(tmp_path, digit_folder):
    config = TrainConfig(data=str(digit_folder), **TINY)
    uninterrupted = train(config, tmp_path / "a", log=lambda line: None)
    with pytest.raises(Interrupt):
        train(config, tmp_path / "b", log=stop_at(3))
    lines = []
    resumed = train(config, tmp_path / "b", log=lines.append)
    assert lines[0] == f"resumed from {tmp_path / 'b' / 'checkpoint.pt'} at step 3"
    a, b = load_model(str(uninterrupted), "cpu").unet.state_dict(), load_model(str(resumed), "cpu").unet.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    log = [json.loads(line) for line in (tmp_path / "b" / "train_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [3, 6]
    assert lines[-1].startswith("step 6/6 loss ") and lines[-1].endswith(" left")  # the resumed part's own rate


def test_the_saved_folder_carries_its_schedule_and_loads(tmp_path, digit_folder):
    folder = train(TrainConfig(data=str(digit_folder), **TINY), tmp_path / "run", log=lambda line: None)
    model = load_model(str(folder), "cpu")
    assert model.sample_shape == (1, 8, 8)
    assert model.schedule == {"num_train_timesteps": 1000, "beta_start": 0.0001, "beta_end": 0.02,
                              "beta_schedule": "linear", "prediction_type": "epsilon", "variance_type": "fixed_small",
                              "clip_sample": True, "clip_sample_range": 1.0}


def test_export_only_and_a_changed_recipe(tmp_path, digit_folder):
    config = TrainConfig(data=str(digit_folder), **TINY)
    with pytest.raises(BenchError, match="nothing to export"):
        train(config, tmp_path / "run", export_only=True)
    with pytest.raises(Interrupt):
        train(config, tmp_path / "run", log=stop_at(3))
    assert (train(config, tmp_path / "run", log=lambda line: None, export_only=True) / "config.json").exists()
    with pytest.raises(BenchError, match="written with another recipe"):
        train(TrainConfig(data=str(digit_folder), **{**TINY, "lr": 0.5}), tmp_path / "run")


def test_folder_images_are_resized_and_centre_cropped(digit_folder):
    from ddpm_bench.model.data import image_folder

    images = image_folder(digit_folder, 8, 1)
    assert images.shape == (10, 1, 8, 8) and images.dtype == torch.uint8


def test_init_from_starts_at_the_given_weights_and_refuses_another_architecture(tmp_path, digit_folder):
    first = train(TrainConfig(data=str(digit_folder), **TINY), tmp_path / "first", log=lambda line: None)
    zero_steps = {**TINY, "steps": 0}
    again = train(TrainConfig(data=str(digit_folder), init_from=str(first), **zero_steps), tmp_path / "again",
                  log=lambda line: None)
    a, b = load_model(str(first), "cpu").unet.state_dict(), load_model(str(again), "cpu").unet.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    fresh = train(TrainConfig(data=str(digit_folder), **zero_steps), tmp_path / "fresh", log=lambda line: None)
    assert not torch.equal(load_model(str(fresh), "cpu").unet.state_dict()["conv_in.weight"], a["conv_in.weight"])
    wider = {**TINY, "block_out_channels": (8, 24)}
    with pytest.raises(BenchError, match="another architecture than this recipe's"):
        train(TrainConfig(data=str(digit_folder), init_from=str(first), **wider), tmp_path / "wider",
              log=lambda line: None)


def test_training_lines_say_the_time_left_at_the_rate_since_the_run_began():
    from ddpm_bench.model.training import time_left

    # resumed at step 10 after 60 s; 20 steps in the next 60 s: 3 s a step, 70 steps to go
    assert time_left(120, 30, 100, (60, 10)) == "2 min 00 s elapsed, about 3 min 30 s left"
    assert time_left(5, 0, 100, (5, 0)) == "5 s elapsed"  # no step yet: no estimate
