"""All layer classes of ``disttorch.nn``, one file per family (as in PyTorch)."""
from .._aggregate import collect

__all__ = collect(__name__, ["module", "container", "linear", "activation", "loss", "dropout",
                             "sparse", "flatten", "conv", "pooling", "upsampling", "batchnorm",
                             "normalization", "syncbatchnorm", "padding", "distance", "pixelshuffle", "rnn",
                             "attention", "transformer", "lazy", "adaptive",
                             "linear_cross_entropy"], globals())
