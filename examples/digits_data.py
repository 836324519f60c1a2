"""The handwritten digits shipped in ``examples/data/digits.npz`` as disttorch datasets."""
import os

import numpy as np

import disttorch
from disttorch.utils.data import TensorDataset

PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "digits.npz")


def digits(test_fraction=0.2, seed=0):
    """Train and test ``TensorDataset``s of (1x8x8 float image in [0, 1], int64 label)."""
    with np.load(PATH) as archive:
        images = archive["images"].astype(np.float32)[:, None] / 16.0
        labels = archive["labels"].astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(labels))
    n_test = int(len(labels) * test_fraction)
    test, train = order[:n_test], order[n_test:]

    def make(idx):
        return TensorDataset(disttorch.from_numpy(np.ascontiguousarray(images[idx])),
                             disttorch.from_numpy(labels[idx]))
    return make(train), make(test)
