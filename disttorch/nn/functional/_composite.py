"""The fused recurrent and attention nodes written again with differentiable ops.

The fused nodes compute their first-order gradients on arrays. When a graph of the
backward pass is wanted (``create_graph=True``) their backward calls :func:`double_backward`
instead, which re-runs the forward below at the saved inputs and differentiates it with
``create_graph=True``, so second derivatives come out right (at the cost of a recomputation
that only happens in that mode).
"""
import math

from ... import autograd
from ...ops import cat, stack, where, zeros
from ...tensor import Tensor, _new
from ._activation import softmax


def double_backward(composite, inputs, grads):
    """Gradients of ``composite(*inputs)`` (one output per entry of ``grads``) w.r.t. the
    tensors of ``inputs`` that require grad, with a graph; None for the others."""
    outputs = composite(*inputs)
    outputs = outputs if isinstance(outputs, tuple) else (outputs,)
    pairs = [(o, g) for o, g in zip(outputs, grads)
             if g is not None and isinstance(o, Tensor) and o.requires_grad]
    wanted = [isinstance(t, Tensor) and t.requires_grad for t in inputs]
    targets = [t for t, w in zip(inputs, wanted) if w]
    if not pairs or not targets:
        return (None,) * len(inputs)
    found = iter(autograd.grad([o for o, _ in pairs], targets, [g for _, g in pairs],
                               create_graph=True, allow_unused=True))
    return tuple(next(found) if w else None for w in wanted)


# ------------------------------------------------------------------------ recurrent
def _linear(x, w, b=None):
    y = x @ w.transpose(0, 1)
    return y if b is None else y + b


def cell_step(mode, x, h, c, w_ih, w_hh, b_ih, b_hh, w_hr=None):
    """One step of an RNN/LSTM/GRU cell on tensors; returns ``(h', c')``."""
    gi, gh = _linear(x, w_ih, b_ih), _linear(h, w_hh, b_hh)
    if mode == "LSTM":
        i, f, g, o = (gi + gh).chunk(4, -1)
        c = f.sigmoid() * c + i.sigmoid() * g.tanh()
        h = o.sigmoid() * c.tanh()
        return (h if w_hr is None else _linear(h, w_hr)), c
    if mode == "GRU":
        ir, iz, in_ = gi.chunk(3, -1)
        hr, hz, hn = gh.chunk(3, -1)
        r, z = (ir + hr).sigmoid(), (iz + hz).sigmoid()
        n = (in_ + r * hn).tanh()
        return n + z * (h - n), None
    pre = gi + gh
    return (pre.relu() if mode == "RNN_RELU" else pre.tanh()), None


def _carry(prev, init, b, finals):
    rows = prev.shape[0]
    if b == rows:
        return prev
    if b < rows:
        finals.append(prev[b:])
        return prev[:b]
    return cat([prev, init[rows:b]])


def _final(prev, finals):
    return cat([prev] + finals[::-1]) if finals else prev


def _layer(mode, x, h0, c0, weights, steps):
    w_ih, w_hh, b_ih, b_hh, w_hr = weights
    h_prev = h0[:steps[0][1]]
    c_prev = None if c0 is None else c0[:steps[0][1]]
    outs, h_fin, c_fin = [], [], []
    for off, b in steps:
        h_in = _carry(h_prev, h0, b, h_fin)
        c_in = None if c0 is None else _carry(c_prev, c0, b, c_fin)
        h_prev, c_prev = cell_step(mode, x[off:off + b], h_in, c_in, w_ih, w_hh, b_ih, b_hh,
                                   w_hr)
        outs.append(h_prev)
    if steps[0][0] > steps[-1][0]:
        outs = outs[::-1]
    return (cat(outs), _final(h_prev, h_fin),
            None if c0 is None else _final(c_prev, c_fin))


def rnn_composite(node):
    """``FusedRNN``'s forward on tensors, with the dropout masks it drew."""
    cfg, steps, masks = node.cfg, node.steps, node.masks
    dirs = 2 if cfg.bidirectional else 1

    def initial(state, size, like):
        if state is None:
            return zeros((cfg.num_layers * dirs, steps[0][0][1], size), dtype=like.dtype,
                         device=like.device)
        state = state.unsqueeze(1) if cfg.unbatched else state
        if cfg.sorted_indices is not None:
            state = state[:, _new(cfg.sorted_indices)]
        return state

    def final(states):
        out = stack(states)
        if cfg.unsorted_indices is not None:
            out = out[:, _new(cfg.unsorted_indices)]
        return out.squeeze(1) if cfg.unbatched else out

    def run(x, hx, cx, *weights):
        data = x
        if cfg.batch_sizes is None:
            data = x.unsqueeze(1) if cfg.unbatched else x
            data = data.transpose(0, 1) if cfg.batch_first else data
            data = data.reshape(-1, data.shape[2])
        layer_weights = node.layer_weights_of(weights)
        out_size, hidden = layer_weights[0][1].shape[1], layer_weights[0][1].shape[0]
        hidden //= {"LSTM": 4, "GRU": 3}.get(cfg.mode, 1)
        h0 = initial(hx, out_size, data)
        c0 = initial(cx, hidden, data) if cfg.mode == "LSTM" else None
        hn, cn = [], []
        for layer in range(cfg.num_layers):
            outs = []
            for d in range(dirs):
                idx = layer * dirs + d
                y, h, c = _layer(cfg.mode, data, h0[idx], None if c0 is None else c0[idx],
                                 layer_weights[idx], steps[d])
                outs.append(y)
                hn.append(h)
                cn.append(c)
            data = cat(outs, 1) if dirs > 1 else outs[0]
            if layer < len(masks):
                data = data * _new(masks[layer])
        out = data
        if cfg.batch_sizes is None:
            out = out.reshape(node.padded_shape + (out.shape[1],))
            out = out.transpose(0, 1) if cfg.batch_first else out
            out = out.squeeze(1) if cfg.unbatched else out
        return (out, final(hn)) + ((final(cn),) if c0 is not None else ())
    return run


def cell_composite(node):
    """``FusedCell``'s forward on tensors."""
    def run(x, hx, cx, mode, w_ih, w_hh, b_ih, b_hh):
        unbatched = x.dim() == 1
        if unbatched:
            x = x.unsqueeze(0)
            hx = None if hx is None else hx.unsqueeze(0)
            cx = None if cx is None else cx.unsqueeze(0)
        if hx is None:
            hx = zeros((x.shape[0], w_hh.shape[1]), dtype=x.dtype, device=x.device)
        if cx is None and mode == "LSTM":
            cx = zeros(hx.shape, dtype=x.dtype, device=x.device)
        h, c = cell_step(mode, x, hx, cx, w_ih, w_hh, b_ih, b_hh)
        if unbatched:
            h, c = h.squeeze(0), (None if c is None else c.squeeze(0))
        return h if c is None else (h, c)
    return run


# ------------------------------------------------------------------------ attention
def attention_composite(node):
    """``Attention``'s forward on tensors, with the dropout mask it drew."""
    spec, allowed, keep = node.spec, node.allowed, node.keep

    def run(q, k, v, float_mask, bool_mask, spec_arg):
        if spec.groups > 1:
            k = k.repeat_interleave(spec.groups, dim=-3)
            v = v.repeat_interleave(spec.groups, dim=-3)
        scores = (q @ k.transpose(-1, -2)) * spec.scale
        if float_mask is not None:
            scores = scores + float_mask
        if allowed is not None:
            scores = scores.masked_fill(_new(~allowed), -math.inf)
        if spec.zero_masked_rows and node.empty_rows is not None:
            empty = _new(node.empty_rows)
            weights = where(empty, 0.0, softmax(scores.masked_fill(empty, 0.0), -1))
        else:
            weights = softmax(scores, -1)
        if keep is not None:
            weights = weights * _new(keep)
        out = weights @ v
        if spec.weights is None:
            return out
        return out, (weights.mean(-3) if spec.weights == "mean" else weights)
    return run
