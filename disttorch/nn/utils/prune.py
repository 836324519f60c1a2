"""Pruning: zero out parts of a module's parameters through a mask (``torch.nn.utils.prune``).

Pruning ``weight`` reparameterizes it: the original values stay a parameter, ``weight_orig``,
the mask becomes a buffer, ``weight_mask``, and ``weight`` turns into a plain attribute,
``weight_orig * weight_mask``, recomputed by a forward pre-hook before every call (so gradients
reach ``weight_orig`` through the mask). Pruning the same parameter again combines the masks:
the new method only chooses among the entries still alive. :func:`remove` makes the pruning
permanent.
"""
import numbers
from abc import ABC, abstractmethod
from collections.abc import Iterable

from ...autograd import grad_mode
from ...ops.creation import ones_like, zeros_like

__all__ = ["BasePruningMethod", "PruningContainer", "Identity", "RandomUnstructured",
           "L1Unstructured", "RandomStructured", "LnStructured", "CustomFromMask", "identity",
           "random_unstructured", "l1_unstructured", "random_structured", "ln_structured",
           "global_unstructured", "custom_from_mask", "remove", "is_pruned"]


class BasePruningMethod(ABC):
    r"""Base class of the pruning methods: :meth:`compute_mask` chooses the mask; the class
    methods attach it to a module.

    A subclass sets ``PRUNING_TYPE`` to ``"unstructured"`` (any entries), ``"structured"``
    (whole slices along ``self.dim``) or ``"global"`` (across parameters), which decides how
    its mask combines with an earlier one.
    """

    _tensor_name = None

    def __call__(self, module, inputs):
        # the forward pre-hook: the pruned tensor from the current original and mask
        setattr(module, self._tensor_name, self.apply_mask(module))

    @abstractmethod
    def compute_mask(self, t, default_mask):
        """The mask for the importance scores ``t``, honouring ``default_mask`` (the mask of
        earlier prunings, same shape as ``t``)."""

    def apply_mask(self, module):
        """``module``'s original tensor times its mask: the pruned tensor."""
        if self._tensor_name is None:
            raise AssertionError(f"Module {module} has to be pruned")
        orig = getattr(module, self._tensor_name + "_orig")
        mask = getattr(module, self._tensor_name + "_mask")
        return mask.to(dtype=orig.dtype) * orig

    @classmethod
    def apply(cls, module, name, *args, importance_scores=None, **kwargs):
        """Prune ``module.<name>`` with ``cls(*args, **kwargs)``: register ``name_orig``,
        ``name_mask`` and the forward pre-hook, combining with an earlier pruning of it.

        Args:
            module (nn.Module): the module holding the tensor.
            name (str): the parameter's name in ``module``.
            importance_scores (Tensor, optional): scores the mask is computed from (the
                parameter itself when None); same shape as the parameter.
        """
        method = cls._composite(module, name, *args, **kwargs)
        orig = getattr(module, name)
        if importance_scores is not None:
            if importance_scores.shape != orig.shape:
                raise AssertionError(f"importance_scores should have the same shape as "
                                     f"parameter {name} of {module}")
        else:
            importance_scores = orig
        first = not isinstance(method, PruningContainer)
        if first:
            module.register_parameter(name + "_orig", orig)
            del module._parameters[name]
            default_mask = ones_like(orig)
        else:
            default_mask = getattr(module, name + "_mask").detach().clone()
        try:
            with grad_mode.no_grad():
                mask = method.compute_mask(importance_scores, default_mask=default_mask)
            module.register_buffer(name + "_mask", mask)
            setattr(module, name, method.apply_mask(module))
            module.register_forward_pre_hook(method)
        except Exception:
            # nothing is lost: a failed first pruning puts the parameter back
            if first:
                module.register_parameter(name, getattr(module, name + "_orig"))
                del module._parameters[name + "_orig"]
            raise
        return method

    @classmethod
    def _composite(cls, module, name, *args, **kwargs):
        """The method to attach: ``cls``'s, or a container of the earlier ones and it."""
        old = [(key, hook) for key, hook in module._forward_pre_hooks.items()
               if isinstance(hook, BasePruningMethod) and hook._tensor_name == name]
        if len(old) > 1:
            raise AssertionError(f"Avoid adding multiple pruning hooks to the same tensor {name} "
                                 f"of module {module}. Use a PruningContainer.")
        method = cls(*args, **kwargs)
        method._tensor_name = name
        for key, _ in old:
            del module._forward_pre_hooks[key]
        if old:
            earlier = old[0][1]
            if isinstance(earlier, PruningContainer):
                earlier.add_pruning_method(method)
                return earlier
            container = PruningContainer(earlier)
            container.add_pruning_method(method)
            return container
        return method

    def prune(self, t, default_mask=None, importance_scores=None):
        """``t`` times the mask this method computes from ``importance_scores`` (``t`` when
        None), respecting ``default_mask``."""
        if importance_scores is not None:
            if importance_scores.shape != t.shape:
                raise AssertionError(f"importance_scores should have the same shape as tensor "
                                     f"t, got {importance_scores.shape} vs {t.shape}")
        else:
            importance_scores = t
        default_mask = default_mask if default_mask is not None else ones_like(t)
        return t * self.compute_mask(importance_scores, default_mask=default_mask)

    def remove(self, module):
        """Make the pruning permanent: ``name`` becomes a parameter holding the pruned values
        (the ``_orig`` parameter object, so optimizers keep it); ``_orig`` and ``_mask`` go."""
        if self._tensor_name is None:
            raise AssertionError(f"Module {module} has to be pruned before pruning can be "
                                 f"removed")
        weight = self.apply_mask(module)
        if hasattr(module, self._tensor_name):
            delattr(module, self._tensor_name)
        orig = module._parameters[self._tensor_name + "_orig"]
        with grad_mode.no_grad():
            orig.copy_(weight.detach())
        del module._parameters[self._tensor_name + "_orig"]
        del module._buffers[self._tensor_name + "_mask"]
        setattr(module, self._tensor_name, orig)


class PruningContainer(BasePruningMethod):
    """The successive pruning methods applied to one parameter; the last one's mask is
    computed over the entries (or slices) the earlier masks kept."""

    def __init__(self, *args):
        self._pruning_methods = ()
        if len(args) == 1 and not isinstance(args[0], Iterable):
            self._tensor_name = args[0]._tensor_name
            self.add_pruning_method(args[0])
        else:
            methods = args[0] if len(args) == 1 else args
            for method in methods:
                self.add_pruning_method(method)

    def add_pruning_method(self, method):
        """Append ``method`` (it must prune the same parameter)."""
        if not isinstance(method, BasePruningMethod) and method is not None:
            raise TypeError(f"{type(method)} is not a BasePruningMethod subclass")
        if method is not None and self._tensor_name != method._tensor_name:
            raise ValueError(f"Can only add pruning methods acting on the parameter named "
                             f"'{self._tensor_name}' to PruningContainer {self}. Found "
                             f"'{method._tensor_name}'")
        self._pruning_methods += (method,)

    def __len__(self):
        return len(self._pruning_methods)

    def __iter__(self):
        return iter(self._pruning_methods)

    def __getitem__(self, index):
        return self._pruning_methods[index]

    def compute_mask(self, t, default_mask):
        method = self._pruning_methods[-1]
        mask = default_mask.to(dtype=t.dtype)
        ndim = t.dim()
        if method.PRUNING_TYPE == "unstructured":
            alive = mask == 1
            new = mask.clone()
            new[alive] = method.compute_mask(t[alive], default_mask=mask[alive]).to(mask.dtype)
            return new
        if method.PRUNING_TYPE == "structured":
            if not hasattr(method, "dim"):
                raise AttributeError('Pruning methods of PRUNING_TYPE "structured" need to have '
                                     'the attribute `dim` defined.')
            dim = method.dim + ndim if method.dim < 0 else method.dim
            if dim < 0:
                raise IndexError(f"Index is out of bounds for tensor with dimensions {ndim}")
            others = [d for d in range(ndim) if d != dim]
            kept = (mask.sum(dim=others) != 0) if others else mask != 0
            index = (slice(None),) * dim + (kept,)
        elif method.PRUNING_TYPE == "global":
            index = (slice(None),) * ndim
        else:
            raise ValueError(f"Unrecognized PRUNING_TYPE {method.PRUNING_TYPE}")
        new = mask.clone()
        new[index] = method.compute_mask(t[index], default_mask=mask[index]).to(mask.dtype)
        return new


class Identity(BasePruningMethod):
    """Prune nothing: the mask is all ones (a reparameterization without pruning)."""

    PRUNING_TYPE = "unstructured"

    def compute_mask(self, t, default_mask):
        return default_mask

    @classmethod
    def apply(cls, module, name):
        return super().apply(module, name)


def _check_amount(amount):
    if not isinstance(amount, numbers.Real):
        raise TypeError(f"Invalid type for amount: {amount}. Must be int or float.")
    if (isinstance(amount, numbers.Integral) and amount < 0) or (
            not isinstance(amount, numbers.Integral) and not 0.0 <= float(amount) <= 1.0):
        raise ValueError(f"amount={amount} should either be a float in the range [0, 1] or a "
                         f"non-negative integer")


def _count(amount, size):
    """How many of ``size`` units ``amount`` prunes (an int: that many; a float: a fraction)."""
    if isinstance(amount, numbers.Integral):
        if amount > size:
            raise ValueError(f"amount={amount} should be smaller than the number of parameters "
                             f"to prune={size}")
        return amount
    return round(amount * size)


def _zero_at(mask, flat_indices):
    flat = mask.reshape(-1).clone()
    flat[flat_indices] = 0
    return flat.reshape(mask.shape)


class _Unstructured(BasePruningMethod):
    """Prune ``amount`` entries, the first ones of :meth:`_ranked` (an int: that many; a float:
    that fraction)."""

    PRUNING_TYPE = "unstructured"

    def __init__(self, amount):
        _check_amount(amount)
        self.amount = amount

    @abstractmethod
    def _ranked(self, t, k):
        """The flat indices of the ``k`` entries of ``t`` to prune."""

    def compute_mask(self, t, default_mask):
        k = _count(self.amount, t.numel())
        mask = default_mask.clone()
        if k:
            mask = _zero_at(mask, self._ranked(t, k))
        return mask


class RandomUnstructured(_Unstructured):
    """Prune ``amount`` entries chosen at random (an int: that many; a float: that fraction).

    Args:
        amount (int or float): how many to prune.
    """

    def _ranked(self, t, k):
        from ...ops.random import rand_like
        return rand_like(t).reshape(-1).topk(k).indices

    @classmethod
    def apply(cls, module, name, amount):
        return super().apply(module, name, amount=amount)


class L1Unstructured(_Unstructured):
    """Prune the ``amount`` entries of smallest magnitude.

    Args:
        amount (int or float): how many to prune (an int: that many; a float: that fraction).
    """

    def _ranked(self, t, k):
        return t.abs().reshape(-1).topk(k, largest=False).indices

    @classmethod
    def apply(cls, module, name, amount, importance_scores=None):
        return super().apply(module, name, amount=amount, importance_scores=importance_scores)


def _check_structured(t, dim):
    if t.dim() <= 1:
        raise ValueError(f"Structured pruning can only be applied to multidimensional tensors. "
                         f"Found tensor of shape {t.shape} with {t.dim()} dims")
    if dim >= t.dim():
        raise IndexError(f"Invalid index {dim} for tensor of size {t.shape}")


def _keep_slices(mask, dim, keep):
    """``mask`` with the slices along ``dim`` not listed in ``keep`` zeroed."""
    channels = zeros_like(mask)
    index = [slice(None)] * mask.dim()
    index[dim] = keep
    channels[tuple(index)] = 1
    return channels * mask


class _Structured(BasePruningMethod):
    """Prune ``amount`` whole slices along ``dim``, keeping those :meth:`_kept` picks."""

    PRUNING_TYPE = "structured"

    def __init__(self, amount, dim=-1):
        _check_amount(amount)
        self.amount = amount
        self.dim = dim

    @abstractmethod
    def _kept(self, t, count):
        """The indices along ``dim`` of the ``count`` slices of ``t`` to keep."""

    def compute_mask(self, t, default_mask):
        _check_structured(t, self.dim)
        size = t.shape[self.dim]
        k = _count(self.amount, size)
        if k == 0:
            return default_mask
        return _keep_slices(default_mask.clone(), self.dim, self._kept(t, size - k))


class RandomStructured(_Structured):
    """Prune ``amount`` whole slices along ``dim`` (channels), chosen at random.

    Args:
        amount (int or float): how many slices to prune.
        dim (int): the dimension of the slices. Default: -1.
    """

    def _kept(self, t, count):
        from ...ops.random import rand
        return rand(t.shape[self.dim]).topk(count).indices

    @classmethod
    def apply(cls, module, name, amount, dim=-1):
        return super().apply(module, name, amount=amount, dim=dim)


class LnStructured(_Structured):
    """Prune the ``amount`` slices along ``dim`` of smallest ``n``-norm.

    Args:
        amount (int or float): how many slices to prune.
        n (int, float, inf, -inf, 'fro', 'nuc'): the norm (as :func:`disttorch.norm`'s ``p``).
        dim (int): the dimension of the slices. Default: -1.
    """

    def __init__(self, amount, n, dim=-1):
        super().__init__(amount, dim)
        self.n = n

    def _kept(self, t, count):
        from ...ops.statistics import norm
        dim = self.dim + t.dim() if self.dim < 0 else self.dim
        return norm(t, p=self.n, dim=[d for d in range(t.dim()) if d != dim]).topk(count).indices

    @classmethod
    def apply(cls, module, name, amount, n, dim, importance_scores=None):
        return super().apply(module, name, amount=amount, n=n, dim=dim,
                             importance_scores=importance_scores)


class CustomFromMask(BasePruningMethod):
    """Prune with a mask given by the caller.

    Args:
        mask (Tensor): 0 where entries are pruned; the parameter's shape.
    """

    PRUNING_TYPE = "global"

    def __init__(self, mask):
        self.mask = mask

    def compute_mask(self, t, default_mask):
        if default_mask.shape != self.mask.shape:
            raise AssertionError("mask and default_mask must have the same shape")
        return default_mask * self.mask.to(dtype=default_mask.dtype)

    @classmethod
    def apply(cls, module, name, mask):
        return super().apply(module, name, mask=mask)


def identity(module, name):
    """Reparameterize ``module.<name>`` as ``name_orig * name_mask`` with an all-ones mask;
    returns ``module``."""
    Identity.apply(module, name)
    return module


def random_unstructured(module, name, amount):
    """Prune ``amount`` random entries of ``module.<name>`` (an int: that many; a float in
    [0, 1]: that fraction); returns ``module``."""
    RandomUnstructured.apply(module, name, amount)
    return module


def l1_unstructured(module, name, amount, importance_scores=None):
    """Prune the ``amount`` entries of ``module.<name>`` of smallest magnitude (of
    ``importance_scores`` when given); returns ``module``."""
    L1Unstructured.apply(module, name, amount=amount, importance_scores=importance_scores)
    return module


def random_structured(module, name, amount, dim):
    """Prune ``amount`` random slices of ``module.<name>`` along ``dim``; returns ``module``."""
    RandomStructured.apply(module, name, amount, dim)
    return module


def ln_structured(module, name, amount, n, dim, importance_scores=None):
    """Prune the ``amount`` slices of ``module.<name>`` along ``dim`` with the smallest ``n``-norm;
    returns ``module``."""
    LnStructured.apply(module, name, amount, n, dim, importance_scores=importance_scores)
    return module


def global_unstructured(parameters, pruning_method, importance_scores=None, **kwargs):
    """Prune the parameters ``(module, name)`` of ``parameters`` together: ``pruning_method``
    (an unstructured method class, e.g. :class:`L1Unstructured`) chooses over all their entries
    at once, and each parameter gets its part of the mask.

    Args:
        parameters (Iterable[(nn.Module, str)]): the parameters to prune.
        pruning_method: a :class:`BasePruningMethod` subclass with PRUNING_TYPE
            ``"unstructured"``.
        importance_scores (dict, optional): ``{(module, name): scores}``; the parameters by
            default.
        kwargs: the method's arguments (``amount=...``).
    """
    if not isinstance(parameters, Iterable):
        raise TypeError("global_unstructured(): parameters is not an Iterable")
    if importance_scores is None:
        importance_scores = {}
    if not isinstance(importance_scores, dict):
        raise TypeError("global_unstructured(): importance_scores must be of type dict")
    parameters = list(parameters)
    from ...ops.joining import cat
    scores = cat([importance_scores.get((m, n), getattr(m, n)).reshape(-1)
                  for m, n in parameters])
    masks = cat([getattr(m, n + "_mask", ones_like(getattr(m, n))).reshape(-1)
                 for m, n in parameters])
    container = PruningContainer()
    container._tensor_name = "temp"
    method = pruning_method(**kwargs)
    method._tensor_name = "temp"
    if method.PRUNING_TYPE != "unstructured":
        raise TypeError(f'Only "unstructured" PRUNING_TYPE supported for the `pruning_method`. '
                        f'Found method {pruning_method} of type {method.PRUNING_TYPE}')
    container.add_pruning_method(method)
    with grad_mode.no_grad():
        combined = container.compute_mask(scores, default_mask=masks)
    start = 0
    for module, name in parameters:
        param = getattr(module, name)
        count = param.numel()
        custom_from_mask(module, name, mask=combined[start:start + count].reshape(param.shape))
        start += count


def custom_from_mask(module, name, mask):
    """Prune ``module.<name>`` with the given ``mask``; returns ``module``."""
    CustomFromMask.apply(module, name, mask)
    return module


def remove(module, name):
    """Make the pruning of ``module.<name>`` permanent (see :meth:`BasePruningMethod.remove`);
    returns ``module``."""
    for key, hook in list(module._forward_pre_hooks.items()):
        if isinstance(hook, BasePruningMethod) and hook._tensor_name == name:
            hook.remove(module)
            del module._forward_pre_hooks[key]
            return module
    raise ValueError(f"Parameter '{name}' of module {module} has to be pruned before pruning can "
                     f"be removed")


def is_pruned(module):
    """Whether ``module`` or one of its submodules has a pruning hook."""
    return any(isinstance(hook, BasePruningMethod) for m in module.modules()
               for hook in m._forward_pre_hooks.values())
