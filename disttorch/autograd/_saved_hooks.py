"""The machinery behind ``autograd.graph.saved_tensors_hooks``: what a node keeps for its
backward goes through the active ``pack_hook`` when the node is recorded, and comes back
through ``unpack_hook`` when its backward runs.

A built-in node keeps arrays two ways: ``save_for_backward`` (``node._saved``, where inputs and
outputs are known, so the hook receives the input or output tensor itself) and plain attributes
set in ``forward`` (arrays, or tuples and lists of them: the hook receives each as a tensor
without history). Both are packed, so offloading (``save_on_cpu``) reaches every activation.
The engine unpacks a node's arrays just before calling its ``backward`` and drops them right
after, so they are back in their packed form (on the host, say) between passes.
"""
import threading

from ..tensor import Tensor, _new

__all__ = ["state", "push", "pop", "pack_node", "pack_custom", "unpack", "release",
           "InputRef", "mutation_watch", "note_mutation"]

# attributes of a node that are graph bookkeeping, never activations
_SKIP = frozenset(["_saved", "_saved_meta", "next_edges", "_out_meta", "_trace", "_metadata",
                   "_pre_hooks", "_post_hooks", "_retained", "_packed", "_saved_versions",
                   "_input_shapes", "to_save", "non_differentiable", "dirty_tensors"])
_MAX_DEPTH = 3


class _State(threading.local):
    def __init__(self):
        self.stack = []             # (pack_hook, unpack_hook), innermost last
        self.disabled = None        # the error message of disable_saved_tensors_hooks


state = _State()
# pairs set in any thread: while 0, recording an op skips the thread-local lookup
active = [0]
# allow_mutation_on_saved_tensors: a function told of each tensor about to change in place
mutation_watch = [None]


def note_mutation(tensor):
    """Tell an active ``allow_mutation_on_saved_tensors`` that ``tensor`` is about to change in
    place (for writes that bypass ``check_inplace``)."""
    watch = mutation_watch[0]
    if watch is not None:
        watch(tensor)


def push(pack_hook, unpack_hook):
    if state.disabled is not None:
        raise RuntimeError(state.disabled)
    state.stack.append((pack_hook, unpack_hook))
    active[0] += 1


def pop():
    state.stack.pop()
    active[0] -= 1


class InputRef:
    """Where a saved non-leaf input sits in the graph (its node and output number)."""

    __slots__ = ("grad_fn", "_output_nr")

    def __init__(self, tensor):
        self.grad_fn, self._output_nr = tensor.grad_fn, tensor._output_nr


class _Packed:
    """A node's packed values: ``saved`` (per ``_saved`` entry) and ``attrs`` (per attribute,
    the structure with packed leaves), and the unpack hook of the pair that packed them."""

    __slots__ = ("saved", "attrs", "unpack_hook", "live", "freed")

    def __init__(self, saved, attrs, unpack_hook):
        self.saved, self.attrs, self.unpack_hook = saved, attrs, unpack_hook
        self.live = self.freed = False


class _Leaf:
    __slots__ = ("packed",)

    def __init__(self, packed):
        self.packed = packed


class _Container:
    """A tuple or list attribute, its arrays packed (other items kept as they are)."""

    __slots__ = ("kind", "parts")

    def __init__(self, kind, parts):
        self.kind, self.parts = kind, parts


def _pack_value(value, pack_hook, array_types, depth=0):
    """``value`` with its arrays packed (``None`` when it holds none)."""
    if type(value) in array_types:
        return _Leaf(pack_hook(_new(value)))
    if depth < _MAX_DEPTH and type(value) in (tuple, list):
        parts = [_pack_value(v, pack_hook, array_types, depth + 1) for v in value]
        if all(p is None for p in parts):
            return None
        return _Container(type(value), [v if p is None else p for v, p in zip(value, parts)])
    return None


def _unpack_value(packed, unpack_hook):
    if isinstance(packed, _Leaf):
        return _array_of(unpack_hook(packed.packed))
    if isinstance(packed, _Container):
        return packed.kind(_unpack_value(p, unpack_hook) for p in packed.parts)
    return packed


def _array_of(value):
    if not isinstance(value, Tensor):
        raise TypeError(f"Output of saved tensor unpack_hook expected to be a Tensor but got "
                        f"result of type {type(value).__name__}")
    return value._data


def pack_node(node, array_types, outputs):
    """Pack what the built-in ``node`` keeps, with the innermost hooks (called right after its
    forward; ``outputs`` are its output tensors)."""
    pack_hook, unpack_hook = state.stack[-1]
    saved = None
    if node._saved:
        saved = []
        for s, meta in zip(node._saved, node._saved_meta or [None] * len(node._saved)):
            if s is None or type(s) not in array_types:
                saved.append(None if s is None else ("keep", s))
                continue
            if meta is not None and meta[3] < 0 and meta[0] is not None:
                tensor = meta[0]            # the input tensor itself
            elif meta is not None and meta[3] >= 0:
                tensor = outputs[meta[3]]   # one of the node's outputs
            else:
                tensor = _new(s)
            saved.append(_Leaf(pack_hook(tensor)))
    attrs = {}
    for name, value in node.__dict__.items():
        if name in _SKIP:
            continue
        packed = _pack_value(value, pack_hook, array_types)
        if packed is not None:
            attrs[name] = packed
    if saved is None and not attrs:
        return
    if saved is not None and node._saved_meta:
        # the metadata must not keep a non-leaf input alive (that would keep its array on the
        # device): its graph position is enough to rebuild it for double backward
        node._saved_meta = [
            (InputRef(m[0]),) + tuple(m[1:]) if m is not None and m[3] < 0 and
            m[0] is not None and m[0].grad_fn is not None else m for m in node._saved_meta]
    for name in attrs:
        node.__dict__[name] = None
    if saved is not None:
        node._saved = tuple(None if p is None else p[1] if isinstance(p, tuple) else None
                            for p in saved)
    node._packed = _Packed(saved, attrs, unpack_hook)


def pack_custom(node):
    """Pack the tensors a custom Function's ``ctx.save_for_backward`` kept."""
    pack_hook, unpack_hook = state.stack[-1]
    saved = [None if t is None else _Leaf(pack_hook(t)) for t in node._saved]
    node._saved = tuple(None for _ in saved)
    node._packed = _Packed(saved, {}, unpack_hook)
    node._packed_custom = True


def unpack(node):
    """Put a node's kept values back, through its unpack hook, for its backward."""
    packed = node._packed
    if packed.live:
        return
    if packed.freed:
        raise RuntimeError(_SECOND_BACKWARD)
    hook = packed.unpack_hook
    if packed.saved is not None:
        custom = node.__dict__.get("_packed_custom", False)
        values = list(node._saved)
        for i, p in enumerate(packed.saved):
            if isinstance(p, _Leaf):
                tensor = hook(p.packed)
                if custom:
                    if not isinstance(tensor, Tensor):
                        _array_of(tensor)       # raises PyTorch's error
                    values[i] = tensor
                else:
                    values[i] = _array_of(tensor)
        node._saved = tuple(values)
    for name, p in packed.attrs.items():
        node.__dict__[name] = _unpack_value(p, hook)
    packed.live = True


def release(node, keep):
    """After a node's backward: drop the unpacked values; drop the packed ones too unless the
    graph is retained (``keep``)."""
    packed = node._packed
    if not packed.live:
        return
    for name in packed.attrs:
        node.__dict__[name] = None
    if packed.saved is not None and node._saved is not None and type(node._saved) is tuple:
        node._saved = tuple(None if isinstance(p, _Leaf) else v
                            for p, v in zip(packed.saved, node._saved))
    packed.live = False
    if not keep:
        packed.saved = [None] * len(packed.saved) if packed.saved is not None else None
        packed.freed = True


_SECOND_BACKWARD = (
    "Trying to backward through the graph a second time (or directly access saved tensors after "
    "they have already been freed). Saved intermediate values of the graph are freed when you "
    "call .backward() or autograd.grad(). Specify retain_graph=True if you need to backward "
    "through the graph a second time or if you need to access saved tensors after calling "
    "backward.")
