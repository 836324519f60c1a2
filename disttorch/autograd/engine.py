"""The backward engine: dependency counting over the graph, then an iterative sweep.

No recursion (a 10,000-op chain is fine), gradients summed out of place (so no
array handed to one consumer is ever mutated under another), saved arrays freed
as soon as a node has run unless ``retain_graph``.
"""
import threading

from .._backend import foreign_device, get_array_module, several_devices, writes_stay_private
from ..tensor import _SAME_DTYPE, Tensor, _new
from . import _saved_hooks, anomaly, grad_mode
from .function import _FREED, _ARRAY_TYPES, _as_array


def _build_graph(root_nodes, targets):
    """Count, for each node, the edges that reach it from nodes that must run.

    ``targets`` (a set of nodes) prunes the graph to the nodes that lead to one of
    them (``autograd.grad``); None keeps every node.
    """
    if targets is None:
        deps = {}
        seen = set(root_nodes)
        stack = list(root_nodes)
        while stack:
            node = stack.pop()
            for edge in node.next_edges:
                if edge is not None:
                    child = edge[0]
                    # leaves are counted too: a leaf used several times gets one summed
                    # gradient (and its hooks run once), as with PyTorch's AccumulateGrad
                    if child in deps:
                        deps[child] += 1
                    else:
                        deps[child] = 1
                    if edge[1] >= 0 and child not in seen:
                        seen.add(child)
                        stack.append(child)
        return deps, None
    # Post-order walk: a node is needed if it is a target or leads to a needed node.
    needed = set()
    visited = set()
    for root in root_nodes:
        if root in visited:
            continue
        visited.add(root)
        stack = [(root, iter(root.next_edges))]
        while stack:
            node, it = stack[-1]
            advanced = False
            for edge in it:
                if edge is None:
                    continue
                child = edge[0]
                if edge[1] < 0:
                    if child in targets:
                        needed.add(node)
                    continue
                if child not in visited:
                    visited.add(child)
                    stack.append((child, iter(child.next_edges)))
                    advanced = True
                    break
                if child in needed:
                    needed.add(node)
            if not advanced:
                stack.pop()
                if node in targets:
                    needed.add(node)
                if stack and node in needed:
                    needed.add(stack[-1][0])
    deps = {}
    for node in needed:
        for edge in node.next_edges:
            if edge is not None and (edge[0] in needed if edge[1] >= 0 else edge[0] in targets):
                deps[edge[0]] = deps.get(edge[0], 0) + 1
    return deps, needed


def _add(a, b):
    return a + b


def run_backward(tensors, grad_tensors, retain_graph, create_graph, inputs=None, accumulate=True,
                 allow_unused=True):
    """Backpropagate ``grad_tensors`` from ``tensors``.

    With ``accumulate`` the gradients of leaves land in ``.grad`` (``Tensor.backward``);
    otherwise the gradients of ``inputs`` are returned (``autograd.grad``).
    """
    prev_enabled = grad_mode.state.enabled
    prev_callbacks = _pass.callbacks
    grad_mode.state.enabled = create_graph
    _pass.callbacks = []
    try:
        result = _run(tensors, grad_tensors, retain_graph, create_graph, inputs, accumulate)
        callbacks = _pass.callbacks
        while callbacks:
            callbacks.pop(0)()
        return result
    finally:
        grad_mode.state.enabled = prev_enabled
        _pass.callbacks = prev_callbacks


class _PassState(threading.local):
    callbacks = None


_pass = _PassState()


def queue_callback(callback):
    """Run ``callback()`` once the current backward pass has finished (DDP waits for its
    gradient all-reduces there). Only valid while a backward pass is running."""
    if _pass.callbacks is None:
        raise RuntimeError("queue_callback can only be called while a backward pass is running")
    _pass.callbacks.append(callback)


def _run(tensors, grad_tensors, retain_graph, create_graph, inputs, accumulate):
    captured = None
    leaf_targets = None
    node_targets = None
    if inputs is not None:
        captured = [None] * len(inputs)
        leaf_targets = {}
        node_targets = {}
        for i, t in enumerate(inputs):
            if t.grad_fn is None:
                leaf_targets.setdefault(t, []).append(i)
            else:
                node_targets.setdefault(t.grad_fn, []).append((t._output_nr, i))
    # Arrays delivered to more than one consumer (kept alive so their ids stay unique): a leaf
    # adopting one of them, or a view of one, as its .grad must copy it.
    shared = {}
    adopted = set()
    buffers = {}
    root_nodes = []
    for t, g in zip(tensors, grad_tensors):
        root = g._data if isinstance(g, Tensor) else g
        shared[id(root)] = root  # the caller's memory
        if t.grad_fn is None:
            _deliver_leaf(t, g, create_graph, accumulate, leaf_targets, captured, shared,
                          adopted)
            continue
        node = t.grad_fn
        buf = buffers.get(node)
        if buf is None:
            buf = buffers[node] = [None] * node._nout
            root_nodes.append(node)
        nr = t._output_nr
        buf[nr] = g if buf[nr] is None else buf[nr] + g
    targets = None
    if inputs is not None:
        targets = set(node_targets) | set(leaf_targets)
    deps, needed = _build_graph(root_nodes, targets)
    ready = [n for n in root_nodes if n not in deps and (needed is None or n in needed)]
    check_nan = anomaly.state.enabled and anomaly.state.check_nan
    leaf_grads = {}
    special = node_targets is not None or check_nan
    array_types = _ARRAY_TYPES
    freed = _FREED
    while ready:
        node = ready.pop()
        grads = buffers.pop(node, None)
        if grads is not None and (node._pre_hooks or node._retained):
            grads = _run_pre_hooks(node, grads, create_graph)
        if special and node_targets is not None and node in node_targets and grads is not None:
            for nr, i in node_targets[node]:
                g = grads[nr]
                if g is not None:
                    captured[i] = g if create_graph else _new(g)
        edges = node.next_edges
        untouched = False
        if special and node_targets is not None and node in node_targets and not any(
                e is not None and (e[0] in needed if e[1] >= 0 else e[0] in deps)
                for e in edges):
            # autograd.grad w.r.t. this node's output, and nothing wanted beyond it: its own
            # backward does not run, and its saved values stay for a later pass
            edges = ()
            untouched = True
        if grads is None or not edges or (grads[0] is None if node._nout == 1 else
                                          all(g is None for g in grads)):
            in_grads = ()
        else:
            if several_devices[0]:
                in_grads, grads = _backward_on_device(node, grads, create_graph, retain_graph)
            else:
                if node._nout > 1:
                    grads = _materialize(node, grads, create_graph)
                if node._packed is not None:
                    # saved-tensor hooks: the node's values come back for this backward only
                    in_grads = _backward_unpacked(node, grads, create_graph, retain_graph)
                elif create_graph:
                    node._create_graph = True
                    try:
                        in_grads = node.backward(*grads)
                    finally:
                        node._create_graph = False
                else:
                    in_grads = node.backward(*grads)
            if type(in_grads) is not tuple:
                in_grads = (in_grads,)
            if check_nan:
                _check_nan(node, in_grads)
            if len(in_grads) > 1 and not create_graph:
                _note_shared(in_grads, shared)
            if node._post_hooks:
                for hook in list(node._post_hooks.values()):
                    hook(tuple(_wrap(g) for g in in_grads), tuple(_wrap(g) for g in grads))
        if not retain_graph and node._saved and not untouched:
            node._saved = freed
        n_grads = len(in_grads)
        for k, edge in enumerate(edges):
            if edge is None:
                continue
            target, nr = edge
            g = in_grads[k] if k < n_grads else None
            if g is not None and type(g) not in array_types and type(g) is not Tensor:
                g = _as_array(g, None)  # numpy returns scalars for 0-d results
            if nr < 0:
                if needed is not None and target not in deps:
                    continue
                if g is not None:
                    pending = leaf_grads.get(target)
                    if pending is not None:
                        g = pending + g if not several_devices[0] else _sum_on_device(pending, g)
                        if not create_graph and type(g) not in array_types:
                            g = _as_array(g, None)
                    leaf_grads[target] = g
                remaining = deps[target] - 1
                if remaining:
                    deps[target] = remaining
                else:
                    g = leaf_grads.pop(target, None)
                    if g is not None:
                        _deliver_leaf(target, g, create_graph, accumulate, leaf_targets, captured,
                                      shared, adopted)
                continue
            if needed is not None and target not in needed:
                continue
            if g is not None:
                buf = buffers.get(target)
                if buf is None:
                    if target._nout == 1:
                        buffers[target] = [g]
                    else:
                        buf = buffers[target] = [None] * target._nout
                        buf[nr] = g
                elif buf[nr] is None:
                    buf[nr] = g
                else:
                    total = buf[nr] + g if not several_devices[0] else _sum_on_device(buf[nr], g)
                    if not create_graph and type(total) not in array_types:
                        total = _as_array(total, None)  # 0-d sums come back as numpy scalars
                    buf[nr] = total
            remaining = deps[target] - 1
            if remaining:
                deps[target] = remaining
            else:
                ready.append(target)
    return captured


def _backward_on_device(node, grads, create_graph, retain_graph):
    """``(node's input gradients, its materialized output gradients)``, computed on the
    gradients' device: with arrays on several GPUs a backward must run where its gradients
    are, as its forward ran on its inputs' device (CuPy launches on the current one)."""
    device = None if node.crosses_devices else \
        foreign_device([g._data if type(g) is Tensor else g for g in grads])
    if device is not None:
        with device:
            return _backward_on_device(node, grads, create_graph, retain_graph)
    if node._nout > 1:
        grads = _materialize(node, grads, create_graph)   # zeros on the same device
    if node._packed is not None:
        return _backward_unpacked(node, grads, create_graph, retain_graph), grads
    node._create_graph = create_graph
    try:
        return node.backward(*grads), grads
    finally:
        node._create_graph = False


def _backward_unpacked(node, grads, create_graph, retain_graph):
    _saved_hooks.unpack(node)
    node._create_graph = create_graph
    try:
        return node.backward(*grads)
    finally:
        node._create_graph = False
        _saved_hooks.release(node, retain_graph)


def _note_shared(in_grads, shared):
    # e.g. Add's backward returns the same array for both inputs
    seen = set()
    for g in in_grads:
        if g is not None:
            if id(g) in seen:
                shared[id(g)] = g
            seen.add(id(g))


def _wrap(g):
    if g is None or isinstance(g, Tensor):
        return g
    return _new(g)


def _materialize(node, grads, create_graph):
    out = list(grads)
    for k, g in enumerate(out):
        if g is None and node._out_meta[k][1] is not None:
            shape, dtype = node._out_meta[k]
            like = next(x for x in grads if x is not None)
            data = like._data if isinstance(like, Tensor) else like
            z = get_array_module(data).zeros(shape, dtype)
            out[k] = _new(z) if create_graph else z
    return out


def _run_pre_hooks(node, grads, create_graph):
    grads = list(grads)
    if node._pre_hooks:
        for output_nr, hook in list(node._pre_hooks.values()):
            if output_nr is None:
                result = hook(tuple(_wrap(g) for g in grads))
                if result is not None:
                    grads = [r if create_graph or r is None else r._data for r in result]
                continue
            g = grads[output_nr]
            if g is None:
                continue
            result = hook(_wrap(g))
            if result is not None:
                grads[output_nr] = result if create_graph else result._data
    if node._retained:
        for output_nr, ref in node._retained.items():
            t = ref()
            g = grads[output_nr]
            if t is None or g is None:
                continue
            value = g if isinstance(g, Tensor) else _new(g.copy())
            if t._grad is None:
                t._grad = value if not create_graph else _new(value._data.copy())
            else:
                t._grad = _new(_as_array(t._grad._data + value._data, None))
    return grads


def _cast_grad(g, dtype):
    """Gradient ``g`` (an array, or a Tensor when the pass builds a graph) in ``dtype``."""
    if type(g) is Tensor:
        return g if g._data.dtype == dtype.np_dtype else g.to(dtype)
    return g if g.dtype == dtype.np_dtype else g.astype(dtype.np_dtype)


def _sum_on_device(a, b):
    device = foreign_device([a._data if type(a) is Tensor else a])
    if device is None:
        return a + b
    with device:
        return a + b


def _deliver_leaf(leaf, g, create_graph, accumulate, leaf_targets, captured, shared, adopted):
    if several_devices[0]:
        # .grad is made (copied, summed) on the leaf's device, not the current one
        device = foreign_device([leaf._data])
        if device is not None:
            with device:
                return _deliver_leaf(leaf, g, create_graph, accumulate, leaf_targets, captured,
                                     shared, adopted)
    if leaf._grad_dtype is not _SAME_DTYPE and leaf._grad_dtype is not None:
        g = _cast_grad(g, leaf._grad_dtype)   # before the hooks see it, as in PyTorch
    if leaf._hooks:
        for hook in list(leaf._hooks.values()):
            result = hook(_wrap(g))
            if result is not None:
                g = result if create_graph else result._data
    if leaf_targets is not None:
        slots = leaf_targets.get(leaf)
        if slots is not None:
            for i in slots:
                prev = captured[i]
                if prev is None:
                    captured[i] = g if create_graph else _new(g)
                else:
                    captured[i] = prev + g if create_graph else _new(prev._data + g)
        if not accumulate or slots is None:
            return
    if not accumulate:
        return
    if create_graph:
        g_t = g if isinstance(g, Tensor) else _new(g)
        leaf._grad = g_t if leaf._grad is None else leaf._grad + g_t
    else:
        data = g._data if isinstance(g, Tensor) else g
        if leaf._grad is None:
            # Adopt the array (or view) as .grad only if nothing else can see its memory: not
            # handed to another consumer, not a view of memory another leaf adopted or the
            # caller's gradient. An adopted array may still sit in a pending buffer, so it is
            # never accumulated into in place during this pass.
            owner = id(data) if data.base is None else id(data.base)
            if owner in shared or owner in adopted or not writes_stay_private(data):
                data = data.copy()
            else:
                adopted.add(id(data))
                adopted.add(owner)
            if leaf._grad_dtype is _SAME_DTYPE and data.dtype != leaf._data.dtype:
                data = data.astype(leaf._data.dtype)
            leaf._grad = _new(data)
        else:
            current = leaf._grad._data
            if data.dtype != current.dtype:   # grad_dtype None: .grad keeps the dtype it has
                data = data.astype(current.dtype)
            if id(current) not in adopted and writes_stay_private(current) and \
                    current.shape == data.shape:
                current += data
                leaf._grad._vc[0] += 1
            else:
                leaf._grad = _new(_as_array(current + data, None))
    if leaf._post_hooks:
        for hook in list(leaf._post_hooks.values()):
            hook(leaf)


def _check_nan(node, in_grads):
    for i, g in enumerate(in_grads):
        if g is None:
            continue
        data = g._data if isinstance(g, Tensor) else g
        if data.dtype.kind in "fc" and bool(get_array_module(data).isnan(data).any()):
            trace = node._trace or "(no forward trace recorded: was the forward run outside "
            "detect_anomaly?)\n"
            raise RuntimeError(f"Function '{node.name()}' returned nan values in its {i}th output.\n"
                               f"Forward call that created it:\n{trace}")
