"""``disttorch.vision.io``: image files to tensors and back (PNG and PPM/PGM built in, NPY
through numpy, other formats through Pillow when installed)."""
from ._png import PNGError  # noqa: F401
from .image import *  # noqa: F401,F403
from .image import __all__ as _image_all

__all__ = ["PNGError"] + _image_all
