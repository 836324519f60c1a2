"""The Optimizer base class: parameter groups, per-parameter state, state dicts and step hooks.

Each optimizer keeps argument validation and state in its class and its update maths in one
function over lists of arrays (``sgd``, ``adam``, ...) that updates them in place: the one
place a fused GPU kernel would replace, without touching the class. The helpers below are
shared by those functions.
"""
import functools
import warnings
from collections import OrderedDict, defaultdict

import numpy as np

from .._backend import foreign_device, get_array_module, several_devices
from ..autograd._saved_hooks import mutation_watch
from ..autograd.grad_mode import enable_grad, no_grad
from ..autograd.hooks import RemovableHandle
from ..tensor import Tensor, _new

__all__ = ["Optimizer", "required"]


class _RequiredParameter:
    """Marks a default that every parameter group must provide."""

    def __repr__(self):
        return "<required parameter>"


required = _RequiredParameter()


def _wrap_step(step):
    @functools.wraps(step)
    def wrapper(self, *args, **kwargs):
        if self._in_step:
            # A subclass's step calling super().step(): hooks run once, around the outermost.
            return step(self, *args, **kwargs)
        self._in_step = True
        try:
            return _hooked_step(self, args, kwargs)
        finally:
            self._in_step = False

    def _hooked_step(self, args, kwargs):
        for hook in list(self._step_pre_hooks.values()):
            result = hook(self, args, kwargs)
            if result is not None:
                if not (isinstance(result, tuple) and len(result) == 2):
                    raise RuntimeError(f"{hook} must return None or a tuple of (new_args, "
                                       f"new_kwargs), but got {result}.")
                args, kwargs = result
        out = step(self, *args, **kwargs)
        self._opt_called = True
        for hook in list(self._step_post_hooks.values()):
            hook(self, args, kwargs)
        return out

    wrapper._hooked = True
    return wrapper


def scalar(value):
    """A Python float from a float or a one-element tensor (``lr`` and betas may be tensors)."""
    return float(value.item()) if isinstance(value, Tensor) else value


def step_tensor():
    """A fresh ``step`` counter: a float32 0-d tensor, as torch stores it."""
    return _new(np.zeros((), dtype=np.float32))


def zeros_like_param(p, fill=0.0):
    """A state buffer shaped like parameter ``p``, on its device, filled with ``fill``."""
    return _new(get_array_module(p._data).full_like(p._data, fill))


def _update_per_device(group, update_group):
    """``update_group`` once per CUDA device among the group's parameters, with that device
    current (CuPy launches on the current device), as PyTorch's foreach paths split a group by
    device. Per-parameter state is keyed by parameter, so the split changes no result."""
    by_device = {}
    for p in group["params"]:
        by_device.setdefault(p.device, []).append(p)
    devices = [d for d in by_device if d.type == "cuda"]
    if len(by_device) == 1 and (not devices or foreign_device([group["params"][0]._data]) is None):
        update_group(group)
        return
    for dev, params in by_device.items():
        sub = dict(group)
        sub["params"] = params
        sub.pop("param_names", None)
        device = foreign_device([params[0]._data])
        if device is None:
            update_group(sub)
        else:
            with device:
                update_group(sub)


def check_lr(lr):
    if isinstance(lr, Tensor) and lr.numel() != 1:
        raise ValueError("Tensor lr must be 1-element")
    if not 0.0 <= scalar(lr):
        raise ValueError(f"Invalid learning rate: {lr}")


def add_scaled_square_(target, values, scale):
    """``target += scale * values**2`` in place, with one temporary."""
    square = get_array_module(values).square(values)
    square *= scale
    target += square


def grad_with_decay(param, grad, weight_decay, maximize):
    """``-grad`` if maximizing, plus ``weight_decay * param``; never modifies ``grad``."""
    if maximize:
        grad = -grad
    if weight_decay != 0:
        decayed = param * weight_decay
        if maximize:
            grad += decayed
        else:
            decayed += grad
            grad = decayed
    return grad


class Optimizer:
    r"""Base class for all optimizers.

    Args:
        params (iterable): an iterable of Tensors, of dicts (parameter groups with per-group
            options), or of ``(name, Tensor)`` pairs.
        defaults (dict): default values of optimization options, used by groups that do not
            specify them.
    """

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        step = cls.__dict__.get("step")
        if step is not None and not getattr(step, "_hooked", False):
            cls.step = _wrap_step(step)

    def __init__(self, params, defaults):
        if defaults.get("differentiable"):
            raise RuntimeError(f"{type(self).__name__}(differentiable=True) is not supported by "
                               "disttorch: optimizer steps are never recorded by autograd")
        if defaults.get("fused") and defaults.get("foreach"):
            raise RuntimeError("`fused` and `foreach` cannot be `True` together.")
        self.defaults = defaults
        self._init_hooks()
        self._opt_called = False
        self._in_step = False
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of "
                            f"Tensors or dicts, but got {_typename(params)}")
        self.state = defaultdict(dict)
        self.param_groups = []
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for param_group in param_groups:
            self.add_param_group(param_group)

    def __getstate__(self):
        return {"defaults": self.defaults, "state": self.state, "param_groups": self.param_groups}

    def _init_hooks(self):
        self._step_pre_hooks = OrderedDict()
        self._step_post_hooks = OrderedDict()
        self._state_dict_pre_hooks = OrderedDict()
        self._state_dict_post_hooks = OrderedDict()
        self._load_state_dict_pre_hooks = OrderedDict()
        self._load_state_dict_post_hooks = OrderedDict()

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._init_hooks()
        self._opt_called = False
        self._in_step = False

    def __repr__(self):
        lines = [self.__class__.__name__ + " ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for key in sorted(group.keys()):
                if key != "params":
                    lines.append(f"    {key}: {group[key]}")
        lines.append(")")
        return "\n".join(lines)

    # ------------------------------------------------------------------ groups
    def add_param_group(self, param_group):
        r"""Add a parameter group to :attr:`param_groups`.

        Useful when fine-tuning: frozen layers can be made trainable and added to the
        optimizer as training progresses.

        Args:
            param_group (dict): the parameters to optimize and group-specific options.
        """
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group).__name__}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections, but "
                            "the ordering of tensors in sets will change between runs. Please use "
                            "a list instead.")
        else:
            params = list(params)
        names = [p[0] for p in params if isinstance(p, tuple)]
        params = [p[1] if isinstance(p, tuple) else p for p in params]
        param_group["params"] = params
        if names:
            if len(names) != len(params):
                raise ValueError("all optimizer params should be with/without names. Some param "
                                 "names are missing")
            param_group["param_names"] = names

        for param in params:
            if not isinstance(param, Tensor):
                raise TypeError("optimizer can only optimize Tensors, but one of the params is "
                                + _typename(param))
            if not (param.is_leaf or param.retains_grad):
                raise ValueError("can't optimize a non-leaf Tensor")

        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError("parameter group didn't specify a value of required optimization "
                                 f"parameter {name}")
            param_group.setdefault(name, default)

        if len(params) != len({id(p) for p in params}):
            warnings.warn("optimizer contains a parameter group with duplicate parameters; in "
                          "future, this will cause an error; see github.com/pytorch/pytorch/issues/"
                          "40967 for more information", stacklevel=3)

        seen = set()
        for group in self.param_groups:
            seen.update(id(p) for p in group["params"])
            if ("param_names" in param_group) != ("param_names" in group):
                current = "with names" if "param_names" in param_group else "without names"
                raise ValueError("all optimizer param groups should be with/without names. "
                                 f"cannot add param group {current} to the optimizer")
        if not seen.isdisjoint(id(p) for p in params):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(param_group)

    # -------------------------------------------------------------- gradients
    def zero_grad(self, set_to_none=True):
        r"""Reset the gradients of all optimized tensors.

        Args:
            set_to_none (bool): set the grads to ``None`` instead of filling them with zeros
                (less memory, and ``step`` then skips those parameters). Default: ``True``.
        """
        for group in self.param_groups:
            for p in group["params"]:
                grad = p._grad
                if grad is None:
                    continue
                if set_to_none:
                    p._grad = None
                else:
                    if grad.grad_fn is not None:
                        grad.detach_()
                    else:
                        grad.requires_grad_(False)
                    grad._data.fill(0)
                    grad._vc[0] += 1

    @_wrap_step
    def step(self, closure=None):
        r"""Perform a single optimization step.

        Args:
            closure (Callable, optional): re-evaluates the model and returns the loss.
        """
        return self._update(closure, self._update_group)

    def _update(self, closure, update_group):
        """Run the closure, then ``update_group(group)`` for each group under no_grad."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        with no_grad():
            if mutation_watch[0] is not None:   # allow_mutation_on_saved_tensors
                for group in self.param_groups:
                    for p in group["params"]:
                        mutation_watch[0](p)
            for group in self.param_groups:
                if several_devices[0]:
                    _update_per_device(group, update_group)
                else:
                    update_group(group)
        return loss

    @staticmethod
    def _params_with_grad(group):
        return [p for p in group["params"] if p._grad is not None]

    @staticmethod
    def _bump_versions(params):
        for p in params:
            p._vc[0] += 1

    # ------------------------------------------------------------------- hooks
    def register_step_pre_hook(self, hook):
        r"""Register ``hook(optimizer, args, kwargs)`` to run before :meth:`step`.

        The hook may return ``(new_args, new_kwargs)`` to replace the arguments of ``step``.
        Returns a handle whose ``remove()`` unregisters the hook.
        """
        return RemovableHandle(self._step_pre_hooks, hook)

    def register_step_post_hook(self, hook):
        r"""Register ``hook(optimizer, args, kwargs)`` to run after :meth:`step`.

        Returns a handle whose ``remove()`` unregisters the hook.
        """
        return RemovableHandle(self._step_post_hooks, hook)

    @staticmethod
    def _register(hooks, hook, prepend):
        handle = RemovableHandle(hooks, hook)
        if prepend:
            hooks.move_to_end(handle.id, last=False)
        return handle

    def register_state_dict_pre_hook(self, hook, prepend=False):
        r"""Register ``hook(optimizer)`` to run before :meth:`state_dict` builds the dict
        (``prepend``: before the hooks already registered). Returns a removable handle."""
        return self._register(self._state_dict_pre_hooks, hook, prepend)

    def register_state_dict_post_hook(self, hook, prepend=False):
        r"""Register ``hook(optimizer, state_dict) -> state_dict or None`` to run after
        :meth:`state_dict`; it may edit the dict in place or return a new one."""
        return self._register(self._state_dict_post_hooks, hook, prepend)

    def register_load_state_dict_pre_hook(self, hook, prepend=False):
        r"""Register ``hook(optimizer, state_dict) -> state_dict or None`` to run before
        :meth:`load_state_dict`; a dict it returns is loaded instead."""
        return self._register(self._load_state_dict_pre_hooks, hook, prepend)

    def register_load_state_dict_post_hook(self, hook, prepend=False):
        r"""Register ``hook(optimizer)`` to run after :meth:`load_state_dict`."""
        return self._register(self._load_state_dict_post_hooks, hook, prepend)

    # ------------------------------------------------------------- state dicts
    def state_dict(self):
        r"""Return the state of the optimizer as a :class:`dict`.

        It has two entries, as in PyTorch:

        * ``state``: a dict from parameter index to that parameter's state (tensors are
          referenced, not copied);
        * ``param_groups``: a list of dicts holding each group's options, with ``params``
          replaced by the list of parameter indices.
        """
        for hook in list(self._state_dict_pre_hooks.values()):
            hook(self)
        state_dict = self._state_dict()
        for hook in list(self._state_dict_post_hooks.values()):
            result = hook(self, state_dict)
            if result is not None:
                state_dict = result
        return state_dict

    def _state_dict(self):
        index_of = {}
        next_index = 0
        packed_groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            for p in group["params"]:
                if id(p) not in index_of:
                    index_of[id(p)] = next_index
                    next_index += 1
            packed["params"] = [index_of[id(p)] for p in group["params"]]
            packed_groups.append(packed)
        packed_state = {(index_of[id(k)] if isinstance(k, Tensor) else k): v
                        for k, v in self.state.items()}
        return {"state": packed_state, "param_groups": packed_groups}

    def load_state_dict(self, state_dict):
        r"""Load the optimizer state.

        Args:
            state_dict (dict): optimizer state, as returned by :meth:`state_dict`. Floating-point
                state tensors are cast to their parameter's dtype and moved to its device,
                except ``step`` (a number ``step`` from an old checkpoint becomes a float32
                tensor); options missing from a saved group take this optimizer's defaults.
        """
        for hook in list(self._load_state_dict_pre_hooks.values()):
            result = hook(self, state_dict)
            if result is not None:
                state_dict = result
        self._load_state_dict(state_dict)
        for hook in list(self._load_state_dict_post_hooks.values()):
            hook(self)

    def _load_state_dict(self, state_dict):
        state_dict = _copy_state_dict(state_dict)
        groups = self.param_groups
        saved_groups = state_dict["param_groups"]
        if len(groups) != len(saved_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        if any(len(g["params"]) != len(s["params"]) for g, s in zip(groups, saved_groups)):
            raise ValueError("loaded state dict contains a parameter group that doesn't match the "
                             "size of optimizer's group")
        id_map = {}
        for g, s in zip(groups, saved_groups):
            for old_id, p in zip(s["params"], g["params"]):
                id_map[old_id] = p

        state = defaultdict(dict)
        for key, value in state_dict["state"].items():
            if key in id_map:
                param = id_map[key]
                state[param] = _cast_state(param, value, key=None)
            else:
                state[key] = value

        new_groups = []
        for group, saved in zip(groups, saved_groups):
            new_group = dict(saved)
            new_group["params"] = group["params"]
            for name, default in self.defaults.items():
                new_group.setdefault(name, default)
            if "param_names" in group and "param_names" not in saved:
                new_group["param_names"] = group["param_names"]
            new_groups.append(new_group)
        self.state = state
        self.param_groups = new_groups


def _copy_state_dict(state_dict):
    # Deep-copy containers and tensors so the loaded optimizer never aliases the caller's dict.
    if isinstance(state_dict, Tensor):
        return _new(state_dict._data.copy())
    if isinstance(state_dict, dict):
        return {k: _copy_state_dict(v) for k, v in state_dict.items()}
    if isinstance(state_dict, list):
        return [_copy_state_dict(v) for v in state_dict]
    if isinstance(state_dict, tuple):
        return tuple(_copy_state_dict(v) for v in state_dict)
    return state_dict


def _cast_state(param, value, key):
    if key == "step" and isinstance(value, (int, float)):
        return _new(np.array(value, dtype=np.float32))
    if isinstance(value, Tensor):
        if key == "step":
            return value
        if param.is_floating_point() and value.is_floating_point():
            return value.to(dtype=param.dtype, device=param.device)
        return value.to(device=param.device)
    if isinstance(value, dict):
        return {k: _cast_state(param, v, key=k) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_cast_state(param, v, key=key) for v in value)
    return value


def _typename(obj):
    if isinstance(obj, Tensor):
        return "disttorch.Tensor"
    module = type(obj).__module__
    name = type(obj).__qualname__
    return name if module in ("builtins", None) else f"{module}.{name}"


def lerp_(start, end, weight):
    """``start += weight * (end - start)`` in place, with torch's two-sided formula."""
    delta = end - start
    if weight < 0.5:
        delta *= weight
        start += delta
    else:
        delta *= 1 - weight
        get_array_module(start).subtract(end, delta, out=start)
