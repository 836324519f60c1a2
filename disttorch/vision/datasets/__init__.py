"""``disttorch.vision.datasets``: MNIST, FashionMNIST, CIFAR10/100, ImageFolder,
DatasetFolder and FakeData with torchvision's names and arguments.

Images come out as uint8 numpy arrays in HWC layout (HW for grayscale), where torchvision
returns PIL images; ``transforms.ToTensor()`` turns both into CHW float tensors in [0, 1].
"""
from .cifar import *  # noqa: F401,F403
from .cifar import __all__ as _cifar_all
from .fakedata import *  # noqa: F401,F403
from .fakedata import __all__ as _fakedata_all
from .folder import *  # noqa: F401,F403
from .folder import __all__ as _folder_all
from .mnist import *  # noqa: F401,F403
from .mnist import __all__ as _mnist_all
from .vision import *  # noqa: F401,F403
from .vision import __all__ as _vision_all

__all__ = _cifar_all + _fakedata_all + _folder_all + _mnist_all + _vision_all
