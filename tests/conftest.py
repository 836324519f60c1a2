import os

import numpy as np
import pytest

# Single-threaded BLAS keeps timings of concurrent test processes sane on small machines.
os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "mpi" in item.keywords or "slow" in item.keywords:
            continue
