"""``disttorch.jit``: TorchScript entry points as identities, so scripts that script or trace
their models still run (eagerly, with the same numbers)."""
from ._compat import notice_once

__all__ = ["script", "trace", "trace_module", "ignore", "unused", "export", "is_scripting",
           "is_tracing", "annotate", "freeze", "optimize_for_inference", "Final"]


def script(obj, optimize=None, _frames_up=0, _rcb=None, example_inputs=None):
    """Return ``obj`` (a module, function or class) unchanged: disttorch runs eagerly."""
    notice_once("jit", "disttorch.jit: TorchScript is not available; running eagerly.")
    return obj


def trace(func, example_inputs=None, optimize=None, check_trace=True, check_inputs=None,
          check_tolerance=1e-5, strict=True, _force_outplace=False, _module_class=None,
          _compilation_unit=None, example_kwarg_inputs=None, _store_inputs=True):
    """Return ``func`` unchanged (no trace is recorded): calling it runs eagerly."""
    notice_once("jit", "disttorch.jit: TorchScript is not available; running eagerly.")
    return func


def trace_module(mod, inputs, optimize=None, check_trace=True, check_inputs=None,
                 check_tolerance=1e-5, strict=True, _force_outplace=False, _module_class=None,
                 _compilation_unit=None, example_inputs_is_kwarg=False, _store_inputs=True):
    """Return ``mod`` unchanged."""
    notice_once("jit", "disttorch.jit: TorchScript is not available; running eagerly.")
    return mod


def ignore(drop=False, **kwargs):
    """Decorator that leaves a function to Python (it always is here)."""
    if callable(drop):
        return drop
    return lambda fn: fn


def unused(fn):
    """Decorator marking a method unused by the compiler: returns it unchanged."""
    return fn


def export(fn):
    """Decorator marking a method for export: returns it unchanged."""
    return fn


def is_scripting():
    """False: code never runs under the TorchScript compiler here."""
    return False


def is_tracing():
    """False: nothing is traced here."""
    return False


def annotate(the_type, the_value):
    """Return ``the_value`` (a type hint for the compiler in PyTorch)."""
    return the_value


def freeze(mod, preserved_attrs=None, optimize_numerics=True):
    """Return ``mod`` unchanged."""
    return mod


def optimize_for_inference(mod, other_methods=None):
    """Return ``mod`` unchanged."""
    return mod


class _FinalType:
    """``torch.jit.Final[int]`` in class annotations: subscripting gives the type back."""

    def __getitem__(self, item):
        return item


Final = _FinalType()
