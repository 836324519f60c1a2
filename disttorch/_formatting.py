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
    """``(format, width)`` for floating ``values`` (float64), PyTorch's choice of fixed, integer
    or scientific notation; the width is that of the widest nonzero finite value."""
    finite = values[np.isfinite(values)]
    nonzero = np.abs(finite[finite != 0])
    int_mode = bool(np.all(finite == np.ceil(finite)))
    sci = False
    if nonzero.size:
        hi, lo = float(nonzero.max()), float(nonzero.min())
        sci = hi / lo > 1000.0 or hi > 1e8 or (not int_mode and lo < 1e-4)
    if _SCI_MODE is not None:
        sci = _SCI_MODE
    if sci:
        def fmt(v):
            return f"{v:.{_PRECISION}e}" if np.isfinite(v) else _special(v)
    elif int_mode:
        def fmt(v):
            return f"{v:.0f}." if np.isfinite(v) else _special(v)
    else:
        def fmt(v):
            return f"{v:.{_PRECISION}f}" if np.isfinite(v) else _special(v)
    width = max((len(fmt(v)) for v in finite[finite != 0]), default=1)
    return fmt, width


def _special(v):
    return "nan" if np.isnan(v) else ("inf" if v > 0 else "-inf")


def _formatter(shown, kind):
    """``(format, width)`` of the values ``shown`` (those printed) of an array of ``kind``."""
    if kind == "f":
        return _float_formatter(shown)
    if kind == "b":
        def fmt(v):
            return "True" if v else "False"
    else:
        fmt = str
    return fmt, max((len(fmt(v)) for v in shown), default=1)


def _layout(a, indent, summarize, cell, width):
    """PyTorch's text of array ``a``: rows of ``cell(value)`` strings, as many per line as fit
    in the line width at this ``indent``, nested brackets one column further in per dim."""
    edge = _EDGEITEMS
    if a.ndim == 0:
        return cell(a.item())
    if a.ndim == 1:
        values = a.tolist()
        if summarize and not edge:
            items = ["..."]
        elif summarize and len(values) > 2 * edge:
            items = [cell(v) for v in values[:edge]] + [" ..."] + \
                [cell(v) for v in values[-edge:]]
        else:
            items = [cell(v) for v in values]
        per_line = max(1, (_LINEWIDTH - indent) // (width + 2))
        lines = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
        return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"
    rows = range(a.shape[0])
    if summarize and a.shape[0] > 2 * edge:
        rows = list(range(edge)) + [None] + list(range(a.shape[0] - edge, a.shape[0]))
    parts = ["..." if i is None else _layout(a[i], indent + 1, summarize, cell, width)
             for i in rows]
    return "[" + ("," + "\n" * (a.ndim - 1) + " " * (indent + 1)).join(parts) + "]"


def tensor_repr(t):
    data = to_numpy(t._data)
    dt = _dtype.from_numpy_dtype(data.dtype)
    summarize = data.size > _THRESHOLD
    prefix = "tensor("
    if data.dtype.kind == "c":
        kwargs = {"separator": ", ", "prefix": prefix, "max_line_width": _LINEWIDTH,
                  "threshold": _THRESHOLD if summarize else np.inf, "edgeitems": _EDGEITEMS}
        body = np.array2string(data, **kwargs)
    elif data.size == 0:
        body = "[]"
    else:
        kind = "f" if data.dtype.kind == "f" or dt.name == "bfloat16" else data.dtype.kind
        values = data.astype(np.float64) if kind == "f" else data
        shown = values.ravel() if not summarize else _edges(values)
        fmt, width = _formatter(shown, kind)
        body = _layout(values, len(prefix), summarize, lambda v: fmt(v).rjust(width), width)
    extras = []
    if t.is_cuda:
        extras.append(f"device='{t.device}'")
    if data.size == 0 and data.ndim != 1:
        extras.append(f"size={tuple(data.shape)}")
    default = _dtype.get_default_dtype()
    # PyTorch's default complex type here is complex128 with a float64 default, else complex64
    # (even where ``torch.tensor(1j)`` would give complex32)
    default_complex = _dtype.complex128 if default is _dtype.float64 else _dtype.complex64
    if dt is not default and dt is not default_complex and dt is not _dtype.int64 and \
            dt is not _dtype.bool or (data.size == 0 and dt is not default):
        extras.append(f"dtype={dt}")
    if t.grad_fn is not None:
        extras.append(f"grad_fn=<{t.grad_fn.name()}>")
    elif t._requires_grad:
        extras.append("requires_grad=True")
    return _with_suffixes(prefix + body, extras) + ")"


def _with_suffixes(text, suffixes, indent=len("tensor(")):
    """``text`` followed by ``, suffix`` for each suffix; like PyTorch, a suffix that would
    take the last line past the line width goes on a line of its own."""
    last = len(text) - text.rfind("\n") + 1     # (PyTorch's measure, counting ", ")
    for suffix in suffixes:
        if last + len(suffix) + 2 > _LINEWIDTH:
            text += ",\n" + " " * indent + suffix
            last = indent + len(suffix)
        else:
            text += ", " + suffix
            last += len(suffix) + 2
    return text


def _edges(a):
    # the values shown when printing is summarised
    if a.ndim == 0:
        return a.ravel()
    parts = [a[:_EDGEITEMS], a[-_EDGEITEMS:]] if a.shape[0] > 2 * _EDGEITEMS else [a]
    return np.concatenate([_edges(p[i]) if p.ndim > 1 else p.ravel()
                           for p in parts for i in range(p.shape[0])] if a.ndim > 1 else
                          [p.ravel() for p in parts])
