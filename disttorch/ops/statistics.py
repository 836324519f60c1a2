"""Statistics and reductions with a formula: variance, standard deviation, median, vector norms,
logsumexp.

Backward formulas are dual (arrays, or Tensors under ``create_graph``), like ``reduction``'s.
"""
import builtins
import warnings

import numpy as np

from .. import _dtype, return_types
from .._backend import get_array_module
from ..autograd.function import Node
from ..tensor import Tensor, _new
from ..amp.autocast_mode import autocast_args
from ._util import register_methods, cast, default_float, wrap_dim, zeros_grad
from .arithmetic import _dual_where, sub
from .pointwise import _exp, _sign, abs as _abs_op
from .reduction import (reduction_api, ExtremeAll, Gather, _axes, _check_nonempty, _data,
                        _expand, _like, _mean_keep, _method, _numel, _reduced_shape,
                        _require_float, _tie_weights, mean, _low_float, _INT64, quiet_mean)

__all__ = ["var", "std", "var_mean", "std_mean", "median", "nanmedian", "norm", "dist", "cdist",
           "logsumexp"]


class Var(Node):
    """Variance with ``correction``; ``sqrt=True`` gives the standard deviation."""

    def forward(self, x, axes, keepdim, correction, sqrt):
        xp = get_array_module(x)
        self.in_shape, self.axes, self.keepdim, self.sqrt = x.shape, axes, keepdim, sqrt
        self.dof = _numel(x.shape, axes) - correction
        # half precision is accumulated in float32, as PyTorch does
        wide = x.astype(np.float32) if _low_float(x.dtype) else x
        centered = wide - quiet_mean(wide, axes, True)
        sq = xp.square(centered) if x.dtype.kind != "c" else (centered * centered.conj()).real
        with np.errstate(invalid="ignore", divide="ignore"):
            out = sq.sum(axis=axes, keepdims=keepdim) / builtins.max(self.dof, 0)
            if sqrt:
                out = xp.sqrt(out)
        out = xp.asarray(out).astype(x.dtype if x.dtype.kind != "c" else sq.dtype, copy=False)
        self.save_for_backward(x, out if sqrt else None)
        return out

    def backward(self, g):
        x, y = self.saved_tensors
        centered = x - _mean_keep(x, self.axes)
        if self.sqrt:
            # d std = d var / (2 std), defined as 0 where std == 0 (PyTorch's convention)
            zero = _data(y) == 0
            g = _dual_where(zero, zeros_grad(g), g / _dual_where(zero, y * 0 + 1, y))
            scale = 1.0 / self.dof if self.dof > 0 else float("inf")
        else:
            scale = 2.0 / self.dof if self.dof > 0 else float("inf")
        return _expand(g, self.in_shape, self.axes, self.keepdim) * centered * scale, \
            None, None, None, None


class LogSumExp(Node):
    def forward(self, x, axes, keepdim):
        xp = get_array_module(x)
        self.in_shape, self.axes, self.keepdim = x.shape, axes, keepdim
        if x.size == 0:
            out = xp.full(_reduced_shape(x.shape, axes, keepdim), -np.inf, x.dtype)
        else:
            wide = x.astype(np.float32) if _low_float(x.dtype) else x  # (float32, as PyTorch)
            shift = xp.amax(wide, axis=axes, keepdims=True)
            shift = xp.where(xp.isfinite(shift), shift, 0)
            with np.errstate(divide="ignore"):
                out = xp.log(xp.exp(wide - shift).sum(axis=axes, keepdims=True)) + shift
            out = out.astype(x.dtype, copy=False)
            if not keepdim:
                out = out.reshape(_reduced_shape(x.shape, axes, False))
        self.save_for_backward(x, out)
        return out

    def backward(self, g):
        x, y = self.saved_tensors
        y_full = _expand(y, self.in_shape, self.axes, self.keepdim)
        return _expand(g, self.in_shape, self.axes, self.keepdim) * _exp(x - y_full), None, None


def vector_norm_array(x, p, axes, keepdim):
    """``(sum |x|^p)^(1/p)`` of an array over ``axes``, in ``x``'s dtype (half precision and
    bfloat16 computed in float32 and rounded once)."""
    xp = get_array_module(x)
    a = xp.abs(x.astype(np.float32) if _low_float(x.dtype) else x)
    if p == 2:
        out = xp.sqrt((a * a).sum(axis=axes, keepdims=keepdim))
    elif p == 1:
        out = a.sum(axis=axes, keepdims=keepdim)
    elif p == np.inf:
        out = xp.amax(a, axis=axes, keepdims=keepdim)
    elif p == -np.inf:
        out = xp.amin(a, axis=axes, keepdims=keepdim)
    elif p == 0:
        out = (a != 0).sum(axis=axes, keepdims=keepdim).astype(a.dtype)
    else:
        with np.errstate(divide="ignore"):
            out = ((a ** p).sum(axis=axes, keepdims=keepdim)) ** (1.0 / p)
    return xp.asarray(out).astype(x.dtype, copy=False)


class VectorNorm(Node):
    """``(sum |x|^p)^(1/p)`` over ``axes`` for any real ``p`` (0, 1, 2, inf, -inf, ...)."""

    @classmethod
    def name(cls):
        return "LinalgVectorNormBackward0"

    def forward(self, x, p, axes, keepdim):
        self.in_shape, self.p, self.axes, self.keepdim = x.shape, p, axes, keepdim
        out = vector_norm_array(x, p, axes, keepdim)
        self.save_for_backward(x, out)
        return out

    def backward(self, g):
        x, y = self.saved_tensors
        p, axes, keepdim, shape = self.p, self.axes, self.keepdim, self.in_shape
        if p == 0:   # a count: no gradient at all (x.grad stays None), as in PyTorch
            return None, None, None, None
        if p == 1:
            return _expand(g, shape, axes, keepdim) * _sign(x), None, None, None
        if p in (np.inf, -np.inf):
            xd = _data(x)
            weights = _tie_weights(get_array_module(xd).abs(xd), _data(y), axes, keepdim)
            return _expand(g, shape, axes, keepdim) * _sign(x) * _like(g, weights), None, None, None
        zero = _data(y) == 0
        safe_y = _dual_where(zero, y * 0 + 1, y)
        g = _dual_where(zero, zeros_grad(g), g)
        if p == 2:
            return _expand(g / safe_y, shape, axes, keepdim) * x, None, None, None
        scale = _expand(g / safe_y ** (p - 1), shape, axes, keepdim)
        return scale * x * _abs(x) ** (p - 2), None, None, None


def _abs(x):
    return _abs_op(x) if isinstance(x, Tensor) else get_array_module(x).abs(x)


def _correction(name, dim, unbiased, correction):
    if isinstance(dim, bool):
        dim, unbiased = None, dim
    if unbiased is not None and correction is not None:
        raise TypeError(f"{name}() received an invalid combination of arguments: use either "
                        f"'unbiased' or 'correction', not both")
    if correction is None:
        correction = 1 if unbiased is None or unbiased else 0
    return dim, correction


def _var_std(input, dim, unbiased, keepdim, correction, sqrt, name):
    dim, correction = _correction(name, dim, unbiased, correction)
    _require_float(input, "std and var only support floating point and complex dtypes")
    axes = _axes(input, dim)
    if _numel(input._data.shape, axes) - correction <= 0:
        warnings.warn(f"{name}(): degrees of freedom is <= 0. Correction should be strictly less "
                      f"than the reduction factor (input numel divided by output numel).",
                      stacklevel=3)
    return Var.apply(input, axes, keepdim, correction, sqrt)


def var(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """Variance over ``dim`` with Bessel's ``correction`` (default 1; legacy ``unbiased``)."""
    return _var_std(input, dim, unbiased, keepdim, correction, False, "var")


def std(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """Standard deviation over ``dim`` with ``correction`` (default 1; legacy ``unbiased``)."""
    return _var_std(input, dim, unbiased, keepdim, correction, True, "std")


def var_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """``(var, mean)`` over ``dim``."""
    dim, correction = _correction("var_mean", dim, unbiased, correction)
    _require_float(input, "var_mean only support floating point and complex dtypes")
    return (var(input, dim, keepdim=keepdim, correction=correction),
            mean(input, dim, keepdim))


def std_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """``(std, mean)`` over ``dim``."""
    dim, correction = _correction("std_mean", dim, unbiased, correction)
    _require_float(input, "std_mean only support floating point and complex dtypes")
    return (std(input, dim, keepdim=keepdim, correction=correction),
            mean(input, dim, keepdim))


def _median(input, dim, keepdim, ignore_nan):
    data = input._data
    xp = get_array_module(data)
    name = "nanmedian" if ignore_nan else "median"
    if data.dtype.kind == "b":
        raise NotImplementedError(f"\"median_{'cpu' if dim is None else 'out'}\" not "
                                  f"implemented for 'Bool'")
    if dim is None:
        if data.size == 0:
            return _new(xp.full((), np.nan, data.dtype))
        return ExtremeAll.apply(input, _axes(input, None), False,
                                lambda xp, x, axes, keepdim: x.reshape(-1)[
                                    _median_index(xp, x.reshape(1, -1), 1, ignore_nan).item()])
    axis = wrap_dim(dim, data.ndim)
    if data.ndim == 0:
        return getattr(return_types, name)(Gather.apply(input, xp.zeros((), _INT64), None, False),
                                           _new(xp.zeros((), _INT64)))
    _check_nonempty(input, (axis,), name)
    idx = _median_index(xp, data, axis, ignore_nan)
    values = Gather.apply(input, idx, axis, not keepdim)
    return getattr(return_types, name)(values, _new(idx if keepdim else idx.squeeze(axis)))


def _median_index(xp, data, axis, ignore_nan):
    """Position of the lower median along ``axis`` (keepdims); NaN wins unless ignored."""
    nan = xp.isnan(data) if data.dtype.kind == "f" else xp.zeros(data.shape, bool)
    order = xp.argsort(data, axis=axis, kind="stable")
    n_valid = data.shape[axis] - nan.sum(axis=axis, keepdims=True) if ignore_nan else \
        data.shape[axis]
    k = xp.maximum((xp.asarray(n_valid) - 1) // 2, 0)
    k = xp.broadcast_to(k, nan.sum(axis=axis, keepdims=True).shape)
    idx = xp.take_along_axis(order, k, axis=axis)
    if not ignore_nan:
        # argsort puts NaN last; PyTorch's median of a slice with NaN is that NaN
        idx = xp.where(nan.any(axis=axis, keepdims=True),
                       xp.argmax(nan, axis=axis, keepdims=True), idx)
    return idx.astype(_INT64)


def median(input, dim=None, keepdim=False):
    """The lower median of all elements, or ``(values, indices)`` along ``dim``."""
    return _median(input, dim, keepdim, False)


def nanmedian(input, dim=None, keepdim=False):
    """:func:`median` ignoring NaN values."""
    return _median(input, dim, keepdim, True)


def vector_norm_impl(input, ord, dim, keepdim, dtype, name):
    """Shared by :func:`norm` and ``linalg.vector_norm``."""
    if dtype is not None:
        input = cast(input, _dtype.to_numpy_dtype(dtype))
    if isinstance(ord, str):
        raise TypeError("linalg_vector_norm(): argument 'ord' must be Number, not str")
    _require_float(input, name + ": Expected a floating point or complex tensor as input. Got {}")
    axes = _axes(input, dim)
    if input._data.size == 0 and (ord in (np.inf, -np.inf) or ord < 0):
        # the max/min and negative powers have no identity to return for an empty reduction
        if dim is None or dim == ():
            raise RuntimeError(f"{name} cannot compute the {ord:g} norm on an empty tensor "
                               f"because the operation does not have an identity")
        for a in axes:
            if input._data.shape[a] == 0:
                raise RuntimeError(f"{name} cannot compute the {ord:g} norm on the dimension "
                                   f"{a}because this dimension is empty and the operation does "
                                   f"not have an identity")
    if input._data.dtype.kind == "c":
        # the norm of a complex tensor is that of its magnitudes, real as in PyTorch
        input = _abs_op(input)
    return VectorNorm.apply(input, float(ord), axes, keepdim)


def norm(input, p="fro", dim=None, keepdim=False, dtype=None):
    """Vector p-norm over ``dim`` (``'fro'``: the 2-norm; ``'nuc'``: the nuclear matrix norm).

    Prefer :func:`disttorch.linalg.vector_norm` and :func:`disttorch.linalg.matrix_norm`.
    """
    dims = [dim] if isinstance(dim, int) else dim
    if p == "nuc" or (p == "fro" and dims is not None and len(dims) > 2):
        # PyTorch hands these to linalg.matrix_norm, over every dim when dim is None
        from ..linalg import matrix_norm
        return matrix_norm(input, p, list(range(input.ndim)) if dim is None else dim, keepdim,
                           dtype=dtype)
    # after "nuc": PyTorch's norm hands it to linalg.matrix_norm, which autocasts on its own
    input, = autocast_args("norm", input, dtype=dtype)
    if p == "fro" or p is None:
        p = 2
    return vector_norm_impl(input, p, dim, keepdim, dtype, "linalg.vector_norm")


def dist(input, other, p=2):
    """The ``p``-norm of ``input - other`` (broadcast)."""
    input, other = autocast_args("dist", input, other)
    return vector_norm_impl(sub(input, other), p, None, False, None, "linalg.vector_norm")


def cdist(x1, x2, p=2.0, compute_mode="use_mm_for_euclid_dist_if_necessary"):
    """The ``p``-norm distance between each row of ``x1`` (``... x P x M``) and each row of
    ``x2`` (``... x R x M``): a ``... x P x R`` tensor."""
    x1, x2 = autocast_args("cdist", x1, x2)
    for t, name in ((x1, "X1"), (x2, "X2")):
        if t._data.ndim < 2:
            raise RuntimeError(f"cdist only supports at least 2D tensors, {name} got: "
                               f"{t._data.ndim}D")
    if x1._data.shape[-1] != x2._data.shape[-1]:
        raise RuntimeError(f"X1 and X2 must have the same number of columns. X1: "
                           f"{x1._data.shape[-1]} X2: {x2._data.shape[-1]}")
    if p < 0:
        raise RuntimeError("cdist only supports non-negative p values")
    diff = sub(x1.unsqueeze(-2), x2.unsqueeze(-3))
    return vector_norm_impl(diff, p, -1, False, None, "cdist")


def logsumexp(input, dim, keepdim=False):
    """``log(sum(exp(input)))`` over ``dim``, computed stably (integers give a float result)."""
    input, = autocast_args("logsumexp", input)
    if input._data.dtype.kind in "biu":
        input = cast(input, default_float())
    return LogSumExp.apply(input, _axes(input, dim), keepdim)


for _name in __all__:
    globals()[_name] = reduction_api(globals()[_name])
register_methods({name: _method(globals()[name])
                  for name in ["var", "std", "median", "nanmedian", "norm", "dist", "logsumexp"]})
