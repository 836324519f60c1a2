"""Products (matmul, mm, bmm, mv, dot, outer, addmm, ...), einsum, tensordot, kron, cross, and
the ``@`` operator.

``matmul`` is the GEMM hot path: one ``xp.matmul`` forward, ``g @ b.T`` / ``a.T @ g`` backward on
transposed views (no copies). Under ``create_graph`` the backward formulas run on Tensors through
``matmul`` and ``einsum`` themselves, so products differentiate to any order.
"""
import string

import numpy as np

from .._gemm import matmul as _gemm
from .._backend import get_array_module
from ..autograd.function import Node
from ..tensor import Tensor, _new
from .. import _dtype
from .._dtype import NP_BFLOAT16
from ._util import cast, register_methods, wrap_dim
from .arithmetic import _prep, add, mul
from .pointwise import _inplace_unary
from .reduction import _sum, _method, scalar_type_name
from ..amp.autocast_mode import autocast_args

__all__ = ["matmul", "mm", "bmm", "mv", "dot", "vdot", "inner", "outer", "ger", "addmm", "addmv",
           "addr", "baddbmm", "addbmm", "einsum", "tensordot", "kron", "cross", "chain_matmul"]


# ------------------------------------------------------------------ dual helpers
def _mT(x):
    """Swap the last two dims (a view for arrays; an ``einsum`` for Tensors)."""
    if isinstance(x, Tensor):
        return einsum("...ij->...ji", x)
    return x.swapaxes(-1, -2)


def _einsum(equation, *operands):
    if any(isinstance(o, Tensor) for o in operands):
        return einsum(equation, *operands)
    return _einsum_array(equation, operands)


_FLOAT32 = np.dtype(np.float32)


def _einsum_array(equation, operands):
    """numpy's einsum; bfloat16 operands (numpy refuses them, or its BLAS path answers float32)
    are contracted in float32, as PyTorch accumulates, and the result rounded once to
    bfloat16 (torch's result dtype when every operand is bfloat16)."""
    xp = get_array_module(operands[0])
    if xp is not np:
        equation = _name_summed_ellipsis(equation, [o.ndim for o in operands])
    dtype = operands[0].dtype
    if dtype == NP_BFLOAT16 and all(o.dtype == dtype for o in operands[1:]):
        wide = [o.astype(_FLOAT32) for o in operands]
        return xp.asarray(xp.einsum(equation, *wide, optimize=len(wide) > 1)).astype(dtype)
    return xp.einsum(equation, *operands, optimize=len(operands) > 1)


def _name_summed_ellipsis(equation, ndims):
    """Spell out an ellipsis that the output drops (``"...kn,...n->k"``) as letters: numpy sums
    over those dims, CuPy's einsum refuses the equation."""
    if "->" not in equation or "..." not in equation:
        return equation
    lhs, rhs = equation.replace(" ", "").split("->")
    if "..." in rhs or "..." not in lhs:
        return equation
    terms = lhs.split(",")
    used = set(equation)
    free = [c for c in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ" if c not in used]
    spans = [ndim - len(term.replace("...", "")) for term, ndim in zip(terms, ndims)]
    width = max(spans)
    letters = free[:width]
    terms = [term.replace("...", "".join(letters[width - span:]))
             for term, span in zip(terms, spans)]
    return ",".join(terms) + "->" + rhs


def _sum_to(g, shape):
    """Sum a broadcast gradient down to ``shape`` without reshaping (works on Tensors)."""
    if tuple(g.shape) == tuple(shape):
        return g
    lead = len(g.shape) - len(shape)
    if lead:
        g = _sum(g, tuple(range(lead)), False)
    ones = tuple(i for i, s in enumerate(shape) if s == 1 and g.shape[i] != 1)
    return _sum(g, ones, True) if ones else g


# ------------------------------------------------------------------ matmul
_PRODUCT_LABELS = {(2, 2): "MmBackward0", (2, 1): "MvBackward0", (1, 1): "DotBackward0"}


class MatMul(Node):
    def forward(self, a, b):
        label = _PRODUCT_LABELS.get((a.ndim, b.ndim))
        if label is not None:
            self.label = label   # the kernel PyTorch's matmul dispatches to
        self.save_for_backward(a, b)
        return _same_dtype(_gemm(a, b), a)

    def backward(self, g):
        a, b = self.saved_tensors
        need_a, need_b = self.next_edges[0] is not None, self.next_edges[1] is not None
        na, nb = len(a.shape), len(b.shape)
        ga = gb = None
        if na >= 2 and nb >= 2:
            if need_a:
                ga = _sum_to(_gemm(g, _mT(b)), a.shape)
            if need_b:
                gb = _sum_to(_gemm(_mT(a), g), b.shape)
        elif na == 1 and nb == 1:
            ga = g * b if need_a else None
            gb = g * a if need_b else None
        elif na == 1:
            ga = _einsum("...kn,...n->k", b, g) if need_a else None
            gb = _einsum("k,...n->...kn", a, g) if need_b else None
        else:
            ga = _sum_to(_einsum("...m,k->...mk", g, b), a.shape) if need_a else None
            gb = _einsum("...mk,...m->k", a, g) if need_b else None
        return _same_dtype(ga, a), _same_dtype(gb, b)


def _same_dtype(result, like):
    # numpy multiplies bfloat16 matrices in float32 and returns float32; PyTorch keeps bfloat16
    if result is None or isinstance(result, Tensor) or result.dtype == like.dtype:
        return result
    return result.astype(like.dtype)


def _shape_str(shape):
    return "x".join(str(s) for s in shape)


def _check_same_dtype(a, b):
    if a._data.dtype != b._data.dtype:
        raise RuntimeError(f"expected m1 and m2 to have the same dtype, but got: "
                           f"{_c_type(a)} != {_c_type(b)}")


def _check_scalar_type(a, b):
    if a._data.dtype != b._data.dtype:
        raise RuntimeError(f"expected scalar type {scalar_type_name(a)} but found "
                           f"{scalar_type_name(b)}")


def _c_type(t):
    names = {"float32": "float", "float64": "double", "float16": "c10::Half",
             "bfloat16": "c10::BFloat16", "int64": "long int", "int32": "int",
             "int16": "short int", "int8": "signed char", "uint8": "unsigned char", "bool": "bool",
             "complex64": "c10::complex<float>", "complex128": "c10::complex<double>"}
    return names.get(t.dtype.name, t.dtype.name)


def _check_device(a, b):
    if type(a._data) is not type(b._data):
        from ._util import device_mismatch
        raise device_mismatch(a, b)


def matmul(input, other, *, out=None):
    """Matrix product with PyTorch's rules: 1-D operands are vectors (a dot product for two),
    a 1-D operand is promoted to a matrix and the added dim removed, and leading (batch) dims
    broadcast."""
    input, other = autocast_args("matmul", input, other)
    a, b = input._data, other._data
    na, nb = a.ndim, b.ndim
    if na == 0 or nb == 0:
        raise RuntimeError(f"both arguments to matmul need to be at least 1D, but they are {na}D "
                           f"and {nb}D")
    if a.dtype.kind == "b" or b.dtype.kind == "b":
        # PyTorch's kernel for the shapes: dot for two vectors, bmm for a batch, else addmm
        kernel = ("dot" if na == nb == 1 else "bmm" if max(na, nb) > 2 else
                  "addmv_impl_cpu" if nb == 1 else "addmm_impl_cpu_")
        raise NotImplementedError(f"\"{kernel}\" not implemented for 'Bool'")
    _check_device(input, other)
    k_a = a.shape[-1]
    k_b = b.shape[-2] if nb >= 2 else b.shape[0]
    if nb <= 2:
        # PyTorch folds the leading dims of ``input`` into rows of one matrix product
        _check_folded(input, other, k_a, k_b)
    else:
        _broadcast_batch(a.shape[:-2] if na >= 2 else (), b.shape[:-2])
        if k_a != k_b:
            batch = np.broadcast_shapes(a.shape[:-2] if na >= 2 else (), b.shape[:-2])
            size = int(np.prod(batch))
            raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: "
                               f"[{size}, {k_a}] but got: [{size}, {k_b}].")
        _check_scalar_type(input, other)
    return _out(MatMul.apply(input, other), out)


def _check_folded(input, other, k_a, k_b):
    a, b = input._data, other._data
    if k_a == k_b and a.dtype == b.dtype:
        return
    rows = int(np.prod(a.shape[:-1]))
    same_dtype = a.dtype == b.dtype
    if a.ndim == 1 and b.ndim == 1:
        if k_a != k_b:
            raise RuntimeError(f"inconsistent tensor size, expected tensor [{k_a}] and src [{k_b}] "
                               f"to have the same number of elements, but got {k_a} and {k_b} "
                               f"elements respectively")
        if not same_dtype:
            raise RuntimeError(f"dot : expected both vectors to have same dtype, but found "
                               f"{scalar_type_name(input)} and {scalar_type_name(other)}")
    elif b.ndim == 1:
        if k_a != k_b:
            raise RuntimeError(f"size mismatch, got input ({rows}), mat ({rows}x{k_a}), vec "
                               f"({k_b})")
        if not same_dtype:
            ta, tb = scalar_type_name(input), scalar_type_name(other)
            raise RuntimeError(f"addmv input tensors must have the same dtype, but got {tb}, {ta}, "
                               f"and {tb}")
    else:
        if k_a != k_b:
            raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({rows}x{k_a} and "
                               f"{_shape_str(b.shape)})")
        _check_same_dtype(input, other)


def _broadcast_batch(sa, sb):
    for i in range(1, min(len(sa), len(sb)) + 1):
        x, y = sa[-i], sb[-i]
        if x != y and x != 1 and y != 1:
            dim = max(len(sa), len(sb)) - i
            raise RuntimeError(f"The size of tensor a ({x}) must match the size of tensor b ({y}) "
                               f"at non-singleton dimension {dim}")


def _out(result, out):
    if out is None:
        return result
    from .arithmetic import _out as write_out
    return write_out(result, out)


def mm(input, mat2, *, out=None):
    """Matrix product of two 2-D tensors (no broadcasting)."""
    input, mat2 = autocast_args("mm", input, mat2)
    if input._data.ndim != 2:
        raise RuntimeError("self must be a matrix")
    if mat2._data.ndim != 2:
        raise RuntimeError("mat2 must be a matrix")
    return matmul(input, mat2, out=out)


def bmm(input, mat2, *, out=None):
    """Batched matrix product of two 3-D tensors with the same batch size."""
    input, mat2 = autocast_args("bmm", input, mat2)
    a, b = input._data, mat2._data
    if a.ndim != 3:
        raise RuntimeError("batch1 must be a 3D tensor")
    if b.ndim != 3:
        raise RuntimeError("batch2 must be a 3D tensor")
    if b.shape[:2] != (a.shape[0], a.shape[2]):
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: "
                           f"[{a.shape[0]}, {a.shape[2]}] but got: [{b.shape[0]}, {b.shape[1]}].")
    _check_device(input, mat2)
    _check_scalar_type(input, mat2)
    if a.dtype.kind == "b":
        raise NotImplementedError("\"bmm\" not implemented for 'Bool'")
    return _out(MatMul.apply(input, mat2), out)


def mv(input, vec, *, out=None):
    """Matrix-vector product of a 2-D and a 1-D tensor."""
    input, vec = autocast_args("mv", input, vec)
    if input._data.ndim != 2 or vec._data.ndim != 1:
        raise RuntimeError(f"vector + matrix @ vector expected, got 1, {input._data.ndim}, "
                           f"{vec._data.ndim}")
    return matmul(input, vec, out=out)


def dot(input, tensor, *, out=None):
    """Dot product of two 1-D tensors of equal size and dtype."""
    input, tensor = autocast_args("dot", input, tensor)
    if input._data.ndim != 1 or tensor._data.ndim != 1:
        raise RuntimeError(f"1D tensors expected, but got {input._data.ndim}D and "
                           f"{tensor._data.ndim}D tensors")
    return matmul(input, tensor, out=out)


def vdot(input, other, *, out=None):
    """Dot product of two 1-D tensors, conjugating the first."""
    input, other = autocast_args("vdot", input, other)
    if input._data.dtype.kind == "c":
        input = _Conj.apply(input)
    return dot(input, other, out=out)


class _Conj(Node):
    def forward(self, x):
        return get_array_module(x).conj(x)

    def backward(self, g):
        return _Conj.apply(g) if isinstance(g, Tensor) else get_array_module(g).conj(g)


def inner(input, other, *, out=None):
    """Sum of products over the last dims (a scalar multiple for 0-d operands)."""
    input, other = autocast_args("inner", input, other)
    if input._data.ndim == 0 or other._data.ndim == 0:
        return _out(mul(input, other), out)
    return _out(einsum("...i,...i->...", input, other) if input._data.ndim == 1 == other._data.ndim
                else tensordot(input, other, ([-1], [-1])), out)


def outer(input, vec2, *, out=None):
    """Outer product of two 1-D tensors."""
    input, vec2 = autocast_args("outer", input, vec2)
    for t, name in ((input, "self"), (vec2, "vec2")):
        if t._data.ndim != 1:
            raise RuntimeError(f"outer: Expected 1-D argument {name}, but got {t._data.ndim}-D")
    input, vec2 = _prep(input, vec2)
    if input._data.dtype.kind == "b":   # (PyTorch's outer is a product, bool included)
        return _out(mul(input.unsqueeze(1), vec2.unsqueeze(0)), out)
    return _out(einsum("i,j->ij", input, vec2), out)


ger = outer


def _scaled_add(input, product, beta, alpha):
    _check_expand(input, product._data.shape)
    if alpha != 1:
        product = mul(product, alpha)
    if beta == 0:
        # PyTorch ignores the values of ``input`` (NaN included) when beta is 0
        return add(_ZeroLike.apply(input), product)
    return add(mul(input, beta) if beta != 1 else input, product)


def _check_expand(input, target):
    """``input`` must broadcast to ``target`` (PyTorch expands it), not the other way."""
    shape = input._data.shape
    if len(shape) > len(target):
        raise RuntimeError(f"expand(disttorch.{scalar_type_name(input)}Tensor{{{list(shape)}}}, "
                           f"size={list(target)}): the number of sizes provided ({len(target)}) "
                           f"must be greater or equal to the number of dimensions in the tensor "
                           f"({len(shape)})")
    for i in range(1, len(shape) + 1):
        if shape[-i] != 1 and shape[-i] != target[-i]:
            raise RuntimeError(f"The expanded size of the tensor ({target[-i]}) must match the "
                               f"existing size ({shape[-i]}) at non-singleton dimension "
                               f"{len(target) - i}.  Target sizes: {list(target)}.  Tensor "
                               f"sizes: {list(shape)}")


class _ZeroLike(Node):
    """Zeros shaped like ``x`` whose gradient to ``x`` is zero (``beta=0`` in ``addmm``)."""

    def forward(self, x):
        return get_array_module(x).zeros_like(x)

    def backward(self, g):
        return g * 0


def _rounded_once(compute, *operands):
    """``compute(*operands)``, in float32 and rounded once when they are all bfloat16: PyTorch's
    bfloat16 GEMMs accumulate ``beta * input + alpha * product`` in float32, and so does
    disttorch's bfloat16 product (numpy and CuPy have no bfloat16 GEMM), so scaling and adding
    the rounded product in bfloat16 would round two more times."""
    bf16 = _dtype.bfloat16
    if bf16 is None or any(t._data.dtype != bf16.np_dtype for t in operands):
        return compute(*operands)
    result = compute(*(cast(t, np.float32) for t in operands))
    return cast(result, bf16.np_dtype)


def addmm(input, mat1, mat2, *, beta=1, alpha=1, out=None):
    """``beta * input + alpha * (mat1 @ mat2)``."""
    input, mat1, mat2 = autocast_args("addmm", input, mat1, mat2)
    return _out(_rounded_once(lambda i, a, b: _scaled_add(i, mm(a, b), beta, alpha),
                              input, mat1, mat2), out)


def addmv(input, mat, vec, *, beta=1, alpha=1, out=None):
    """``beta * input + alpha * (mat @ vec)``."""
    input, mat, vec = autocast_args("addmv", input, mat, vec)
    return _out(_rounded_once(lambda i, a, b: _scaled_add(i, mv(a, b), beta, alpha),
                              input, mat, vec), out)


def addr(input, vec1, vec2, *, beta=1, alpha=1, out=None):
    """``beta * input + alpha * outer(vec1, vec2)``."""
    input, vec1, vec2 = autocast_args("addr", input, vec1, vec2)
    return _out(_scaled_add(input, outer(vec1, vec2), beta, alpha), out)


def baddbmm(input, batch1, batch2, *, beta=1, alpha=1, out=None):
    """``beta * input + alpha * bmm(batch1, batch2)``."""
    input, batch1, batch2 = autocast_args("baddbmm", input, batch1, batch2)
    return _out(_rounded_once(lambda i, a, b: _scaled_add(i, bmm(a, b), beta, alpha),
                              input, batch1, batch2), out)


def addbmm(input, batch1, batch2, *, beta=1, alpha=1, out=None):
    """``beta * input + alpha * sum_b(batch1[b] @ batch2[b])``."""
    input, batch1, batch2 = autocast_args("addbmm", input, batch1, batch2)
    return _out(_rounded_once(
        lambda i, a, b: _scaled_add(i, _sum(bmm(a, b), (0,), False), beta, alpha),
        input, batch1, batch2), out)


def chain_matmul(*matrices, out=None):
    """Product of a chain of 2-D tensors, left to right."""
    matrices = autocast_args("chain_matmul", *matrices)
    result = matrices[0]
    for m in matrices[1:]:
        result = mm(result, m)
    return _out(result, out)


# ------------------------------------------------------------------ einsum
def _parse_einsum(equation, shapes):
    """Subscripts per operand and for the output, with ``...`` spelled out as letters."""
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(shapes):
        more = "more" if len(shapes) > len(terms) else "fewer"
        raise RuntimeError(f"einsum(): {more} operands were provided than specified in the "
                           f"equation")
    used = set(c for c in eq if c.isalpha())
    free = [c for c in string.ascii_letters if c not in used]
    ell_ndim = max((len(s) - len(t) + 3 for t, s in zip(terms, shapes) if "..." in t), default=0)
    ell = "".join(free[:ell_ndim])
    subs = []
    for i, (t, shape) in enumerate(zip(terms, shapes)):
        if "..." in t:
            t = t.replace("...", ell[ell_ndim - (len(shape) - len(t) + 3):])
        elif len(t) != len(shape):
            raise RuntimeError(f"einsum(): the number of subscripts in the equation ({len(t)}) "
                               f"does not match the number of dimensions ({len(shape)}) for "
                               f"operand {i} and no ellipsis was given")
        subs.append(t)
    if arrow:
        out = rhs.replace("...", ell)
        for c in out:
            if out.count(c) > 1:
                raise RuntimeError(f"einsum(): output subscript {c} appears more than once in the "
                                   f"output")
            if c not in lhs and c not in ell:
                raise RuntimeError(f"einsum(): output subscript {c} does not appear in the "
                                   f"equation for any input operand")
    else:
        joined = "".join(subs)
        out = ell + "".join(sorted(c for c in set(joined) if joined.count(c) == 1 and c not in ell))
    return subs, out, free[ell_ndim:]


class Einsum(Node):
    def forward(self, subs, out, spare, *operands):
        self.subs, self.out, self.spare = subs, out, spare
        self.shapes = [o.shape for o in operands]
        self.save_for_backward(*operands)
        result = _einsum_array(",".join(subs) + "->" + out, operands)
        if len(operands) == 1 and result.base is not None:
            result = result.copy()  # a result that is a view would escape version tracking
        return result

    def backward(self, g):
        operands = self.saved_tensors
        grads = [None if self.next_edges[k + 3] is None else self._grad(k, g, operands)
                 for k in range(len(operands))]
        return (None, None, None, *grads)

    def _grad(self, k, g, operands):
        xp = get_array_module(g._data if isinstance(g, Tensor) else g)
        dtype = (g._data if isinstance(g, Tensor) else g).dtype
        in_subs = [self.out] + [s for j, s in enumerate(self.subs) if j != k]
        in_ops = [g] + [o for j, o in enumerate(operands) if j != k]
        available = set("".join(in_subs))
        spare = iter(self.spare)
        target, seen = [], set()
        for c, size in zip(self.subs[k], self.shapes[k]):
            if c in seen:
                # a repeated subscript reads a diagonal: its gradient lands on that diagonal
                d = next(spare)
                target.append(d)
                in_subs.append(c + d)
                in_ops.append(_const(g, xp.eye(size, dtype=dtype)))
                continue
            seen.add(c)
            target.append(c)
            if c not in available:
                # summed within this operand only: the gradient is constant along it
                in_subs.append(c)
                in_ops.append(_const(g, xp.ones(size, dtype=dtype)))
                available.add(c)
        grad = _einsum(",".join(in_subs) + "->" + "".join(target), *in_ops)
        return _sum_to(grad, self.shapes[k])


def _const(ref, array):
    return _new(array) if isinstance(ref, Tensor) else array


def _sublist_subscripts(sublist):
    letters = []
    for s in sublist:
        if s is Ellipsis:
            letters.append("...")
        elif not 0 <= s < 52:
            raise ValueError("einsum(): subscript in subscript list is not within the valid "
                             "range [0, 52)")
        else:
            # PyTorch's label numbering: 'A'-'Z' are 0-25 and 'a'-'z' 26-51 (the order an
            # implicit output is sorted in)
            letters.append((string.ascii_uppercase + string.ascii_lowercase)[s])
    return "".join(letters)


def _sublist_equation(args):
    """``(op0, sublist0, op1, sublist1, ..., [sublist_out])`` as an equation and operands."""
    out = args[-1] if len(args) % 2 else None
    if isinstance(out, Tensor):
        raise ValueError("einsum(): the sublist format needs a subscript list after every "
                         "operand")
    pairs = args[:len(args) - len(args) % 2]
    operands, terms = list(pairs[0::2]), pairs[1::2]
    equation = ",".join(_sublist_subscripts(t) for t in terms)
    if out is not None:
        equation += "->" + _sublist_subscripts(out)
    return equation, operands


def einsum(equation, *operands):
    """Sum of products over the indices of ``equation`` (NumPy's notation, ``...`` included),
    e.g. ``einsum("bij,bjk->bik", a, b)``; the operands may also be passed as one list, or in
    the sublist form ``einsum(a, [0, 1], b, [1, 2], [0, 2])`` (subscripts 0-51, ``...`` as
    ``Ellipsis``)."""
    if not isinstance(equation, str):
        equation, operands = _sublist_equation((equation,) + operands)
    operands = autocast_args("einsum", *operands, variant=equation)
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    subs, out, spare = _parse_einsum(equation, [o._data.shape for o in operands])
    _check_einsum_operands(subs, operands)
    if any(o._data.dtype.kind == "b" for o in operands):   # (PyTorch contracts through bmm)
        raise NotImplementedError("\"bmm\" not implemented for 'Bool'")
    return Einsum.apply(subs, out, spare, *operands)


def _check_einsum_operands(subs, operands):
    sizes = {}
    for i, (sub, operand) in enumerate(zip(subs, operands)):
        if i:
            _check_device(operands[0], operand)
            _check_scalar_type(operands[0], operand)
        for c, size in zip(sub, operand._data.shape):
            seen = sizes.setdefault(c, size)
            if size != seen and size != 1 and seen != 1:
                raise RuntimeError(f"einsum(): subscript {c} has size {size} for operand {i} which "
                                   f"does not broadcast with previously seen size {seen}")
            if seen == 1:
                sizes[c] = size


def tensordot(a, b, dims=2, out=None):
    """Contract ``dims`` dims of ``a`` with ``dims`` dims of ``b``: an int (the last of ``a``
    with the first of ``b``) or a pair of lists of dims."""
    a, b = autocast_args("tensordot", a, b)
    if a._data.dtype.kind == "b" or b._data.dtype.kind == "b":   # (a GEMM in PyTorch)
        raise NotImplementedError("\"addmm_impl_cpu_\" not implemented for 'Bool'")
    na, nb = a._data.ndim, b._data.ndim
    if isinstance(dims, Tensor):
        dims = dims.tolist()
    if isinstance(dims, int):
        if dims < 0:
            raise RuntimeError(f"tensordot expects dims >= 0, but got dims={dims}")
        dims_a, dims_b = list(range(na - dims, na)), list(range(dims))
    else:
        dims_a, dims_b = dims
        dims_a = [dims_a] if isinstance(dims_a, int) else list(dims_a)
        dims_b = [dims_b] if isinstance(dims_b, int) else list(dims_b)
    if len(dims_a) != len(dims_b):
        raise RuntimeError("both dimension lists should have same length")
    dims_a = [wrap_dim(d, na) for d in dims_a]
    dims_b = [wrap_dim(d, nb) for d in dims_b]
    letters = iter(string.ascii_letters)
    sub_a = [next(letters) for _ in range(na)]
    sub_b = [next(letters) for _ in range(nb)]
    for da, db in zip(dims_a, dims_b):
        if a._data.shape[da] != b._data.shape[db]:
            raise RuntimeError(f"contracted dimensions need to match, but first has size "
                               f"{a._data.shape[da]} in dim {da} and second has size "
                               f"{b._data.shape[db]} in dim {db}")
        sub_b[db] = sub_a[da]
    out_sub = [c for i, c in enumerate(sub_a) if i not in dims_a] + \
        [c for i, c in enumerate(sub_b) if i not in dims_b]
    eq = "".join(sub_a) + "," + "".join(sub_b) + "->" + "".join(out_sub)
    return _out(einsum(eq, a, b), out)


class Kron(Node):
    def forward(self, a, b):
        self.save_for_backward(a, b)
        return get_array_module(a).kron(a, b)

    def backward(self, g):
        a, b = self.saved_tensors
        sa, sb = tuple(a.shape), tuple(b.shape)
        n = max(len(sa), len(sb))
        sa, sb = (1,) * (n - len(sa)) + sa, (1,) * (n - len(sb)) + sb
        # g viewed as (a0, b0, a1, b1, ...): block (i, j) of the product is a[i] * b
        blocks = g.reshape(tuple(s for pair in zip(sa, sb) for s in pair))
        axes_a, axes_b = list(range(0, 2 * n, 2)), list(range(1, 2 * n, 2))
        ga = gb = None
        if self.next_edges[0] is not None:
            ga = _tensordot(blocks, b.reshape(sb), axes_b, n).reshape(a.shape)
        if self.next_edges[1] is not None:
            gb = _tensordot(blocks, a.reshape(sa), axes_a, n).reshape(b.shape)
        return ga, gb


def _tensordot(x, y, x_axes, n):
    """Contract ``x_axes`` of ``x`` with the first ``n`` dims of ``y``; arrays or Tensors."""
    if isinstance(x, Tensor) or isinstance(y, Tensor):
        return tensordot(x, y, (x_axes, list(range(n))))
    return get_array_module(x).tensordot(x, y, (x_axes, list(range(n))))


def kron(input, other, *, out=None):
    """Kronecker product: blocks ``input[i, j] * other``."""
    _check_device(input, other)
    # PyTorch's promotion, not numpy's; a 0-d operand counts fully (kron reshapes it first)
    dtype = _dtype.result_type_from([input.dtype, other.dtype], [], ()).np_dtype
    input, other = cast(input, dtype), cast(other, dtype)
    return _out(Kron.apply(input, other), out)


# ------------------------------------------------------------------ cross
class Cross(Node):
    def forward(self, a, b, axis):
        self.shapes, self.axis = (a.shape, b.shape), axis
        self.save_for_backward(a, b)
        return get_array_module(a).cross(a, b, axis=axis)

    def backward(self, g):
        a, b = self.saved_tensors
        sa, sb = self.shapes
        e = self.next_edges
        return (_sum_to(_cross(b, g, self.axis), sa) if e[0] is not None else None,
                _sum_to(_cross(g, a, self.axis), sb) if e[1] is not None else None, None)


def _cross(a, b, axis):
    if isinstance(a, Tensor) or isinstance(b, Tensor):
        return Cross.apply(a, b, axis)
    return get_array_module(a).cross(a, b, axis=axis)


def cross(input, other, dim=None, *, out=None):
    """Cross product of 3-vectors along ``dim`` (default: the first dim of size 3)."""
    input, other = autocast_args("cross", input, other)
    if input._data.ndim != other._data.ndim:
        raise RuntimeError("linalg.cross: inputs must have the same number of dimensions.")
    _check_device(input, other)
    _check_scalar_type(input, other)
    if input._data.dtype.kind == "b":
        raise NotImplementedError("\"cross\" not implemented for 'Bool'")
    sa, sb = input._data.shape, other._data.shape
    shape = np.broadcast_shapes(sa, sb)
    if dim is None:
        dim = next((i for i, s in enumerate(shape) if s == 3), None)
        if dim is None:
            raise RuntimeError("no dimension of size 3 in input")
    axis = wrap_dim(dim, len(shape))
    if sa[axis] != 3 or sb[axis] != 3:
        raise RuntimeError(f"linalg.cross: inputs dimension {dim} must have length 3. Got "
                           f"{sa[axis]} and {sb[axis]}")
    return _out(Cross.apply(input, other, axis), out)


def _matmul_operator(self, other):
    if not isinstance(other, Tensor):
        return NotImplemented
    return matmul(self, other)


def _rmatmul(self, other):
    if not isinstance(other, Tensor):
        return NotImplemented
    return matmul(other, self)


_METHODS = ["matmul", "mm", "bmm", "mv", "dot", "vdot", "inner", "outer", "ger", "addmm", "addmv",
            "addr", "baddbmm", "addbmm", "kron", "cross"]
_methods = {name: _method(globals()[name]) for name in _METHODS}
_methods.update({"__matmul__": _matmul_operator, "__rmatmul__": _rmatmul})
_methods.update({name + "_": _inplace_unary(globals()[name])
                 for name in ["addmm", "addmv", "addr", "baddbmm", "addbmm"]})
register_methods(_methods)


def _linalg_method(module, name):
    """A Tensor method running ``disttorch.linalg.<module>.<name>``, imported on first call
    (``import disttorch`` does not load ``linalg``)."""
    def method(self, *args, **kwargs):
        import importlib
        return getattr(importlib.import_module(f"disttorch.linalg.{module}"), name)(
            self, *args, **kwargs)
    method.__name__ = name
    return method


register_methods({"lu": _linalg_method("_lu", "_lu_method"),
                  "lu_solve": _linalg_method("_lu", "lu_solve_deprecated"),
                  "orgqr": _linalg_method("_lstsq_eig", "orgqr")})
register_methods({name: _linalg_method("_legacy", name) for name in
                  ("qr", "slogdet", "cholesky_solve", "cholesky_inverse", "geqrf", "ormqr")})
