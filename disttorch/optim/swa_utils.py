"""Weight averaging: stochastic weight averaging (SWA) and exponential moving averages (EMA).

``AveragedModel`` keeps a copy of a model whose parameters are the running average of the
model's parameters at each ``update_parameters`` call; ``SWALR`` anneals the learning rate to a
constant SWA value; ``update_bn`` recomputes batch-norm statistics for the averaged weights.
"""
import copy
import itertools
import math
import numbers

from ..autograd import grad_mode
from ..nn.modules.batchnorm import _BatchNorm
from ..nn.modules.module import Module
from ..ops.creation import tensor as _tensor
from ..tensor import Tensor
from .lr_scheduler import LRScheduler

__all__ = ["AveragedModel", "SWALR", "update_bn", "get_ema_multi_avg_fn", "get_swa_multi_avg_fn",
           "get_ema_avg_fn", "get_swa_avg_fn"]


def _is_float(t):
    return t.is_floating_point() or t.is_complex()


def get_ema_avg_fn(decay=0.999):
    """``avg_fn`` of an exponential moving average: ``decay * averaged + (1 - decay) * current``."""
    _check_decay(decay)

    def ema_update(ema_param, current_param, num_averaged):
        return decay * ema_param + (1 - decay) * current_param
    return ema_update


def get_swa_avg_fn():
    """``avg_fn`` of the equal-weight running mean of every model seen."""
    def swa_update(averaged_param, current_param, num_averaged):
        return averaged_param + (current_param - averaged_param) / (num_averaged + 1)
    return swa_update


def get_ema_multi_avg_fn(decay=0.999):
    """``multi_avg_fn`` of an exponential moving average, updating the lists in place."""
    _check_decay(decay)

    def ema_update(ema_param_list, current_param_list, num_averaged):
        with grad_mode.no_grad():
            for ema, current in zip(ema_param_list, current_param_list):
                if _is_float(ema):
                    ema.lerp_(current, 1 - decay)
                else:  # integer buffers: rounded back to their dtype by copy_
                    ema.copy_(ema * decay + current * (1 - decay))
    return ema_update


def get_swa_multi_avg_fn():
    """``multi_avg_fn`` of the equal-weight running mean, updating the lists in place."""
    def swa_update(averaged_param_list, current_param_list, num_averaged):
        with grad_mode.no_grad():
            for averaged, current in zip(averaged_param_list, current_param_list):
                # (num_averaged may be a device tensor: the weight stays on the device)
                weight = 1 / (num_averaged + 1)
                if _is_float(averaged):
                    averaged.lerp_(current, weight.to(averaged.dtype)
                                   if isinstance(weight, Tensor) else weight)
                else:
                    averaged.copy_(averaged + (current - averaged) * weight)
    return swa_update


def _check_decay(decay):
    if not 0.0 <= decay <= 1.0:
        raise ValueError(f"Invalid decay value {decay} provided. Please provide a value in [0,1] "
                         f"range.")


class AveragedModel(Module):
    r"""A copy of ``model`` whose parameters are averaged over :meth:`update_parameters` calls.

    Args:
        model (Module): the model to average (deep-copied; the copy is ``self.module``).
        device (device, optional): where to keep the averaged model (default: ``model``'s).
        avg_fn (callable, optional): ``avg_fn(averaged, current, num_averaged) -> Tensor`` for
            one parameter; default: the equal-weight running mean (SWA).
        multi_avg_fn (callable, optional): ``multi_avg_fn(averaged_list, current_list,
            num_averaged)`` updating the lists in place (e.g. :func:`get_ema_multi_avg_fn`).
        use_buffers (bool): average the buffers too (default: copy them from ``model``).

    Example::

        >>> ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(0.999))
        >>> for x, y in loader:
        ...     loss_fn(model(x), y).backward(); optimizer.step(); optimizer.zero_grad()
        ...     ema.update_parameters(model)
    """

    def __init__(self, model, device=None, avg_fn=None, multi_avg_fn=None, use_buffers=False):
        super().__init__()
        if avg_fn is not None and multi_avg_fn is not None:
            raise AssertionError("Only one of avg_fn and multi_avg_fn should be provided")
        self.module = copy.deepcopy(model)
        if device is not None:
            self.module = self.module.to(device)
        self.register_buffer("n_averaged", _tensor(0, device=device))
        self.avg_fn = avg_fn
        self.multi_avg_fn = multi_avg_fn
        self.use_buffers = use_buffers

    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)

    def _averaged(self, model):
        if self.use_buffers:
            return (list(itertools.chain(self.module.parameters(), self.module.buffers())),
                    list(itertools.chain(model.parameters(), model.buffers())))
        return list(self.module.parameters()), list(model.parameters())

    def update_parameters(self, model):
        """Fold ``model``'s current parameters (and buffers, with ``use_buffers``) into the
        average; the first call copies them."""
        mine, theirs = self._averaged(model)
        if len(mine) != len(theirs):
            raise ValueError(f"update_parameters: the model has {len(theirs)} tensors to "
                             f"average, the averaged copy {len(mine)}")
        with grad_mode.no_grad():
            averaged = [p.detach() for p in mine]
            current = [q.detach().to(p.device) for p, q in zip(averaged, theirs)]
            # n_averaged is read on the host once per call: a CUDA model pays one small read
            first = int(self.n_averaged.item()) == 0
            if first:
                for p, q in zip(averaged, current):
                    p.copy_(q)
            elif self.avg_fn is not None:
                for p, q in zip(averaged, current):
                    p.copy_(self.avg_fn(p, q, self.n_averaged.to(p.device)))
            else:
                fn = self.multi_avg_fn or get_swa_multi_avg_fn()
                for group in _by_device_and_dtype(averaged, current):
                    fn(group[0], group[1], self.n_averaged.to(group[0][0].device))
            if not self.use_buffers:
                # buffers are not averaged: they follow the model
                for b, c in zip(self.module.buffers(), model.buffers()):
                    b.detach().copy_(c.detach().to(b.device))
            self.n_averaged += 1


def _by_device_and_dtype(averaged, current):
    groups = {}
    for p, q in zip(averaged, current):
        key = (str(p.device), p.dtype)
        pair = groups.setdefault(key, ([], []))
        pair[0].append(p)
        pair[1].append(q)
    return list(groups.values())


def update_bn(loader, model, device=None):
    """Recompute the running statistics of ``model``'s batch-norm layers with one pass over
    ``loader`` (a cumulative average over its batches), e.g. after SWA averaged the weights.

    Args:
        loader: an iterable of batches (a tensor, or a list/tuple whose first item is the input).
        model (Module): the model whose batch-norm statistics are recomputed.
        device (device, optional): where each input is moved before the forward pass.
    """
    momenta = {}
    for module in model.modules():
        if isinstance(module, _BatchNorm):
            module.reset_running_stats()
            momenta[module] = module.momentum
    if not momenta:
        return
    was_training = model.training
    model.train()
    for module in momenta:
        module.momentum = None  # the cumulative average over the pass
    with grad_mode.no_grad():
        for batch in loader:
            if isinstance(batch, (list, tuple)):
                batch = batch[0]
            if device is not None:
                batch = batch.to(device)
            model(batch)
    for module, momentum in momenta.items():
        module.momentum = momentum
    model.train(was_training)


class SWALR(LRScheduler):
    r"""Anneal each param group's learning rate from its value to ``swa_lr`` over
    ``anneal_epochs`` steps (cosine or linear), then hold it there.

    Args:
        optimizer (Optimizer): the wrapped optimizer.
        swa_lr (float or list): the SWA learning rate, one for all groups or one per group.
        anneal_epochs (int): steps of the annealing (0: jump to ``swa_lr`` at once).
        anneal_strategy (str): ``"cos"`` or ``"linear"``.
        last_epoch (int): the index of the last step (-1 starts anew).
    """

    def __init__(self, optimizer, swa_lr, anneal_epochs=10, anneal_strategy="cos", last_epoch=-1):
        groups = optimizer.param_groups
        lrs = list(swa_lr) if isinstance(swa_lr, (list, tuple)) else [swa_lr] * len(groups)
        if len(lrs) != len(groups):
            raise ValueError(f"swa_lr must have the same length as optimizer.param_groups: "
                             f"swa_lr has {len(lrs)}, optimizer.param_groups has {len(groups)}")
        for lr, group in zip(lrs, groups):
            group["swa_lr"] = lr
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"anneal_strategy must by one of 'cos' or 'linear', instead got "
                             f"{anneal_strategy}")
        if not isinstance(anneal_epochs, numbers.Integral) or anneal_epochs < 0:
            raise ValueError(f"anneal_epochs must be equal or greater than 0, got {anneal_epochs}")
        self.anneal_func = self._cosine_anneal if anneal_strategy == "cos" else \
            self._linear_anneal
        self.anneal_epochs = anneal_epochs
        super().__init__(optimizer, last_epoch)

    @staticmethod
    def _linear_anneal(t):
        return t

    @staticmethod
    def _cosine_anneal(t):
        return (1 - math.cos(math.pi * t)) / 2

    @staticmethod
    def _get_initial_lr(lr, swa_lr, alpha):
        # the learning rate the previous step started from, undoing its blend with swa_lr
        if alpha == 1:
            return swa_lr
        return (lr - alpha * swa_lr) / (1 - alpha)

    def get_lr(self):
        step = self._step_count - 1
        if self.anneal_epochs == 0:
            step = max(1, step)
        span = max(1, self.anneal_epochs)
        prev_alpha = self.anneal_func(max(0.0, min(1.0, (step - 1) / span)))
        prev_lrs = [self._get_initial_lr(group["lr"], group["swa_lr"], prev_alpha)
                    for group in self.optimizer.param_groups]
        alpha = self.anneal_func(max(0.0, min(1.0, step / span)))
        return [group["swa_lr"] * alpha + lr * (1 - alpha)
                for group, lr in zip(self.optimizer.param_groups, prev_lrs)]
