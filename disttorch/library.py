"""``disttorch.library``: user-defined operators (``torch.library.custom_op`` and friends).

A custom op wraps a Python function that computes on tensors. It then gets per-device
kernels (:meth:`CustomOpDef.register_kernel`), a gradient formula
(:meth:`CustomOpDef.register_autograd`) and is reachable as ``disttorch.ops.<ns>.<name>``.
disttorch runs eagerly and has no fake tensors nor compiler: ``register_fake`` keeps the
function for code written against PyTorch but nothing calls it.
"""
import copy
import inspect
import keyword
import re

from .tensor import Tensor

__all__ = ["custom_op", "CustomOpDef", "register_autograd", "register_kernel", "register_fake",
           "opcheck"]

_DEVICE_TYPES = ("cpu", "cuda")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_OPS = {}           # "ns::name" -> CustomOpDef
_NAMESPACES = {}    # "ns" -> _OpNamespace


def _parse_name(qualname):
    # unpacking gives PyTorch's errors for "f" and "a::b::c"
    namespace, name = qualname.split("::")
    name, _, overload = name.partition(".")
    for part, what in ((namespace, "namespace"), (name, "operator name"),
                       (overload or "default", "overload name")):
        if not _IDENT.match(part) or keyword.iskeyword(part):
            raise RuntimeError(f"invalid {what} {part!r} in custom op name {qualname!r}: "
                               "expected 'namespace::name' made of Python identifiers")
    return namespace, name, overload or "default"


def _device_types(device_types):
    if device_types is None:
        return (None,)
    if isinstance(device_types, str):
        device_types = (device_types,)
    out = []
    for d in device_types:
        if d not in _DEVICE_TYPES:
            raise RuntimeError(f"Expected one of {', '.join(_DEVICE_TYPES)} device type at start "
                               f"of device string: {d}")
        out.append(d)
    return tuple(out)


def _check_signature(fn, mutates_args):
    """PyTorch infers a schema from the annotations; the same annotations are required here,
    and ``mutates_args`` must name parameters."""
    sig = inspect.signature(fn)
    shown = f"Got func with signature {sig})"
    for p in sig.parameters.values():
        if p.annotation is inspect.Parameter.empty:
            raise ValueError(f"infer_schema(func): Parameter {p.name} must have a type "
                             f"annotation. {shown}")
    if sig.return_annotation is inspect.Signature.empty:
        raise ValueError("infer_schema(func): No return type annotation was provided. Please "
                         f"add one. {shown}")
    if mutates_args != "unknown":
        if isinstance(mutates_args, str):
            raise ValueError("mutates_args must be a sequence of argument names or the string "
                             f"'unknown', got {mutates_args!r}")
        missing = set(mutates_args) - set(sig.parameters)
        if missing:
            raise ValueError(
                f"infer_schema(func): {missing} in mutates_args were not found in the custom "
                "op's signature. mutates_args should contain the names of all args that the "
                "custom op mutates, or just the string 'unknown' if you don't know. " + shown)
    return sig


def _tensors(values):
    for v in values:
        if isinstance(v, Tensor):
            yield v
        elif isinstance(v, (list, tuple)):
            yield from _tensors(v)


class CustomOpDef:
    """A custom operator made by :func:`custom_op`; call it like the function it wraps.

    Calls dispatch on the device of the tensor arguments to a kernel from
    :meth:`register_kernel` (else the decorated function) and, when some input requires grad,
    record the formula of :meth:`register_autograd`.
    """

    def __init__(self, namespace, name, overload, fn, mutates_args, device_types, schema):
        self._namespace, self._name, self._overload = namespace, name, overload
        self._init_fn = fn
        self._signature = inspect.signature(fn)
        self._mutates_args = mutates_args
        self._schema = schema
        self._kernels = {d: fn for d in _device_types(device_types)}
        self._backward_fn = None
        self._setup_context_fn = None
        self._abstract_fn = None
        self._autograd_fn = None
        self.__name__ = name
        self.__doc__ = fn.__doc__

    @property
    def _qualname(self):
        return f"{self._namespace}::{self._name}"

    def __repr__(self):
        return f"<CustomOpDef({self._qualname})>"

    # --------------------------------------------------------------- registration
    def register_kernel(self, device_types, fn=None, /):
        """Use ``fn`` for inputs on ``device_types`` (``"cpu"``, ``"cuda"`` or both).

        Usable as a decorator: ``@op.register_kernel("cuda")``.
        """
        types = _device_types(device_types)

        def inner(fn):
            for d in types:
                self._kernels[d] = fn
            return fn
        return inner if fn is None else inner(fn)

    def register_fake(self, fn=None, /, *, _stacklevel=1):
        """Store a fake (meta) implementation.

        PyTorch runs it on fake tensors when tracing for ``torch.compile``/``export``.
        disttorch has neither fake tensors nor a compiler: the function is kept (so code
        written for PyTorch runs unchanged) and never called.
        """
        def inner(fn):
            self._abstract_fn = fn
            return fn
        return inner if fn is None else inner(fn)

    def register_autograd(self, backward, /, *, setup_context=None):
        """Give the op a gradient formula.

        ``setup_context(ctx, inputs, output)`` runs after the forward, with ``inputs`` all
        arguments in signature order, to save what ``backward`` needs
        (``ctx.save_for_backward``, attributes). ``backward(ctx, *grads)`` gets one gradient
        per output and returns one per input (``None`` for non-tensors), as in PyTorch.
        """
        if self._mutates_args == "unknown" or self._mutates_args:
            raise RuntimeError(
                f"Cannot register autograd formula for non-functional operator {self!r}. "
                "Please create a functional operator and register an autograd formula for that.")
        self._backward_fn = backward
        self._setup_context_fn = setup_context
        self._autograd_fn = None

    # -------------------------------------------------------------------- calling
    def _kernel_for(self, args):
        device = next((t.device.type for t in _tensors(args)), None)
        for key in (device, None):
            if key in self._kernels:
                return self._kernels[key]
        if device is None:
            # no tensor to dispatch on: any kernel computes the same thing
            return next(iter(self._kernels.values()))
        available = ", ".join(d.upper() for d in self._kernels)
        raise NotImplementedError(
            f"Could not run '{self._qualname}' with arguments from the '{device.upper()}' "
            f"backend. '{self._qualname}' is only available for these backends: [{available}].")

    def _run(self, args):
        """The kernel call, from positional ``args`` in signature order."""
        bound = inspect.BoundArguments(self._signature, dict(zip(self._signature.parameters,
                                                                  args)))
        return self._kernel_for(args)(*bound.args, **bound.kwargs)

    def _check_aliasing(self, args, out):
        outs = out if isinstance(out, (tuple, list)) else (out,)
        inputs = list(_tensors(args))
        for o in _tensors(outs):
            # a view shares its base's version counter
            if any(o is t or o._vc is t._vc for t in inputs):
                raise RuntimeError(
                    f"{self._name} (with implementation in {self._init_fn.__module__}): The "
                    "output of this custom operator (1) must not also be an input to this custom "
                    "operator and (2) may not alias any inputs to this custom operator or other "
                    "returns. The most common way to trigger this error is if we have y = "
                    "custom_op(x) and y and x are the same Tensor. Instead, the output of this "
                    "custom operator should be a clone of the input.")

    def _autograd_function(self):
        if self._autograd_fn is None:
            from .autograd.function import Function
            op = self

            def forward(*args):
                return op._run(args)

            def setup_context(ctx, inputs, output):
                if op._setup_context_fn is not None:
                    op._setup_context_fn(ctx, inputs, output)

            def backward(ctx, *grads):
                if op._backward_fn is None:
                    raise RuntimeError(
                        f"Trying to backward through {op._namespace}.{op._name}.{op._overload} "
                        "but no autograd formula was registered. Please use register_autograd "
                        "to add one.")
                result = op._backward_fn(ctx, *grads)
                result = result if isinstance(result, tuple) else (result,)
                # PyTorch lets trailing non-tensor inputs go without a gradient
                return result + (None,) * (len(op._signature.parameters) - len(result))

            name = f"GeneratedBackwardFor_{self._namespace}_{self._name}_{self._overload}"
            self._autograd_fn = type(name, (Function,), {
                "forward": staticmethod(forward), "setup_context": staticmethod(setup_context),
                "backward": staticmethod(backward)})
        return self._autograd_fn

    def __call__(self, *args, **kwargs):
        bound = self._signature.bind(*args, **kwargs)
        bound.apply_defaults()
        flat = tuple(bound.arguments.values())
        from .autograd import grad_mode
        if grad_mode.is_grad_enabled() and any(t.requires_grad for t in _tensors(flat)):
            out = self._autograd_function().apply(*flat)
        else:
            out = self._run(flat)
        self._check_aliasing(flat, out)
        return out


class _OpOverload:
    """``disttorch.ops.<ns>.<name>.<overload>``: calls the op."""

    def __init__(self, op):
        self._op = op

    def __call__(self, *args, **kwargs):
        return self._op(*args, **kwargs)

    def __str__(self):
        return f"{self._op._namespace}.{self._op._name}.{self._op._overload}"

    def __repr__(self):
        return (f"<OpOverload(op='{self._op._namespace}.{self._op._name}', "
                f"overload='{self._op._overload}')>")


class _OpPacket:
    """``disttorch.ops.<ns>.<name>``: callable, with its overloads as attributes."""

    def __init__(self, namespace, name):
        self._namespace, self._name = namespace, name
        self._overloads = {}

    def __call__(self, *args, **kwargs):
        op = self._overloads.get("default") or next(iter(self._overloads.values()))
        return op(*args, **kwargs)

    def __getattr__(self, overload):
        try:
            return self.__dict__["_overloads"][overload]
        except KeyError:
            raise AttributeError(f"The underlying op of '{self._namespace}.{self._name}' has no "
                                 f"overload name '{overload}'") from None

    def overloads(self):
        return list(self._overloads)

    def __str__(self):
        return f"{self._namespace}.{self._name}"

    def __repr__(self):
        return f"<OpOverloadPacket(op='{self._namespace}.{self._name}')>"


class _OpNamespace:
    """``disttorch.ops.<ns>``: the custom ops defined in namespace ``ns``."""

    def __init__(self, namespace):
        self._namespace = namespace
        self._packets = {}

    def __getattr__(self, name):
        try:
            return self.__dict__["_packets"][name]
        except KeyError:
            raise AttributeError(f"'_OpNamespace' '{self._namespace}' object has no attribute "
                                 f"'{name}'") from None

    def __repr__(self):
        return f"<module 'disttorch.ops.{self._namespace}' from 'disttorch.ops'>"


def _namespace(name):
    """The namespace object behind ``disttorch.ops.<name>``, or None if no op defines it."""
    return _NAMESPACES.get(name)


def custom_op(name, fn=None, /, *, mutates_args, device_types=None, schema=None, tags=None):
    """Wrap a Python function into a custom operator (``torch.library.custom_op``).

    Args:
        name (str): ``"namespace::op_name"``; the op is then also ``disttorch.ops.namespace.op_name``.
        fn (callable, optional): the implementation; without it, returns a decorator. Its
            parameters and return value must be type-annotated, as PyTorch infers the op's
            schema from them.
        mutates_args (iterable of str or "unknown"): parameters the function modifies in
            place. Ops that mutate cannot take an autograd formula.
        device_types (str or sequence of str, optional): devices (``"cpu"``, ``"cuda"``) ``fn``
            serves; default all. Others get kernels through ``register_kernel``.
        schema (str, optional): kept for reference: disttorch does not parse schemas, and the
            annotations are not checked when one is given.
        tags: accepted for compatibility; disttorch has no operator tags.

    Example::

        @custom_op("mylib::numpy_sin", mutates_args=())
        def numpy_sin(x: Tensor) -> Tensor:
            return torch.from_numpy(np.sin(x.numpy()))
    """
    namespace, op_name, overload = _parse_name(name)

    def inner(fn):
        if schema is None:
            _check_signature(fn, mutates_args)
        op = CustomOpDef(namespace, op_name, overload, fn, mutates_args, device_types, schema)
        _OPS[op._qualname] = op
        ns = _NAMESPACES.setdefault(namespace, _OpNamespace(namespace))
        packet = ns._packets.setdefault(op_name, _OpPacket(namespace, op_name))
        packet._overloads[overload] = _OpOverload(op)
        return op
    return inner if fn is None else inner(fn)


def _resolve(op):
    if isinstance(op, CustomOpDef):
        return op
    if isinstance(op, _OpOverload):
        return op._op
    if isinstance(op, _OpPacket):
        return next(iter(op._overloads.values()))._op
    if isinstance(op, str) and op in _OPS:
        return _OPS[op]
    raise ValueError(f"{op!r} is not a custom op defined with disttorch.library.custom_op")


def register_autograd(op, backward, /, *, setup_context=None, lib=None):
    """Function form of :meth:`CustomOpDef.register_autograd` (``op``: the op or its name)."""
    _resolve(op).register_autograd(backward, setup_context=setup_context)


def register_kernel(op, device_types, func=None, /, *, lib=None):
    """Function form of :meth:`CustomOpDef.register_kernel`."""
    return _resolve(op).register_kernel(device_types, func)


def register_fake(op, func=None, /, *, lib=None, _stacklevel=1):
    """Function form of :meth:`CustomOpDef.register_fake`: stored, never called (disttorch has
    no fake tensors)."""
    return _resolve(op).register_fake(func)


_UNSUPPORTED_TESTS = {
    "test_faketensor": "SKIPPED: disttorch has no fake tensors",
    "test_aot_dispatch_dynamic": "SKIPPED: disttorch has no compiler (AOTAutograd)",
}
DEFAULT_TEST_UTILS = ("test_schema", "test_autograd_registration", "test_faketensor",
                      "test_aot_dispatch_dynamic")


def _clone(values):
    return [v.detach().clone().requires_grad_(v.requires_grad) if isinstance(v, Tensor)
            else copy.deepcopy(v) for v in values]


def _equal(a, b, rtol, atol):
    from . import testing
    try:
        testing.assert_close(a, b, rtol=rtol, atol=atol, equal_nan=True)
        return True
    except AssertionError:
        return False


def _test_schema(op, args, kwargs, rtol, atol):
    bound = op._signature.bind(*args, **kwargs)
    bound.apply_defaults()
    names = list(bound.arguments)
    inputs = _clone(bound.arguments.values())
    before = [t._vc[0] if isinstance(t, Tensor) else None for t in inputs]
    originals = _clone(inputs)
    from .autograd import grad_mode
    with grad_mode.no_grad():
        out = op(*inputs)           # also checks that outputs do not alias inputs
        reference = op._init_fn(*_clone(originals))
    declared = set(names) if op._mutates_args == "unknown" else set(op._mutates_args)
    for name, t, v0, orig in zip(names, inputs, before, originals):
        if not isinstance(t, Tensor):
            continue
        mutated = t._vc[0] != v0 or not _equal(t, orig, 0, 0)
        if mutated and name not in declared:
            raise RuntimeError(f"{op._qualname}: argument '{name}' is mutated in place but is "
                               "not in mutates_args")
    if not isinstance(reference, Tensor) and not isinstance(reference, (tuple, list)):
        return
    if not _equal(out, reference, rtol, atol):
        raise RuntimeError(f"{op._qualname}: the dispatched kernel and the function passed to "
                           "custom_op disagree on these inputs")


def _test_autograd_registration(op, args, kwargs, rtol, atol):
    tensors = [t for t in _tensors(list(args) + list(kwargs.values()))]
    if not any(t.requires_grad for t in tensors):
        return
    if op._backward_fn is None:
        raise RuntimeError(f"{op._qualname}: inputs require grad but no autograd formula is "
                           "registered; use register_autograd.")
    from .autograd import gradcheck
    bound = op._signature.bind(*args, **kwargs)
    bound.apply_defaults()
    values = list(bound.arguments.values())
    slots = [i for i, v in enumerate(values) if isinstance(v, Tensor) and v.requires_grad
             and v.is_floating_point()]
    if not slots:
        return

    def fn(*diff):
        call = list(values)
        for i, t in zip(slots, diff):
            call[i] = t
        return op(*call)

    diff = [values[i].detach().clone().requires_grad_(True) for i in slots]
    gradcheck(fn, tuple(diff), raise_exception=True)


def opcheck(op, args, kwargs=None, *, test_utils=DEFAULT_TEST_UTILS, raise_exception=True,
            atol=None, rtol=None):
    """Check a custom op against what it declares (``torch.library.opcheck``).

    ``test_schema`` runs the op on copies of ``args``: outputs must not alias inputs, only
    arguments listed in ``mutates_args`` may change, and the dispatched kernel must agree with
    the function given to ``custom_op``. ``test_autograd_registration``: when an input
    requires grad, a formula must be registered, and it is checked against finite differences
    with :func:`disttorch.autograd.gradcheck` (use float64 inputs). ``test_faketensor`` and
    ``test_aot_dispatch_dynamic`` need fake tensors and a compiler, which disttorch lacks: they
    report ``"SKIPPED: ..."``.

    Returns:
        dict: test name -> ``"SUCCESS"``, ``"SKIPPED: ..."`` or the exception raised (the
        latter only with ``raise_exception=False``).
    """
    op = _resolve(op)
    kwargs = {} if kwargs is None else kwargs
    if isinstance(test_utils, str):
        test_utils = (test_utils,)
    tests = {"test_schema": _test_schema,
             "test_autograd_registration": _test_autograd_registration}
    unknown = set(test_utils) - set(tests) - set(_UNSUPPORTED_TESTS)
    if unknown:
        raise ValueError(f"test_utils must be a subset of {DEFAULT_TEST_UTILS}, got "
                         f"{sorted(unknown)}")
    results = {}
    for name in test_utils:
        if name in _UNSUPPORTED_TESTS:
            results[name] = _UNSUPPORTED_TESTS[name]
            continue
        try:
            tests[name](op, args, kwargs, rtol, atol)
            results[name] = "SUCCESS"
        except Exception as exc:
            if raise_exception:
                raise RuntimeError(f"opcheck(op, ...): {name} failed with {exc}") from exc
            results[name] = exc
    return results
