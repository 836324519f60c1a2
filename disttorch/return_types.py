"""Named-tuple results of ops that return several tensors, like ``torch.return_types``.

``values, indices = x.max(0)`` and ``x.max(0).values`` both work; the repr matches PyTorch's.
"""
import collections

__all__ = ["max", "min", "median", "nanmedian", "aminmax", "cummax", "cummin", "slogdet", "qr",
           "eigh", "svd", "sort", "topk", "kthvalue"]


def _structseq(name, fields):
    base = collections.namedtuple(name, fields)

    def __repr__(self):
        body = ",\n".join(f"{f}={v!r}" for f, v in zip(self._fields, self))
        return f"disttorch.return_types.{name}(\n{body})"

    cls = type(name, (base,), {"__slots__": (), "__repr__": __repr__,
                               "__module__": "disttorch.return_types"})
    cls.__doc__ = f"The result of ``{name}``: a tuple with fields {', '.join(fields)}."
    return cls


max = _structseq("max", ["values", "indices"])  # noqa: A001 - PyTorch's name
min = _structseq("min", ["values", "indices"])  # noqa: A001
median = _structseq("median", ["values", "indices"])
nanmedian = _structseq("nanmedian", ["values", "indices"])
aminmax = _structseq("aminmax", ["min", "max"])
cummax = _structseq("cummax", ["values", "indices"])
cummin = _structseq("cummin", ["values", "indices"])
slogdet = _structseq("slogdet", ["sign", "logabsdet"])
qr = _structseq("qr", ["Q", "R"])
eigh = _structseq("eigh", ["eigenvalues", "eigenvectors"])
svd = _structseq("svd", ["U", "S", "Vh"])
sort = _structseq("sort", ["values", "indices"])
topk = _structseq("topk", ["values", "indices"])
kthvalue = _structseq("kthvalue", ["values", "indices"])
