"""``disttorch.backends``: PyTorch's backend switches, so scripts that set them run unchanged.

``torch.backends.cudnn.benchmark = True``, ``torch.backends.cuda.matmul.allow_tf32 = True`` and
the like are plain attributes here: disttorch's kernels come from numpy and CuPy, which have no
such knobs, and every setting gives results PyTorch would accept.
"""
import importlib
import types

__all__ = ["cuda", "cudnn", "mps", "mkldnn", "mkl", "openmp", "opt_einsum", "cpu", "mha"]


def _flag_namespace(name, doc, **attrs):
    ns = types.SimpleNamespace(**attrs)
    ns.__doc__ = doc
    ns.__name__ = f"{__name__}.{name}"
    return ns


mkldnn = _flag_namespace("mkldnn", "oneDNN switches (unused here).", enabled=True,
                         is_available=lambda: False)
mkl = _flag_namespace("mkl", "MKL switches (unused here).", is_available=lambda: False)
openmp = _flag_namespace("openmp", "OpenMP availability (numpy threads are used instead).",
                         is_available=lambda: False)
opt_einsum = _flag_namespace("opt_einsum", "einsum contraction-order switches.", enabled=True,
                             strategy="auto", is_available=lambda: False)
cpu = _flag_namespace("cpu", "CPU capability report.", get_cpu_capability=lambda: "DEFAULT")


def _set_fastpath_enabled(value):
    mha._enabled = bool(value)


# TransformerEncoder follows PyTorch's nested-tensor outputs only while this is on, as torch's
# fast path does
mha = _flag_namespace("mha", "The TransformerEncoder/MultiheadAttention fast-path switch.",
                      _enabled=True, get_fastpath_enabled=lambda: mha._enabled,
                      set_fastpath_enabled=_set_fastpath_enabled)


def __getattr__(name):
    if name in ("cuda", "cudnn", "mps"):
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module '{__name__}' has no attribute '{name}'")
