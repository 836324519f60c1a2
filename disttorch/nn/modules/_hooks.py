"""Module hook machinery: removable handles with per-hook flags, and the runner of full
backward hooks (identity nodes around a module's inputs and outputs)."""
import warnings

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

    def __init__(self, module):
        self.module = module
        self.n_inputs = 0
        self.input_positions = None
        self.grad_outputs = None

    def setup_input_hook(self, args):
        positions = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        self.n_inputs = len(positions)
        self.tensor_positions = positions
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
            raise RuntimeError(f"Backward hook returned an invalid number of {what} - got {got}, "
                               f"but expected {expected}")

    def _on_grad_output(self, grads):
        wrapped = self._wrap(grads)
        for hook in list(self.module._backward_pre_hooks.values()):
            result = hook(self.module, wrapped)
            if result is not None:
                self._check(result, len(wrapped), "grad_output")
                wrapped = tuple(result)
        self.grad_outputs = wrapped
        if self.input_positions is None and self.module._backward_hooks:
            # No input needs a gradient: the hooks run now, with grad_input all None.
            warnings.warn("Full backward hook is firing when gradients are computed with respect "
                          "to module outputs since no inputs require gradients. See "
                          "https://docs.pytorch.org/docs/main/generated/torch.nn.Module.html"
                          "#torch.nn.Module.register_full_backward_hook for more details.")
            for hook in list(self.module._backward_hooks.values()):
                hook(self.module, (None,) * self.n_inputs, wrapped)
        return self._unwrap(wrapped, grads)

    def _on_grad_input(self, grads):
        by_position = dict(zip(self.input_positions, self._wrap(grads)))
        grad_input = tuple(by_position.get(i) for i in self.tensor_positions)
        for hook in list(self.module._backward_hooks.values()):
            result = hook(self.module, grad_input, self.grad_outputs)
            if result is not None:
                self._check(result, self.n_inputs, "grad_input")
                grad_input = tuple(result)
        chosen = dict(zip(self.tensor_positions, grad_input))
        return self._unwrap([chosen[i] for i in self.input_positions], grads)
