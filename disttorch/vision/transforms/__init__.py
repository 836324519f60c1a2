"""``disttorch.vision.transforms``: torchvision's image transforms on tensors in
``(..., C, H, W)`` layout and on HWC numpy arrays (the datasets' stand-in for PIL images).
See :mod:`~disttorch.vision.transforms.functional` for the accepted inputs."""
from . import functional  # noqa: F401
from ._resample import InterpolationMode  # noqa: F401
from .transforms import *  # noqa: F401,F403
from .transforms import __all__ as _transforms_all

__all__ = ["functional", "InterpolationMode"] + _transforms_all
