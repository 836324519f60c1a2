"""Optimizers (``disttorch.optim.SGD``, ``Adam``, ...) and learning-rate schedulers.

The optimizers follow PyTorch's single-tensor update formulas. They accept PyTorch's
implementation flags ``foreach``, ``fused`` and ``capturable`` and store them in the parameter
groups (there is one implementation per optimizer, so they change nothing);
``differentiable=True`` raises, since optimizer steps are never recorded by autograd.
"""
from . import lr_scheduler, swa_utils
from .adadelta import Adadelta
from .adafactor import Adafactor
from .adagrad import Adagrad
from .adam import Adam
from .adamax import Adamax
from .adamw import AdamW
from .asgd import ASGD
from .lbfgs import LBFGS
from .muon import Muon
from .nadam import NAdam
from .optimizer import Optimizer
from .radam import RAdam
from .rmsprop import RMSprop
from .rprop import Rprop
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adamax", "NAdam", "RAdam",
           "Adadelta", "Rprop", "ASGD", "LBFGS", "Adafactor", "Muon", "lr_scheduler", "swa_utils"]
