"""Graph nodes and ``autograd.Function``.

Built-in ops subclass :class:`Node`: ``forward`` runs on raw arrays (numpy or
cupy) and ``backward`` receives and returns raw arrays on the fast first-order
path. When a graph of the backward pass itself is wanted (``create_graph=True``)
the engine hands ``backward`` Tensors instead, and the same code records a graph,
because backward formulas only use operators and the dual helpers of
``ops._dual`` that accept either kind.
"""
import collections
import traceback
import weakref

import numpy as np

from .._backend import foreign_device, several_devices
from ..tensor import Tensor, _new
from . import grad_mode, anomaly, _saved_hooks
from .hooks import RemovableHandle

__all__ = ["Node", "Function", "FunctionCtx", "once_differentiable", "BackwardCFunction",
           "GradientEdge", "AccumulateGrad"]

_grad_state = grad_mode.state
_hook_state = _saved_hooks.state
_hooks_active = _saved_hooks.active
_object_new = object.__new__
_FREED = object()
_INFERENCE_SAVED = (
    "Inference tensors cannot be saved for backward. Please do not use Tensors created in "
    "inference mode in computation tracked by autograd. To work around this, you can make a "
    "clone to get a normal tensor and use it in autograd, or use `torch.no_grad()` instead of "
    "`torch.inference_mode()`.")
_ARRAY_TYPES = {np.ndarray}


def register_array_type(array_type):
    """Declare another backend's array class (cupy.ndarray) as a valid op output."""
    _ARRAY_TYPES.add(array_type)


def _as_array(value, like):
    # numpy reductions and ufuncs on 0-d arrays return numpy scalars; keep arrays.
    if type(value) in _ARRAY_TYPES:
        return value
    if hasattr(value, "__cuda_array_interface__"):
        _ARRAY_TYPES.add(type(value))
        return value
    return np.asarray(value)


def _broadcast_error(exc, arrays):
    """numpy's "operands could not be broadcast" in PyTorch's words; other errors unchanged."""
    if "could not be broadcast" not in str(exc):
        return exc
    shapes = [a.shape for a in arrays if hasattr(a, "shape") and hasattr(a, "dtype")]
    for i, sa in enumerate(shapes):
        for sb in shapes[i + 1:]:
            for k in range(1, min(len(sa), len(sb)) + 1):
                a, b = sa[-k], sb[-k]
                if a != b and a != 1 and b != 1:
                    return RuntimeError(f"The size of tensor a ({a}) must match the size of tensor "
                                        f"b ({b}) at non-singleton dimension "
                                        f"{max(len(sa), len(sb)) - k}")
    return RuntimeError(str(exc))


def _complex_error(node):
    return RuntimeError(
        f"{type(node).__name__}Backward0: autograd through complex tensors is not supported by "
        "disttorch (its gradients would be wrong). Work on the real and imaginary parts as real "
        "tensors, or detach() the input.")


class _NodeName:
    """``node.name()``: PyTorch's name of the backward node. A node may carry a ``label`` set by
    its op where PyTorch names the node by how the op was called (``t()`` is ``TBackward0``,
    ``transpose`` ``TransposeBackward0``, a view-making ``reshape`` ``ViewBackward0``);
    otherwise, and called on the class, the class name followed by ``Backward0``."""

    def __get__(self, node, cls):
        label = node.__dict__.get("label") if node is not None else None
        if label is not None:
            return lambda: label
        return lambda: cls.__name__ + "Backward0"


class Node:
    """A node of the backward graph (``Tensor.grad_fn``).

    Subclasses implement ``forward(self, *args)`` on arrays and ``backward(self, *grads)``.
    ``next_functions`` lists, per forward argument, where its gradient goes.
    """

    _saved = ()
    _saved_meta = ()
    _to_save = None
    _pre_hooks = None
    _post_hooks = None
    _retained = None
    _packed = None
    _create_graph = False
    _nout = 1
    _non_diff = None
    _trace = None
    differentiable = True
    # True for nodes that place their outputs on devices of their own (DataParallel's scatter
    # and gather): no single device to run them on, no check that their inputs share one
    crosses_devices = False
    next_edges = ()

    # ---------------------------------------------------------------- building
    @classmethod
    def apply(cls, *args):
        node = _object_new(cls)
        # the arrays of the common one- to three-argument calls without a comprehension (a
        # function call of its own in CPython 3.11: about 7% of a small op's instructions)
        n = len(args)
        if n == 2:
            a, b = args
            arrays = (a._data if isinstance(a, Tensor) else a,
                      b._data if isinstance(b, Tensor) else b)
        elif n == 1:
            a = args[0]
            arrays = (a._data if isinstance(a, Tensor) else a,)
        elif n == 3:
            a, b, c = args
            arrays = (a._data if isinstance(a, Tensor) else a,
                      b._data if isinstance(b, Tensor) else b,
                      c._data if isinstance(c, Tensor) else c)
        else:
            arrays = [a._data if isinstance(a, Tensor) else a for a in args]
        if several_devices[0] and not cls.crosses_devices:
            # CuPy launches on the current device; PyTorch runs an op on its inputs' device
            device = foreign_device(arrays)
            if device is not None:
                with device:
                    return cls.apply(*args)
        try:
            if _grad_state.enabled and cls.differentiable:
                for a in args:
                    if isinstance(a, Tensor) and a._requires_grad:
                        return node._link(args, arrays, node.forward(*arrays))
            out = node.forward(*arrays)
        except ValueError as exc:
            raise _broadcast_error(exc, arrays) from None
        if type(out) is tuple:
            return tuple(_new(_as_array(o, None)) for o in out)
        return _new(out if type(out) in _ARRAY_TYPES else _as_array(out, None))

    def _link(self, args, arrays, out):
        self.next_edges = [((a.grad_fn, a._output_nr) if a.grad_fn is not None else (a, -1))
                           if isinstance(a, Tensor) and a._requires_grad else None for a in args]
        if anomaly.state.enabled:
            self._trace = "".join(traceback.format_stack()[:-3])
        if type(out) is tuple:
            non_diff = self._non_diff
            self._nout = len(out)
            outs = []
            for k, o in enumerate(out):
                o = _as_array(o, None)
                diff = o.dtype.kind in "fV" and (non_diff is None or k not in non_diff)
                if o.dtype.kind == "c" and (non_diff is None or k not in non_diff):
                    raise _complex_error(self)
                outs.append(_new(o, diff, self if diff else None, k))
            self._out_meta = [(o._data.shape, o._data.dtype) for o in outs]
            result = tuple(outs)
        else:
            o = out if type(out) in _ARRAY_TYPES else _as_array(out, None)
            kind = o.dtype.kind
            if kind == "f" or kind == "V":
                result = _new(o, True, self)
            elif kind == "c":
                raise _complex_error(self)
            else:
                result = _new(o)
            outs = (result,)
        if self._to_save is not None:
            self._register_saved(args, arrays, outs, out if type(out) is tuple else (out,))
        if _hooks_active[0] and _hook_state.stack:
            _saved_hooks.pack_node(self, _ARRAY_TYPES, outs)
        return result

    def _register_saved(self, args, arrays, outs, raw_outs):
        # ``raw_outs``: what forward returned, before numpy scalars became 0-d arrays; a saved
        # output is recognised either way so that it stays differentiable under create_graph.
        saved = list(self._to_save)
        meta = []
        for i, s in enumerate(saved):
            entry = None
            if s is not None:
                for a, arr in zip(args, arrays):
                    if s is arr and isinstance(a, Tensor):
                        if a._inference:
                            raise RuntimeError(_INFERENCE_SAVED)
                        entry = (a, a._vc, a._vc[0], -1)
                        break
                else:
                    for k, o in enumerate(outs):
                        if s is o._data or s is raw_outs[k]:
                            saved[i] = o._data
                            entry = (None, o._vc, o._vc[0], k)
                            break
            meta.append(entry)
        self._saved = tuple(saved)
        self._saved_meta = meta
        self._to_save = None

    def save_for_backward(self, *arrays):
        """Keep arrays (inputs, outputs or intermediates) for ``backward``."""
        self._to_save = arrays

    def mark_non_differentiable(self, *indices):
        """Declare outputs (by index) that never carry a gradient, e.g. argmax indices."""
        self._non_diff = set(indices)

    @property
    def saved_tensors(self):
        saved = self._saved
        if saved is _FREED:
            raise RuntimeError(
                "Trying to backward through the graph a second time (or directly access saved "
                "tensors after they have already been freed). Saved intermediate values of the graph "
                "are freed when you call .backward() or autograd.grad(). Specify retain_graph=True if "
                "you need to backward through the graph a second time or if you need to access saved "
                "tensors after calling backward.")
        meta = self._saved_meta
        if self._packed is None:   # values that went through saved-tensor hooks are the hooks'
            for m in meta:
                if m is not None and m[1][0] != m[2]:
                    self._raise_modified(m)
        if not self._create_graph:
            return saved
        out = []
        for s, m in zip(saved, meta):
            if m is None:
                out.append(_new(s) if type(s) in _ARRAY_TYPES else s)
            elif m[3] < 0:
                ref = m[0]
                # an input packed by saved-tensor hooks is held by its place in the graph
                out.append(_new(s, True, ref.grad_fn, ref._output_nr, m[1])
                           if type(ref) is _saved_hooks.InputRef else ref)
            else:
                out.append(_new(s, True, self, m[3], m[1]))
        return tuple(out)

    def _raise_modified(self, m):
        # by identity: list.index would compare the Tensors inside the entries with ==
        array = self._saved[next(i for i, e in enumerate(self._saved_meta) if e is m)]
        from .._dtype import from_numpy_dtype
        kind = from_numpy_dtype(array.dtype).name
        shape = list(array.shape)
        which = f"output {m[3]} of {self.name()}" if m[3] >= 0 else (
            f"output {m[0]._output_nr} of {m[0].grad_fn.name()}" if m[0] is not None and m[0].grad_fn
            is not None else "a leaf tensor")
        raise RuntimeError(
            f"one of the variables needed for gradient computation has been modified by an inplace "
            f"operation: [disttorch.{kind}Tensor {shape}], which is {which}, is at version {m[1][0]}; "
            f"expected version {m[2]} instead. Hint: enable anomaly detection to find the operation "
            f"that failed to compute its gradient, with disttorch.autograd.set_detect_anomaly(True).")

    def _release(self):
        if self._saved or self._saved_meta:
            self._saved = _FREED

    # -------------------------------------------------------------- inspection
    name = _NodeName()

    def __repr__(self):
        return f"<{self.name()} object at {id(self):#x}>"

    @property
    def next_functions(self):
        out = []
        for e in self.next_edges:
            if e is None:
                out.append((None, 0))
            elif e[1] < 0:
                out.append((AccumulateGrad(e[0]), 0))
            else:
                out.append(e)
        return tuple(out)

    @property
    def metadata(self):
        if "_metadata" not in self.__dict__:
            self._metadata = {}
        return self._metadata

    # ------------------------------------------------------------------- hooks
    def register_hook(self, hook):
        """``hook(grad_inputs, grad_outputs)`` runs after this node's backward."""
        if self._post_hooks is None:
            self._post_hooks = {}
        return RemovableHandle(self._post_hooks, hook)

    def register_prehook(self, hook):
        """``hook(grad_outputs)`` runs before this node's backward; may return new grads."""
        return self._register_tensor_pre_hook(None, hook)

    def _register_tensor_pre_hook(self, output_nr, hook):
        if self._pre_hooks is None:
            self._pre_hooks = {}
        return RemovableHandle(self._pre_hooks, (output_nr, hook))

    def _retain_grad_of(self, tensor):
        if self._retained is None:
            self._retained = {}
        self._retained[tensor._output_nr] = weakref.ref(tensor)


class GradientEdge(collections.namedtuple("GradientEdge", ["node", "output_nr"])):
    """A place in the graph a gradient flows into: output ``output_nr`` of ``node`` (for a leaf,
    its :class:`AccumulateGrad`). ``autograd.grad`` and ``backward`` take one in place of the
    tensor it was made from (:func:`~disttorch.autograd.graph.get_gradient_edge`)."""

    _meta = None    # the tensor's (shape, dtype, array module) when made from one


class _EdgeTensor:
    """What the engine needs of a tensor, for a gradient edge into a node's output."""

    _requires_grad = True

    def __init__(self, edge):
        self.grad_fn, self._output_nr = edge.node, edge.output_nr
        meta = edge._meta
        # a zero-stride stand-in array: shape and dtype checks, zeros for materialize_grads
        self._data = None if meta is None else meta[2].broadcast_to(meta[2].zeros((), meta[1]),
                                                                    meta[0])


def resolve_edges(items):
    """``items`` with each :class:`GradientEdge` replaced by what the engine takes for it: the
    leaf tensor itself, or a stand-in for the node output."""
    out = []
    for item in items:
        if isinstance(item, GradientEdge):
            node = item.node
            item = node.variable if isinstance(node, AccumulateGrad) else _EdgeTensor(item)
        out.append(item)
    return out


class AccumulateGrad:
    """What ``next_functions`` shows for a leaf: the node that accumulates into ``.grad``."""

    def __init__(self, variable):
        self.variable = variable
        self.next_functions = ()

    def name(self):
        return "AccumulateGrad"

    def __repr__(self):
        return f"<AccumulateGrad object at {id(self):#x}>"


# ---------------------------------------------------------------------------
# User-defined functions
# ---------------------------------------------------------------------------
class FunctionCtx:
    """The ``ctx`` of a custom :class:`Function`: saves tensors and flags for backward."""

    def save_for_backward(self, *tensors):
        for t in tensors:
            if t is not None and not isinstance(t, Tensor):
                raise TypeError("save_for_backward can only save variables, but argument "
                                f"{tensors.index(t)} is of type {type(t).__name__}")
        self.to_save = tensors

    def mark_non_differentiable(self, *tensors):
        self.non_differentiable = tensors

    def mark_dirty(self, *tensors):
        self.dirty_tensors = tensors

    def set_materialize_grads(self, value):
        self.materialize_grads = value


class BackwardCFunction(FunctionCtx, Node):
    """The graph node of a custom Function; it is also the ``ctx`` passed to forward/backward."""

    materialize_grads = True
    to_save = ()
    non_differentiable = ()
    dirty_tensors = ()
    _fn_class = None

    @classmethod
    def name(cls):
        return cls._fn_class.__name__ + "Backward" if cls._fn_class else "BackwardCFunction"

    @property
    def saved_tensors(self):
        if self._saved is _FREED:
            return Node.saved_tensors.fget(self)
        # (version counter, version, description): the tensors themselves are not held here,
        # so saved-tensor hooks can move them away
        for vc, version, what in self._saved_versions:
            if vc is not None and vc[0] != version:
                raise RuntimeError(
                    "one of the variables needed for gradient computation has been modified by an "
                    f"inplace operation: [{what}] is at version {vc[0]}; "
                    f"expected version {version} instead.")
        return self._saved

    def backward(self, *grads):
        fn = self._fn_class
        if self._create_graph:
            result = fn.backward(self, *grads)
        else:
            wrapped = [None if g is None else _new(g) for g in grads]
            with grad_mode.no_grad():
                result = fn.backward(self, *wrapped)
        if not isinstance(result, tuple):
            result = (result,)
        n_args = len(self.next_edges)
        if len(result) < n_args:
            raise RuntimeError(f"function {self.name()} returned an incorrect number of gradients "
                               f"(expected {n_args}, got {len(result)})")
        result = result[:n_args] if all(r is None for r in result[n_args:]) else result
        if len(result) != n_args:
            raise RuntimeError(f"function {self.name()} returned an incorrect number of gradients "
                               f"(expected {n_args}, got {len(result)})")
        out = []
        for i, (g, edge) in enumerate(zip(result, self.next_edges)):
            if g is None or edge is None:
                out.append(None)
                continue
            if not isinstance(g, Tensor):
                raise TypeError(f"function {self.name()} returned a gradient of type "
                                f"{type(g).__name__} at index {i}; expected a Tensor or None")
            expected = self._input_shapes[i]
            if tuple(g.shape) != expected:
                raise RuntimeError(f"Function {self.name()} returned an invalid gradient at index {i} "
                                   f"- got {list(g.shape)} but expected shape compatible with "
                                   f"{list(expected)}")
            out.append(g if self._create_graph else g._data)
        return tuple(out)


class _FunctionMeta(type):
    def __init__(cls, name, bases, attrs):
        super().__init__(name, bases, attrs)
        cls._backward_cls = type(name + "Backward", (BackwardCFunction,), {"_fn_class": cls})


class Function(metaclass=_FunctionMeta):
    """Base class for custom differentiable operations.

    Subclass it and define ``forward(ctx, *args)`` and ``backward(ctx, *grad_outputs)`` as
    static methods, then call ``MyFunction.apply(*args)``::

        class Exp(Function):
            @staticmethod
            def forward(ctx, x):
                y = x.exp()
                ctx.save_for_backward(y)
                return y

            @staticmethod
            def backward(ctx, grad):
                y, = ctx.saved_tensors
                return grad * y
    """

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("You must implement the forward function for custom "
                                  "autograd.Function.")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("You must implement either the backward or vjp method for your "
                                  "custom autograd.Function to use it with backward mode AD.")

    vjp = backward

    @staticmethod
    def setup_context(ctx, inputs, output):
        raise NotImplementedError("setup_context is not implemented.")

    @classmethod
    def apply(cls, *args, **kwargs):
        node = cls._backward_cls.__new__(cls._backward_cls)
        tensor_args = [a for a in args if isinstance(a, Tensor)]
        node.needs_input_grad = tuple(isinstance(a, Tensor) and a._requires_grad for a in args)
        uses_setup = cls.setup_context is not Function.setup_context
        with grad_mode.no_grad():
            if uses_setup:
                output = cls.forward(*args, **kwargs)
                cls.setup_context(node, args, output)
            else:
                output = cls.forward(node, *args, **kwargs)
        is_tuple = isinstance(output, tuple)
        outputs = output if is_tuple else (output,)
        record = _grad_state.enabled and any(t._requires_grad for t in tensor_args)
        non_diff = {id(t) for t in node.non_differentiable}
        dirty = {id(t) for t in node.dirty_tensors}
        results = []
        for k, o in enumerate(outputs):
            if not isinstance(o, Tensor):
                results.append(o)
                continue
            diff = record and id(o) not in non_diff and (o.is_floating_point() or o.is_complex())
            if id(o) in dirty:
                # In-place custom op: the input tensor itself takes the new history.
                o._vc[0] += 1
                if diff:
                    o.grad_fn, o._output_nr, o._requires_grad = node, k, True
                results.append(o)
            else:
                results.append(_new(o._data, diff, node if diff else None, k, o._vc if
                                    any(o is t for t in tensor_args) else None))
        if record:
            node.next_edges = [((a.grad_fn, a._output_nr) if a.grad_fn is not None else (a, -1))
                               if isinstance(a, Tensor) and a._requires_grad else None for a in args]
            node._input_shapes = [tuple(a._data.shape) if isinstance(a, Tensor) else None for a in args]
            node._nout = len(outputs)
            node._out_meta = [(o._data.shape, o._data.dtype) if isinstance(o, Tensor) else ((), None)
                              for o in outputs]
            node._saved = tuple(node.to_save)
            node._saved_versions = [(t._vc, t._vc[0], f"{t.dtype} {list(t.shape)}")
                                    if t is not None else (None, 0, None) for t in node.to_save]
            node._saved_meta = ()
            node.to_save = ()
            if _hooks_active[0] and _hook_state.stack and node._saved:
                _saved_hooks.pack_custom(node)
            if anomaly.state.enabled:
                node._trace = "".join(traceback.format_stack()[:-1])
        return tuple(results) if is_tuple else results[0]


def once_differentiable(fn):
    """Decorator for a custom ``backward`` that does not support double backward."""
    import functools

    @functools.wraps(fn)
    def wrapper(ctx, *args):
        with grad_mode.no_grad():
            return fn(ctx, *args)
    return wrapper
