"""Module hook machinery: removable handles with per-hook flags, and the runner of full
backward hooks (identity nodes around a module's inputs and outputs)."""
import warnings
from collections import OrderedDict

from ...autograd import grad_mode
from ...autograd.function import Node
from ...autograd.hooks import RemovableHandle
from ...tensor import Tensor, _new


class _HookHandle(RemovableHandle):
    """A hook handle that also forgets the hook's flags (with_kwargs, always_call) on remove."""

    def __init__(self, hooks_dict, hook, extra_dicts=(), prepend=False):
        super().__init__(hooks_dict, hook)
        self.extra_dicts = extra_dicts
        if prepend:
            hooks_dict.move_to_end(self.id, last=False)

    def remove(self):
        super().remove()
        for d in self.extra_dicts:
            d.pop(self.id, None)


class _HookIdentity(Node):
    """Identity on a group of tensors whose backward hands their gradients to ``callback``."""

    def forward(self, callback, *arrays):
        self.callback = callback
        return arrays

    def backward(self, *grads):
        return (None,) + tuple(self.callback(grads))


class _BackwardHook:
    """Runs a module's full backward hooks: the module's inputs and outputs pass through
    :class:`_HookIdentity` nodes, so ``grad_output`` is seen first (pre-hooks may replace it)
    and ``grad_input`` last (hooks may replace it), as in PyTorch."""

    def __init__(self, module, hooks, pre_hooks):
        self.module = module
        self.hooks = hooks
        self.pre_hooks = pre_hooks
        self.n_inputs = 0
        self.input_positions = None
        self.grad_outputs = None

    def setup_input_hook(self, args):
        # grad_input has one entry per positional argument, as PyTorch's: None for a
        # non-tensor, zeros for a tensor that requires no gradient
        positions = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        self.n_inputs = len(args)
        self.tensor_positions = positions
        self.inputs_meta = {i: args[i] for i in positions if not args[i]._requires_grad}
        grad_positions = [i for i in positions if args[i]._requires_grad]
        if not grad_positions or not grad_mode.state.enabled:
            return args
        self.input_positions = grad_positions
        outs = _HookIdentity.apply(self._on_grad_input, *[args[i] for i in grad_positions])
        args = list(args)
        for i, out in zip(grad_positions, outs):
            args[i] = out
        return tuple(args)

    def setup_output_hook(self, result):
        single = isinstance(result, Tensor)
        items = [result] if single else list(result) if isinstance(result, (tuple, list)) else []
        positions = [i for i, r in enumerate(items) if isinstance(r, Tensor) and r._requires_grad]
        if not positions or not grad_mode.state.enabled:
            return result
        outs = _HookIdentity.apply(self._on_grad_output, *[items[i] for i in positions])
        for i, out in zip(positions, outs):
            items[i] = out
        if single:
            return items[0]
        return type(result)(items)

    @staticmethod
    def _wrap(grads):
        return tuple(g if g is None or isinstance(g, Tensor) else _new(g) for g in grads)

    @staticmethod
    def _unwrap(new, old):
        return [n if isinstance(o, Tensor) or n is None else n._data for n, o in zip(new, old)]

    def _check(self, result, expected, what):
        if not isinstance(result, (tuple, list)) or len(result) != expected:
            got = len(result) if isinstance(result, (tuple, list)) else 1
            raise RuntimeError(f"Backward hook returned an invalid number of {what}, got {got}, "
                               f"but expected {expected}")

    def _on_grad_output(self, grads):
        wrapped = self._wrap(grads)
        for hook in self.pre_hooks:
            result = hook(self.module, wrapped)
            if result is not None:
                self._check(result, len(wrapped), "grad_output")
                wrapped = tuple(result)
        self.grad_outputs = wrapped
        if self.input_positions is None and self.hooks:
            # No input needs a gradient: the hooks run now, with grad_input all None.
            warnings.warn("Full backward hook is firing when gradients are computed with respect "
                          "to module outputs since no inputs require gradients. See "
                          "https://docs.pytorch.org/docs/main/generated/torch.nn.Module.html"
                          "#torch.nn.Module.register_full_backward_hook for more details.")
            for hook in self.hooks:
                hook(self.module, (None,) * self.n_inputs, wrapped)
        return self._unwrap(wrapped, grads)

    def _on_grad_input(self, grads):
        from ...ops.creation import zeros_like
        by_position = dict(zip(self.input_positions, self._wrap(grads)))
        for i, tensor in self.inputs_meta.items():
            by_position[i] = zeros_like(tensor)
        grad_input = tuple(by_position.get(i) for i in range(self.n_inputs))
        for hook in self.hooks:
            result = hook(self.module, grad_input, self.grad_outputs)
            if result is not None:
                self._check(result, self.n_inputs, "grad_input")
                grad_input = tuple(result)
        return self._unwrap([grad_input[i] for i in self.input_positions], grads)


# ------------------------------------------------------------- global hooks
# Hooks that apply to every module (``torch.nn.modules.module.register_module_*``); they run
# before each module's own hooks.
_global_forward_pre_hooks = OrderedDict()
_global_forward_hooks = OrderedDict()
_global_forward_hooks_always_called = {}
_global_forward_hooks_with_kwargs = {}
_global_backward_pre_hooks = OrderedDict()
_global_backward_hooks = OrderedDict()
_global_buffer_registration_hooks = OrderedDict()
_global_module_registration_hooks = OrderedDict()
_global_parameter_registration_hooks = OrderedDict()


def register_module_forward_pre_hook(hook):
    """``hook(module, args) -> None or new args`` before the ``forward`` of every module."""
    return _HookHandle(_global_forward_pre_hooks, hook)


def register_module_forward_hook(hook, *, with_kwargs=False, always_call=False):
    """``hook(module, args, output) -> None or new output`` after the ``forward`` of every
    module (``hook(module, args, kwargs, output)`` with ``with_kwargs``)."""
    handle = _HookHandle(_global_forward_hooks, hook, (_global_forward_hooks_with_kwargs,
                                                       _global_forward_hooks_always_called))
    if with_kwargs:
        _global_forward_hooks_with_kwargs[handle.id] = True
    if always_call:
        _global_forward_hooks_always_called[handle.id] = True
    return handle


def register_module_full_backward_pre_hook(hook):
    """``hook(module, grad_output) -> None or new grad_output`` for every module."""
    return _HookHandle(_global_backward_pre_hooks, hook)


def register_module_full_backward_hook(hook):
    """``hook(module, grad_input, grad_output) -> None or new grad_input`` for every module."""
    return _HookHandle(_global_backward_hooks, hook)


def register_module_buffer_registration_hook(hook):
    """``hook(module, name, buffer) -> None or new buffer`` on every ``register_buffer``."""
    return _HookHandle(_global_buffer_registration_hooks, hook)


def register_module_module_registration_hook(hook):
    """``hook(module, name, submodule) -> None or new submodule`` on every ``add_module``."""
    return _HookHandle(_global_module_registration_hooks, hook)


def register_module_parameter_registration_hook(hook):
    """``hook(module, name, param) -> None or new param`` on every ``register_parameter``."""
    return _HookHandle(_global_parameter_registration_hooks, hook)


def run_registration_hooks(hooks, module, name, value):
    for hook in list(hooks.values()):
        result = hook(module, name, value)
        if result is not None:
            value = result
    return value
