"""Parametrizations: a module attribute computed from other tensors on every access.

``register_parametrization(module, "weight", P)`` moves ``module.weight`` to
``module.parametrizations.weight.original`` and turns ``module.weight`` into a property that
returns ``P(original)``; gradients flow to ``original``. As in PyTorch, the module's class is
replaced by a subclass (``ParametrizedLinear``...) that carries the properties, and state-dict
keys become ``parametrizations.weight.original``.
"""
import contextlib

from ...autograd.grad_mode import no_grad
from ...tensor import Tensor
from ..modules.container import ModuleDict, ModuleList
from ..parameter import Parameter

__all__ = ["register_parametrization", "remove_parametrizations", "is_parametrized", "cached",
           "type_before_parametrizations", "ParametrizationList"]

_cache_enabled = 0
_cache = {}


@contextlib.contextmanager
def cached():
    """Within this context each parametrized tensor is computed once per module and reused
    (useful when a weight is read several times in one forward pass)."""
    global _cache_enabled
    _cache_enabled += 1
    try:
        yield
    finally:
        _cache_enabled -= 1
        if not _cache_enabled:
            _cache.clear()


def _as_original(value, like):
    """A tensor to store as ``original``: a Parameter when the original was one."""
    if isinstance(like, Parameter):
        return value if isinstance(value, Parameter) else Parameter(value.detach(),
                                                                   like.requires_grad)
    return value


class ParametrizationList(ModuleList):
    """The chain of parametrizations of one tensor and its unconstrained ``original`` (or
    ``original0``, ``original1``... when the first ``right_inverse`` returns several tensors)."""

    def __init__(self, modules, original, unsafe=False):
        super().__init__(modules)
        self.unsafe = unsafe
        with no_grad():
            new = original
            for module in reversed(list(self)):
                if hasattr(module, "right_inverse"):
                    new = module.right_inverse(new)
        self.is_tensor = isinstance(new, Tensor)
        self.ntensors = 1 if self.is_tensor else len(new)
        if self.is_tensor:
            if not unsafe and (new.shape != original.shape or new.dtype != original.dtype):
                raise ValueError(f"When `right_inverse` outputs one tensor, it may not change the "
                                 f"dtype or shape.\noriginal.shape: {original.shape}\n"
                                 f"right_inverse(original).shape: {new.shape}")
            self._store("original", _as_original(new, original))
        else:
            for i, tensor in enumerate(new):
                self._store(f"original{i}", _as_original(tensor, original))
        if not unsafe:
            value = self()
            if value.shape != original.shape or value.dtype != original.dtype:
                raise ValueError(f"Registering a parametrization may not change the shape or "
                                 f"dtype of the tensor: {tuple(original.shape)} {original.dtype} "
                                 f"became {tuple(value.shape)} {value.dtype}")

    def _store(self, name, tensor):
        if isinstance(tensor, Parameter):
            self.register_parameter(name, tensor)
        else:
            self.register_buffer(name, tensor)

    def right_inverse(self, value):
        """Assign ``value`` to the parametrized tensor: store the ``right_inverse`` of it."""
        with no_grad():
            for module in reversed(list(self)):
                if hasattr(module, "right_inverse"):
                    value = module.right_inverse(value)
                elif not self.unsafe:
                    raise RuntimeError(f"parametrization {type(module).__name__} does not "
                                       f"implement right_inverse.")
            values = (value,) if self.is_tensor else tuple(value)
            names = ["original"] if self.is_tensor else [f"original{i}" for i in range(
                self.ntensors)]
            for name, new in zip(names, values):
                getattr(self, name).copy_(new)

    def forward(self):
        if self.is_tensor:
            x = self[0](self.original)
        else:
            x = self[0](*(getattr(self, f"original{i}") for i in range(self.ntensors)))
        for module in list(self)[1:]:
            x = module(x)
        return x


def _property(name):
    def getter(module):
        chain = module.parametrizations[name]
        if _cache_enabled:
            key = (id(module), name)
            if key not in _cache:
                _cache[key] = chain()
            return _cache[key]
        return chain()

    def setter(module, value):
        module.parametrizations[name].right_inverse(value)

    return property(getter, setter)


def is_parametrized(module, tensor_name=None):
    """Whether ``module`` has parametrizations (on ``tensor_name``, when given)."""
    parametrizations = module.__dict__.get("_modules", {}).get("parametrizations")
    if not isinstance(parametrizations, ModuleDict):
        return False
    return True if tensor_name is None else tensor_name in parametrizations


def type_before_parametrizations(module):
    """The class of ``module`` before any parametrization was registered."""
    if is_parametrized(module):
        return module.__class__.__bases__[0]
    return type(module)


def register_parametrization(module, tensor_name, parametrization, *, unsafe=False):
    """Make ``module.<tensor_name>`` the output of ``parametrization`` applied to a stored
    ``original`` tensor (parametrizations registered later are applied after earlier ones).

    Args:
        module (nn.Module): the module holding the parameter or buffer.
        tensor_name (str): its name.
        parametrization (nn.Module): maps the original to the value; an optional
            ``right_inverse(value)`` maps a value back (used at registration and on assignment).
        unsafe (bool): skip the checks that the shape and dtype are preserved.

    Returns:
        The module.

    Example::

        >>> class Symmetric(nn.Module):
        ...     def forward(self, X):
        ...         return X.triu() + X.triu(1).transpose(-1, -2)
        >>> m = nn.Linear(5, 5)
        >>> parametrize.register_parametrization(m, "weight", Symmetric())
        >>> torch.allclose(m.weight, m.weight.T)
        True
    """
    if is_parametrized(module, tensor_name):
        chain = module.parametrizations[tensor_name]
        if not unsafe:
            value = chain()
            new = parametrization(value)
            if new.shape != value.shape or new.dtype != value.dtype:
                raise ValueError(f"Registering a parametrization may not change the shape or "
                                 f"dtype of the tensor: {tuple(value.shape)} became "
                                 f"{tuple(new.shape)}")
        chain.append(parametrization)
        chain.unsafe = chain.unsafe or unsafe
        return module
    if tensor_name not in module._parameters and tensor_name not in module._buffers:
        raise ValueError(f"Module '{module}' does not have a parameter, a buffer, or a "
                         f"parametrized element with name '{tensor_name}'")
    original = getattr(module, tensor_name)
    chain = ParametrizationList([parametrization], original, unsafe=unsafe)
    delattr(module, tensor_name)
    if not is_parametrized(module):
        cls = module.__class__
        module.__class__ = type(f"Parametrized{cls.__name__}", (cls,), {})
        module.parametrizations = ModuleDict()
    module.parametrizations[tensor_name] = chain
    setattr(module.__class__, tensor_name, _property(tensor_name))
    return module


def remove_parametrizations(module, tensor_name, leave_parametrized=True):
    """Remove the parametrizations on ``module.<tensor_name>``.

    Args:
        leave_parametrized (bool): keep the current (parametrized) value as the new plain
            parameter; otherwise restore ``original`` (only possible when it is one tensor).
    """
    if not is_parametrized(module, tensor_name):
        raise ValueError(f"Module {module} does not have a parametrization on {tensor_name}")
    chain = module.parametrizations[tensor_name]
    if chain.is_tensor:
        original = chain.original
        if leave_parametrized:
            with no_grad():
                value = getattr(module, tensor_name)
            if isinstance(original, Parameter):
                original = Parameter(value.detach().clone(), original.requires_grad)
            else:
                original = value.detach().clone()
    else:
        if not leave_parametrized:
            raise ValueError("Cannot leave unparametrized (`leave_parametrized=False`) a tensor "
                             "that is parametrized in terms of a sequence of tensors.")
        with no_grad():
            value = getattr(module, tensor_name)
        original = Parameter(value.detach().clone(), chain.original0.requires_grad) \
            if isinstance(chain.original0, Parameter) else value.detach().clone()
    delattr(module.__class__, tensor_name)
    del module.parametrizations[tensor_name]
    if isinstance(original, Parameter):
        module.register_parameter(tensor_name, original)
    else:
        module.register_buffer(tensor_name, original)
    if not module.parametrizations:
        delattr(module, "parametrizations")
        module.__class__ = module.__class__.__bases__[0]
    return module
