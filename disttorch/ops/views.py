"""In-place ops on views: rewriting the base's autograd history (PyTorch's CopySlices)."""
from .._backend import get_array_module
from ..autograd.function import Node
from ..tensor import Tensor, _new


def _unwrap(g):
    return g._data if isinstance(g, Tensor) else g


def _positions(view_fn, shape, xp):
    """Flat (row-major) positions in the base of each element of the view.

    Applying ``view_fn`` to an array of positions maps the view whatever the gradient's memory
    layout (a reshape that was a view of the base may copy on another layout) and also for
    views that repeat elements (expand, overlapping windows)."""
    n = 1
    for s in shape:
        n *= s
    return view_fn(xp.arange(n).reshape(shape)), n


class CopySlices(Node):
    """Base history after an in-place op on one of its views: the view's region of the gradient
    goes to the in-place op's result; the rest goes to the base's previous history."""

    def __init__(self, view_fn, base_shape):
        self.view_fn = view_fn
        self.base_shape = base_shape

    def backward(self, g):
        data = _unwrap(g)
        xp = get_array_module(data)
        positions, _ = _positions(self.view_fn, self.base_shape, xp)
        if isinstance(g, Tensor):
            # double backward: the same maps as differentiable (linear) indexing ops
            from .indexing import Index, IndexPut
            flat = g.reshape(-1)
            to_base = IndexPut.apply(flat, 0, (positions.reshape(-1),)).reshape(self.base_shape)
            return to_base, Index.apply(flat, (positions,))
        to_base = xp.array(data, copy=True, order="C")
        to_base.reshape(-1)[positions.reshape(-1)] = 0
        to_view = xp.ascontiguousarray(self.view_fn(data))
        return to_base, to_view


class ViewOf(Node):
    """A view recomputed from its base's (new) history: scatter-add the gradient into the base."""

    def __init__(self, view_fn, base_shape, base_dtype):
        self.view_fn = view_fn
        self.base_shape = base_shape
        self.base_dtype = base_dtype

    def backward(self, g):
        from .strided import scatter_add_flat
        data = _unwrap(g)
        positions, n = _positions(self.view_fn, self.base_shape, get_array_module(data))
        if isinstance(g, Tensor):
            from .indexing import IndexGrad
            return (IndexGrad.apply(g, (n,), (positions,)).reshape(self.base_shape),)
        out = scatter_add_flat(data.astype(self.base_dtype, copy=False), n, positions)
        return (out.reshape(self.base_shape),)


def _edge(t):
    if not t._requires_grad:
        return None
    return (t.grad_fn, t._output_nr) if t.grad_fn is not None else (t, -1)


def _keep_original_self(self, node, copy):
    """The in-place op's own node may have saved ``self``'s old values (e.g. ``mul_`` needs them
    for the other operand's gradient): point those entries at a tensor standing for the old
    ``self``, with a private version counter, so later in-place ops on ``self`` leave them valid."""
    meta = node._saved_meta
    if not meta or not any(m is not None and m[0] is self for m in meta):
        return
    saved = list(node._saved)
    old = None
    for i, m in enumerate(meta):
        if m is not None and m[0] is self:
            if old is None:
                data = saved[i].copy() if copy else saved[i]
                old = _new(data, self._requires_grad, self.grad_fn, self._output_nr, [m[2]])
            saved[i] = old._data
            meta[i] = (old, old._vc, m[2], -1)
    node._saved = tuple(saved)


def rebase_history(self, result):
    """Make ``self`` (modified in place to ``result``'s values) take ``result``'s history."""
    node = result.grad_fn
    if self._base is None and not self._shared and result._data.shape == self._data.shape and \
            result._data.dtype == self._data.dtype:
        # Nothing else can observe self's memory: adopt the result's array instead of copying.
        _keep_original_self(self, node, copy=False)
        self._data = result._data
    else:
        _keep_original_self(self, node, copy=True)
        self._data[...] = result._data
    self._vc[0] += 1
    if self._base is None:
        self.grad_fn, self._output_nr, self._requires_grad = node, result._output_nr, True
        _refresh_views(self, self)
        return
    root, view_fn = self._base
    copy = CopySlices(view_fn, root._data.shape)
    copy.next_edges = [_edge(root), (node, result._output_nr)]
    root.grad_fn, root._output_nr, root._requires_grad = copy, 0, True
    view = ViewOf(view_fn, root._data.shape, root._data.dtype)
    view.next_edges = [(copy, 0)]
    self.grad_fn, self._output_nr, self._requires_grad = view, 0, True
    _refresh_views(root, self)


def _refresh_views(root, modified):
    """Views of ``root`` taken before an in-place op now read its new values: give them the new
    history of ``root`` (PyTorch regenerates a view's grad_fn once its base has changed)."""
    refs = root.__dict__.get("_views")
    if not refs:
        return
    alive = []
    for ref in refs:
        view = ref()
        if view is None or view._base is None:
            continue
        alive.append(ref)
        if view is not modified:
            node = ViewOf(view._base[1], root._data.shape, root._data.dtype)
            node.next_edges = [(root.grad_fn, root._output_nr)]
            view.grad_fn, view._output_nr, view._requires_grad = node, 0, True
    root._views = alive


class Overwrite(Node):
    """``self`` replaced by values that do not depend on it (``zero_``, ``fill_``, ``copy_``):
    zero gradient to the old history, the gradient itself to the new values."""

    def forward(self, old, new):
        self.shape = old.shape
        return get_array_module(old).broadcast_to(new, old.shape).astype(old.dtype, copy=True)

    def backward(self, g):
        e = self.next_edges
        from ._util import sum_to
        return (g * 0 if e[0] is not None else None,
                sum_to(g, self.new_shape) if e[1] is not None else None)

    def _link(self, args, arrays, out):
        self.new_shape = getattr(arrays[1], "shape", ())
        return Node._link(self, args, arrays, out)
