"""``disttorch.vision``: the counterpart of torchvision: ``datasets`` (MNIST, FashionMNIST,
CIFAR10/100, ImageFolder, FakeData), ``transforms``, ``models`` (ResNet, VGG, MobileNetV2,
LeNet) with torchvision's state-dict keys, ``io`` (PNG/PPM/NPY files) and ``utils``
(``make_grid``, ``save_image``).

Where torchvision hands around PIL images, disttorch.vision uses uint8 numpy arrays in HWC
layout (Pillow is optional): the datasets return them, the transforms accept them (and
tensors in CHW layout), ``transforms.ToTensor()`` converts them. Scripts written for
torchvision run with ``import disttorch.vision as torchvision``.
"""
from . import datasets, io, models, transforms, utils  # noqa: F401

__all__ = ["datasets", "io", "models", "transforms", "utils", "get_image_backend",
           "set_image_backend"]

_image_backend = "numpy"


def get_image_backend():
    """The image type of the datasets: ``"numpy"`` (HWC uint8 arrays)."""
    return _image_backend


def set_image_backend(backend):
    """Accepts only ``"numpy"``: the datasets always produce HWC numpy arrays."""
    if backend != "numpy":
        raise ValueError(f"Invalid backend {backend!r}: disttorch.vision's datasets produce "
                         "HWC numpy arrays ('numpy'), which the transforms accept")
