"""``Parameter``: a Tensor that a :class:`~disttorch.nn.Module` registers as one of its weights."""
import copy
import sys

from ..tensor import Tensor, _new
from ..ops.creation import empty
from ..multiprocessing import reductions as _mp_reductions

__all__ = ["Parameter", "Buffer", "UninitializedParameter", "UninitializedBuffer"]


class Parameter(Tensor):
    """A kind of Tensor that is to be considered a module parameter.

    Assigning a Parameter as a Module attribute adds it to the module's
    :meth:`~disttorch.nn.Module.parameters`. It shares the storage of ``data``.

    Args:
        data (Tensor): parameter tensor (an empty tensor when omitted).
        requires_grad (bool, optional): if the parameter requires gradient. Default: `True`

    Examples::

        >>> w = nn.Parameter(disttorch.zeros(3))
        >>> w
        Parameter containing:
        tensor([0., 0., 0.], requires_grad=True)
    """

    def __init__(self, data=None, requires_grad=True):
        if data is None:
            data = empty(0)
        if not isinstance(data, Tensor):
            raise TypeError(f"Parameter(): argument 'data' must be Tensor, not {type(data).__name__}")
        if requires_grad and not (data.is_floating_point() or data.is_complex()):
            raise RuntimeError("Only Tensors of floating point and complex dtype can require "
                               "gradients")
        self._data = data._data
        self._requires_grad = bool(requires_grad)
        self.grad_fn = None
        self._output_nr = 0
        self._vc = data._vc
        self._grad = None
        self._base = None
        self._hooks = None
        self._post_hooks = None
        self._retains_grad = False

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()

    __str__ = __repr__

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        result = Parameter(_new(self._data.copy()), self._requires_grad)
        if self._grad is not None:
            result._grad = _new(self._grad._data.copy())
        for key, value in self.__dict__.items():
            setattr(result, key, copy.deepcopy(value, memo))
        memo[id(self)] = result
        return result

    def __reduce_ex__(self, protocol):
        from .._backend import to_numpy
        return (_rebuild_parameter, (to_numpy(self._data), self._requires_grad, str(self.device)))


class Buffer(Tensor):
    """A Tensor that a Module registers as a buffer when assigned as an attribute.

    ``Buffer(data, persistent=True)`` is the same as calling
    :meth:`~disttorch.nn.Module.register_buffer`; the module stores the plain tensor.

    Args:
        data (Tensor): buffer tensor.
        persistent (bool, optional): whether the buffer is part of the module's
            :attr:`state_dict`. Default: ``True``
    """

    def __init__(self, data=None, *, persistent=True):
        if data is None:
            data = empty(0)
        Parameter.__init__(self, data, requires_grad=False)
        self._requires_grad = data._requires_grad
        self.persistent = persistent


# The Tensor slot that holds the array: an uninitialized tensor keeps a 0-element placeholder
# there (for its dtype and device) behind a ``_data`` property that refuses every op.
_DATA_SLOT = Tensor.__dict__["_data"]


class _UninitializedMixin:
    """What an uninitialized parameter or buffer of a lazy module allows before its first
    forward: its dtype, device and ``requires_grad``, moves and casts (``to``, ``cuda``,
    ``half``...), and :meth:`materialize`. Every op and ``.shape`` raise, as in PyTorch."""

    __slots__ = ()
    cls_to_become = None

    @property
    def _data(self):
        caller = sys._getframe(1).f_code.co_name
        raise ValueError(
            f"Attempted to use an uninitialized parameter in {caller}. This error happens when "
            "you are using a `LazyModule` or explicitly manipulating "
            f"`torch.nn.parameter.{type(self).__name__}` objects. When using LazyModules Call "
            "`forward` with a dummy batch to initialize the parameters before calling torch "
            "functions")

    @_data.setter
    def _data(self, array):
        _DATA_SLOT.__set__(self, array)

    def _placeholder(self):
        return _DATA_SLOT.__get__(self, type(self))

    @property
    def shape(self):
        raise RuntimeError(
            "Can't access the shape of an uninitialized parameter or buffer. This error usually "
            "happens in `load_state_dict` when trying to load an uninitialized parameter into "
            "an initialized one. Call `forward` to initialize the parameters before accessing "
            "their attributes.")

    def size(self, dim=None):
        return _new(self._placeholder()).size(dim)

    @property
    def dtype(self):
        return _new(self._placeholder()).dtype

    @property
    def device(self):
        return _new(self._placeholder()).device

    @property
    def is_cuda(self):
        return _new(self._placeholder()).is_cuda

    def get_device(self):
        return _new(self._placeholder()).get_device()

    def is_floating_point(self):
        return _new(self._placeholder()).is_floating_point()

    def is_complex(self):
        return _new(self._placeholder()).is_complex()

    def _converted(self, method, *args, **kwargs):
        # a new uninitialized tensor of the same kind: Module._apply moves lazy modules too
        moved = getattr(_new(self._placeholder()), method)(*args, **kwargs)
        result = type(self).__new__(type(self))
        result._init_uninitialized(self._requires_grad, moved._data)
        if hasattr(self, "persistent"):
            result.persistent = self.persistent
        return result

    def to(self, *args, **kwargs):
        return self._converted("to", *args, **kwargs)

    def cuda(self, *args, **kwargs):
        return self._converted("cuda", *args, **kwargs)

    def cpu(self):
        return self._converted("cpu")

    def half(self):
        return self._converted("half")

    def float(self):
        return self._converted("float")

    def double(self):
        return self._converted("double")

    def bfloat16(self):
        return self._converted("bfloat16")

    def _init_uninitialized(self, requires_grad, placeholder):
        Parameter.__init__(self, _new(placeholder), requires_grad=False)
        self._requires_grad = bool(requires_grad)

    def materialize(self, shape, device=None, dtype=None):
        """Become a ``Parameter`` (a plain ``Tensor`` for a buffer) of ``shape``, uninitialized
        memory on the placeholder's device and dtype unless ``device``/``dtype`` are given."""
        placeholder = _new(self._placeholder())
        array = empty(tuple(shape), device=device if device is not None else placeholder.device,
                      dtype=dtype if dtype is not None else placeholder.dtype)._data
        self._data = array
        self.__class__ = self.cls_to_become

    def share_memory_(self):
        raise RuntimeError("Can't share memory on an uninitialized parameter or buffer. Call "
                           "`forward` to initialize the parameters before calling "
                           "`module.share_memory()`.")

    def __repr__(self):
        return f"<{type(self).__name__}>"

    __str__ = __repr__

    def __deepcopy__(self, memo):
        if id(self) not in memo:
            memo[id(self)] = self._converted("to", copy=True)
        return memo[id(self)]

    def __reduce_ex__(self, protocol):
        return (_rebuild_uninitialized, (type(self), self._requires_grad))


class UninitializedParameter(_UninitializedMixin, Parameter):
    """A parameter whose shape is not known yet: a lazy module (``nn.LazyLinear``...) makes it
    a :class:`Parameter` on its first forward, through :meth:`materialize`.

    Args:
        requires_grad (bool): default ``True``.
        device, dtype: of the parameter it becomes (defaults: the global defaults).
    """

    cls_to_become = Parameter

    def __init__(self, requires_grad=True, device=None, dtype=None):
        self._init_uninitialized(requires_grad, empty(0, device=device, dtype=dtype)._data)


class UninitializedBuffer(_UninitializedMixin, Tensor):
    """A buffer whose shape is not known yet (a lazy module's running statistics); it becomes a
    plain ``Tensor`` through :meth:`materialize`."""

    cls_to_become = Tensor

    def __init__(self, requires_grad=False, device=None, dtype=None, persistent=True):
        self._init_uninitialized(requires_grad, empty(0, device=device, dtype=dtype)._data)
        self.persistent = persistent


def is_lazy(param):
    """Whether ``param`` is an :class:`UninitializedParameter` or :class:`UninitializedBuffer`."""
    return isinstance(param, _UninitializedMixin)


def _rebuild_uninitialized(cls, requires_grad):
    return cls(requires_grad)


def _rebuild_parameter(array, requires_grad, device):
    import numpy as np
    t = _new(np.array(array))
    if device != "cpu":
        t = t.to(device)
    return Parameter(t, requires_grad)


# a Parameter sent through multiprocessing arrives as a Parameter over the same shared memory
_mp_reductions.register(Parameter)
