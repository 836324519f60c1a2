"""In-place ops on views: rewriting the base's autograd history (PyTorch's CopySlices)."""
from .._backend import get_array_module
from ..autograd.function import Node
from ..tensor import Tensor, _new


def _unwrap(g):
    return g._data if isinstance(g, Tensor) else g


def _rewrap(like, value):
    return _new(value) if isinstance(like, Tensor) else value


class CopySlices(Node):
    """Base history after an in-place op on one of its views: the view's region of the gradient
    goes to the in-place op's result; the rest goes to the base's previous history."""

    def __init__(self, view_fn):
        self.view_fn = view_fn

    def backward(self, g):
        data = _unwrap(g)
        xp = get_array_module(data)
        to_base = data.copy()
        self.view_fn(to_base)[...] = 0
        to_view = xp.ascontiguousarray(self.view_fn(data))
        return _rewrap(g, to_base), _rewrap(g, to_view)


class ViewOf(Node):
    """A view recomputed from its base's (new) history: scatter the gradient into the base."""

    def __init__(self, view_fn, base_shape, base_dtype):
        self.view_fn = view_fn
        self.base_shape = base_shape
        self.base_dtype = base_dtype

    def backward(self, g):
        data = _unwrap(g)
        out = get_array_module(data).zeros(self.base_shape, self.base_dtype)
        self.view_fn(out)[...] = data
        return (_rewrap(g, out),)


def _edge(t):
    if not t._requires_grad:
        return None
    return (t.grad_fn, t._output_nr) if t.grad_fn is not None else (t, -1)


def rebase_history(self, result):
    """Make ``self`` (modified in place to ``result``'s values) take ``result``'s history."""
    self._data[...] = result._data
    self._vc[0] += 1
    if self._base is None:
        self.grad_fn, self._output_nr, self._requires_grad = result.grad_fn, result._output_nr, True
        return
    root, view_fn = self._base
    copy = CopySlices(view_fn)
    copy.next_edges = [_edge(root), (result.grad_fn, result._output_nr)]
    root.grad_fn, root._output_nr, root._requires_grad = copy, 0, True
    view = ViewOf(view_fn, root._data.shape, root._data.dtype)
    view.next_edges = [(copy, 0)]
    self.grad_fn, self._output_nr, self._requires_grad = view, 0, True
