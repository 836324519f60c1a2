"""``disttorch.vision.models``: image classification networks with torchvision's names,
arguments and state-dict keys (ResNet, VGG, MobileNetV2) and a LeNet-5 for MNIST."""
from .lenet import *  # noqa: F401,F403
from .lenet import __all__ as _lenet_all
from .mobilenetv2 import *  # noqa: F401,F403
from .mobilenetv2 import __all__ as _mobilenet_all
from .resnet import *  # noqa: F401,F403
from .resnet import __all__ as _resnet_all
from .vgg import *  # noqa: F401,F403
from .vgg import __all__ as _vgg_all

__all__ = _lenet_all + _mobilenet_all + _resnet_all + _vgg_all + ["list_models", "get_model"]


def list_models():
    """The names of the model builders, sorted (``"lenet"``, ``"resnet18"``, ...)."""
    return sorted(name for name in __all__ if name[0].islower() and name not in
                  ("list_models", "get_model"))


def get_model(name, **config):
    """Build a model by builder name: ``get_model("resnet18", num_classes=10)``."""
    if name.lower() not in list_models():
        raise ValueError(f"Unknown model {name!r}; available: {', '.join(list_models())}")
    return globals()[name.lower()](**config)
