"""``Parameter``: a Tensor that a :class:`~disttorch.nn.Module` registers as one of its weights."""
import copy

from ..tensor import Tensor, _new
from ..ops.creation import empty

__all__ = ["Parameter", "Buffer"]


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


def _rebuild_parameter(array, requires_grad, device):
    import numpy as np
    t = _new(np.array(array))
    if device != "cpu":
        t = t.to(device)
    return Parameter(t, requires_grad)

