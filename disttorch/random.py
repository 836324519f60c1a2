"""``disttorch.random``: the default CPU generator's seeding and state, and ``fork_rng``
(PyTorch's ``torch.random``)."""
from .ops.random import (Generator, default_generator, fork_rng, get_rng_state, initial_seed,
                         manual_seed, seed, set_rng_state)

__all__ = ["Generator", "default_generator", "fork_rng", "get_rng_state", "initial_seed",
           "manual_seed", "seed", "set_rng_state"]
