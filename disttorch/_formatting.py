"""``repr`` of tensors in PyTorch's style."""
import numpy as np

from . import _dtype
from ._backend import to_numpy

_THRESHOLD = 1000
_EDGEITEMS = 3
_PRECISION = 4
_LINEWIDTH = 80
_SCI_MODE = None  # set_printoptions(sci_mode=...): None chooses per tensor


def _float_formatter(values):
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return lambda v: f"{v}"
    nonzero = np.abs(finite[finite != 0])
    int_mode = bool(np.all(finite == np.ceil(finite)))
    sci = False
    if nonzero.size:
        hi, lo = float(nonzero.max()), float(nonzero.min())
        if int_mode:
            sci = hi > 1e8
        else:
            sci = hi / lo > 1000.0 or hi > 1e8 or lo < 1e-4
    if _SCI_MODE is not None:
        sci = _SCI_MODE
    if sci:
        return lambda v: f"{v:.{_PRECISION}e}" if np.isfinite(v) else _special(v)
    if int_mode:
        return lambda v: f"{v:.0f}." if np.isfinite(v) else _special(v)
    return lambda v: f"{v:.{_PRECISION}f}" if np.isfinite(v) else _special(v)


def _special(v):
    return "nan" if np.isnan(v) else ("inf" if v > 0 else "-inf")


def tensor_repr(t):
    data = to_numpy(t._data)
    dt = _dtype.from_numpy_dtype(data.dtype)
    summarize = data.size > _THRESHOLD
    kwargs = {"separator": ", ", "prefix": "tensor(", "max_line_width": _LINEWIDTH,
              "threshold": _THRESHOLD if summarize else np.inf, "edgeitems": _EDGEITEMS}
    if data.dtype.kind == "f" or dt.name == "bfloat16":
        sample = data.astype(np.float64)
        shown = sample.ravel() if not summarize else _edges(sample)
        fmt = _float_formatter(shown)
        width = max((len(fmt(v)) for v in shown), default=0)
        body = np.array2string(sample, formatter={"float_kind": lambda v: fmt(v).rjust(width)},
                               **kwargs)
    elif data.dtype.kind == "b":
        width = 5 if (~data).any() else 4
        body = np.array2string(data, formatter={"bool": lambda v: ("True" if v else "False")
                                                .rjust(width)}, **kwargs)
    else:
        body = np.array2string(data, **kwargs)
    if data.size == 0 and data.ndim == 1:
        body = "[]"
    extras = []
    if t.is_cuda:
        extras.append(f"device='{t.device}'")
    if data.size == 0 and data.ndim != 1:
        extras.append(f"size={tuple(data.shape)}")
    default = _dtype.get_default_dtype()
    if dt is not default and dt is not _dtype.int64 and dt is not _dtype.bool or \
            (data.size == 0 and dt is not default):
        extras.append(f"dtype={dt}")
    if t.grad_fn is not None:
        extras.append(f"grad_fn=<{t.grad_fn.name()}>")
    elif t._requires_grad:
        extras.append("requires_grad=True")
    suffix = "".join(", " + e for e in extras)
    return f"tensor({body}{suffix})"


def _edges(a):
    # the values shown when printing is summarised
    if a.ndim == 0:
        return a.ravel()
    parts = [a[:_EDGEITEMS], a[-_EDGEITEMS:]] if a.shape[0] > 2 * _EDGEITEMS else [a]
    return np.concatenate([_edges(p[i]) if p.ndim > 1 else p.ravel()
                           for p in parts for i in range(p.shape[0])] if a.ndim > 1 else
                          [p.ravel() for p in parts])
