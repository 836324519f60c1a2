"""Recurrent kernels: whole-layer RNN/LSTM/GRU time loops with their own BPTT, and the cells.

A layer runs over a batch laid out as PyTorch packs it: ``data`` holds the rows of every time
step one after another (``N`` rows in all) and ``steps`` lists ``(offset, batch_size)`` per
step in the order a direction visits them. A padded ``(T, B, *)`` batch is the special case
where every step has ``B`` rows. Within a step the active sequences are the first
``batch_size`` rows, so a forward direction (sizes shrinking) retires rows into the final
state and a reverse direction (sizes growing) admits rows from the initial state.

Per step there is one GEMM (hidden-to-hidden) plus a few in-place elementwise calls; the
input-to-hidden projection of all steps is one GEMM before the loop, and the weight
gradients are one GEMM each after the backward loop. Sigmoids are computed as
``0.5 * tanh(x / 2) + 0.5`` so that all gates of a step take a single ``tanh`` call: the
weight rows of the sigmoid gates are pre-scaled by 1/2 (exact in floating point).
"""
import collections

import numpy as np

from ..._backend import get_array_module, device_constant
from ..._gemm import matmul as _gemm
from ..._threads import batch_parts, parallel_map
from ...autograd.function import Node
from ...ops.random import dropout_keep, dropout_scale
from ...tensor import Tensor
from ._composite import cell_composite, double_backward, rnn_composite

__all__ = []

RNNConfig = collections.namedtuple(
    "RNNConfig", "mode num_layers bidirectional batch_sizes batch_first unbatched dropout "
                 "training sorted_indices unsorted_indices")

_GATES = {"LSTM": 4, "GRU": 3, "RNN_TANH": 1, "RNN_RELU": 1}


def _scaled(xp, array, halves, dtype):
    """``array`` (gates stacked along dim 0) with the rows of sigmoid gates halved."""
    if array is None:
        return None
    rows = array.shape[0] // len(halves)
    scale = device_constant(xp, ("rnn_gate_scale", tuple(halves), rows, np.dtype(dtype)),
                            lambda: np.repeat(np.asarray(halves, dtype=dtype), rows))
    return array * (scale[:, None] if array.ndim == 2 else scale)


def _carry(prev, init, b, finals):
    """The state entering a step of ``b`` rows from the previous step's ``prev``."""
    rows = prev.shape[0]
    if b == rows:
        return prev
    if b < rows:
        finals.append(prev[b:])
        return prev[:b]
    return get_array_module(prev).concatenate((prev, init[rows:b]))


def _final(prev, finals):
    xp = get_array_module(prev)
    if not finals:
        return prev.copy()
    return xp.concatenate([prev] + finals[::-1])


def _carry_back(d_in, g_final, d_init, b, b_prev):
    """Route a step's state gradient to the previous step, the final-state grads it retired
    and the initial-state rows it admitted (the mirror of :func:`_carry`)."""
    if b == b_prev:
        return d_in
    if b < b_prev:
        return get_array_module(d_in).concatenate((d_in, g_final[b:b_prev]))
    d_init[b_prev:b] = d_in[b_prev:]
    return d_in[:b_prev]


def _by_row(states, steps):
    """Per-step state arrays (in visiting order) stacked in the row order of the data."""
    xp = get_array_module(states[0])
    return xp.concatenate(states if steps[0][0] <= steps[-1][0] else states[::-1])


def _sigmoid_(a):
    """In place: ``a`` holds x/2 on entry and sigmoid(x) on exit."""
    xp = get_array_module(a)
    xp.tanh(a, out=a)
    a *= 0.5
    a += 0.5
    return a


# --------------------------------------------------------------------------- LSTM
def _lstm_forward(x, h0, c0, weights, steps):
    w_ih, w_hh, b_ih, b_hh, w_hr = weights
    xp = get_array_module(x)
    dt = x.dtype
    hidden = w_ih.shape[0] // 4
    halves = (0.5, 0.5, 1.0, 0.5)
    gates_all = _gemm(x, _scaled(xp, w_ih, halves, dt).T)
    if b_ih is not None:
        gates_all += _scaled(xp, b_ih + b_hh, halves, dt)
    whh_t = _scaled(xp, w_hh, halves, dt).T
    whr_t = None if w_hr is None else w_hr.T
    n = x.shape[0]
    out_size = hidden if w_hr is None else w_hr.shape[0]
    c_all = xp.empty((n, hidden), dt)
    tc_all = xp.empty((n, hidden), dt)
    y = xp.empty((n, out_size), dt)
    h_raw = y if w_hr is None else xp.empty((n, hidden), dt)
    ifo_scale, ifo_shift = device_constant(
        xp, ("lstm_gate_affine", tuple(halves), hidden, np.dtype(dt)),
        lambda: (np.asarray(halves, dt).repeat(hidden),
                 np.asarray((0.5, 0.5, 0.0, 0.5), dt).repeat(hidden)))
    h_ins, c_ins, h_fin, c_fin = [], [], [], []
    h_prev, c_prev = h0[:steps[0][1]], c0[:steps[0][1]]
    # per-step scratch, reused by every step: a fresh temporary per product costs an
    # allocation each time, comparable to the small elementwise work itself
    rows = max(b for _, b in steps)
    hh_buf = xp.empty((rows, 4 * hidden), dt)
    ig_buf = xp.empty((rows, hidden), dt)
    for off, b in steps:
        h_in = _carry(h_prev, h0, b, h_fin)
        c_in = _carry(c_prev, c0, b, c_fin)
        h_ins.append(h_in)
        c_ins.append(c_in)
        end = off + b
        gates = gates_all[off:end]
        gates += xp.matmul(h_in, whh_t, out=hh_buf[:b])
        xp.tanh(gates, out=gates)
        gates *= ifo_scale
        gates += ifo_shift
        c = c_all[off:end]
        xp.multiply(gates[:, hidden:2 * hidden], c_in, out=c)
        c += xp.multiply(gates[:, :hidden], gates[:, 2 * hidden:3 * hidden], out=ig_buf[:b])
        tc = xp.tanh(c, out=tc_all[off:end])
        h = xp.multiply(gates[:, 3 * hidden:], tc, out=h_raw[off:end])
        if whr_t is not None:
            h = xp.matmul(h, whr_t, out=y[off:end])
        h_prev, c_prev = h, c
    cache = (x, weights, steps, gates_all, c_all, tc_all, h_raw, h_ins, c_ins)
    return y, _final(h_prev, h_fin), _final(c_prev, c_fin), cache


def _lstm_backward(cache, gy, ghn, gcn, need_x):
    x, (w_ih, w_hh, b_ih, b_hh, w_hr), steps, gates_all, c_all, tc_all, h_raw, h_ins, c_ins = cache
    xp = get_array_module(x)
    n, hidden = c_all.shape
    i, f = gates_all[:, :hidden], gates_all[:, hidden:2 * hidden]
    g, o = gates_all[:, 2 * hidden:3 * hidden], gates_all[:, 3 * hidden:]
    c_in_all = _by_row(c_ins, steps)
    # d(pre-activation) = [dc, dc, dc, dh] * coeff; dc = dh * o_tc + dc_next
    # all in place on one buffer: s * (1 - s) for every column first (the g column is
    # overwritten below), which avoids a temporary per factor over the whole sequence
    coeff = xp.subtract(1, gates_all)
    coeff *= gates_all
    coeff = coeff.reshape(n, 4, hidden)
    coeff[:, 0] *= g
    coeff[:, 1] *= c_in_all
    coeff[:, 3] *= tc_all
    cg = coeff[:, 2]
    xp.multiply(g, g, out=cg)
    xp.subtract(1, cg, out=cg)
    cg *= i
    o_tc = xp.multiply(tc_all, tc_all)
    xp.subtract(1, o_tc, out=o_tc)
    o_tc *= o
    dgates = xp.empty_like(gates_all)
    dg3 = dgates.reshape(n, 4, hidden)
    dh_all = xp.empty_like(gy) if w_hr is not None else None
    last = steps[-1][1]
    dh_next, dc_next = ghn[:last], gcn[:last]
    dh0, dc0 = xp.zeros_like(ghn), xp.zeros_like(gcn)
    # per-step scratch: dh/dc of this step and dh_in/dc_in handed to the previous one live in
    # separate buffers, so the next step reads dh_next/dc_next before they are overwritten
    rows, dt = max(b for _, b in steps), gates_all.dtype
    dh_buf = xp.empty((rows, gy.shape[1]), dt)
    dc_buf = xp.empty((rows, hidden), dt)
    dh_in_buf = xp.empty((rows, w_hh.shape[1]), dt)
    dc_in_buf = xp.empty((rows, hidden), dt)
    for k in range(len(steps) - 1, -1, -1):
        off, b = steps[k]
        end = off + b
        if w_hr is not None:
            dh = xp.add(gy[off:end], dh_next, out=dh_all[off:end])
            dh = dh @ w_hr
        else:
            dh = xp.add(gy[off:end], dh_next, out=dh_buf[:b])
        dc = xp.multiply(dh, o_tc[off:end], out=dc_buf[:b])
        dc += dc_next
        xp.multiply(dc[:, None, :], coeff[off:end, :3], out=dg3[off:end, :3])
        xp.multiply(dh, coeff[off:end, 3], out=dg3[off:end, 3])
        dh_in = xp.matmul(dgates[off:end], w_hh, out=dh_in_buf[:b])
        dc_in = xp.multiply(dc, f[off:end], out=dc_in_buf[:b])
        if k:
            b_prev = steps[k - 1][1]
            dh_next = _carry_back(dh_in, ghn, dh0, b, b_prev)
            dc_next = _carry_back(dc_in, gcn, dc0, b, b_prev)
        else:
            dh0[:b] = dh_in
            dc0[:b] = dc_in
    dw = [_gemm(dgates.T, x), _gemm(dgates.T, _by_row(h_ins, steps))]
    if b_ih is not None:
        db = dgates.sum(0)
        dw += [db, db.copy()]
    if w_hr is not None:
        dw.append(dh_all.T @ h_raw)
    return (_gemm(dgates, w_ih) if need_x else None), dh0, dc0, dw


# ---------------------------------------------------------------------------- GRU
def _gru_forward(x, h0, c0, weights, steps):
    w_ih, w_hh, b_ih, b_hh = weights[:4]
    xp = get_array_module(x)
    dt = x.dtype
    hidden = w_hh.shape[1]
    halves = (0.5, 0.5, 1.0)
    xg_all = _gemm(x, _scaled(xp, w_ih, halves, dt).T)
    if b_ih is not None:
        xg_all += _scaled(xp, b_ih, halves, dt)
    whh_t = _scaled(xp, w_hh, halves, dt).T
    bhh = _scaled(xp, b_hh, halves, dt)
    n = x.shape[0]
    gates_all = xp.empty((n, 3 * hidden), dt)
    hn_all = xp.empty((n, hidden), dt)
    y = xp.empty((n, hidden), dt)
    h_ins, h_fin = [], []
    h_prev = h0[:steps[0][1]]
    for off, b in steps:
        h_in = _carry(h_prev, h0, b, h_fin)
        h_ins.append(h_in)
        end = off + b
        hg = h_in @ whh_t
        if bhh is not None:
            hg += bhh
        xg = xg_all[off:end]
        rz = gates_all[off:end, :2 * hidden]
        xp.add(xg[:, :2 * hidden], hg[:, :2 * hidden], out=rz)
        _sigmoid_(rz)
        hn = hg[:, 2 * hidden:]
        hn_all[off:end] = hn
        new = gates_all[off:end, 2 * hidden:]
        xp.multiply(rz[:, :hidden], hn, out=new)
        new += xg[:, 2 * hidden:]
        xp.tanh(new, out=new)
        h = xp.subtract(h_in, new, out=y[off:end])
        h *= rz[:, hidden:]
        h += new
        h_prev = h
    cache = (x, weights, steps, gates_all, hn_all, h_ins)
    return y, _final(h_prev, h_fin), None, cache


def _gru_backward(cache, gy, ghn, gcn, need_x):
    x, (w_ih, w_hh, b_ih, b_hh, _), steps, gates_all, hn_all, h_ins = cache
    xp = get_array_module(x)
    hidden = hn_all.shape[1]
    r, z, new = gates_all[:, :hidden], gates_all[:, hidden:2 * hidden], gates_all[:, 2 * hidden:]
    h_in_all = _by_row(h_ins, steps)
    # with dh the state gradient: d(n_pre) = dh * a_n, d(z_pre) = dh * a_z,
    # d(r_pre) = d(n_pre) * a_r and d(hn) = d(n_pre) * r
    a_n = (1 - z) * (1 - new * new)
    a_z = (h_in_all - new) * z * (1 - z)
    a_r = hn_all * r * (1 - r)
    dxg = xp.empty_like(gates_all)
    dhg = xp.empty_like(gates_all)
    last = steps[-1][1]
    dh_next = ghn[:last]
    dh0 = xp.zeros_like(ghn)
    for k in range(len(steps) - 1, -1, -1):
        off, b = steps[k]
        end = off + b
        dh = gy[off:end] + dh_next
        dx_s, dh_s = dxg[off:end], dhg[off:end]
        dn = xp.multiply(dh, a_n[off:end], out=dx_s[:, 2 * hidden:])
        xp.multiply(dn, a_r[off:end], out=dx_s[:, :hidden])
        xp.multiply(dh, a_z[off:end], out=dx_s[:, hidden:2 * hidden])
        dh_s[:, :2 * hidden] = dx_s[:, :2 * hidden]
        xp.multiply(dn, r[off:end], out=dh_s[:, 2 * hidden:])
        dh_in = dh_s @ w_hh
        dh_in += dh * z[off:end]
        if k:
            dh_next = _carry_back(dh_in, ghn, dh0, b, steps[k - 1][1])
        else:
            dh0[:b] = dh_in
    dw = [_gemm(dxg.T, x), _gemm(dhg.T, h_in_all)]
    if b_ih is not None:
        dw += [dxg.sum(0), dhg.sum(0)]
    return (_gemm(dxg, w_ih) if need_x else None), dh0, None, dw


# ----------------------------------------------------------------- Elman RNN
def _elman_forward(relu):
    def forward(x, h0, c0, weights, steps):
        w_ih, w_hh, b_ih, b_hh = weights[:4]
        xp = get_array_module(x)
        pre_all = _gemm(x, w_ih.T)
        if b_ih is not None:
            pre_all += b_ih + b_hh
        whh_t = w_hh.T
        y = xp.empty((x.shape[0], w_hh.shape[0]), x.dtype)
        h_ins, h_fin = [], []
        h_prev = h0[:steps[0][1]]
        for off, b in steps:
            h_in = _carry(h_prev, h0, b, h_fin)
            h_ins.append(h_in)
            h = xp.matmul(h_in, whh_t, out=y[off:off + b])
            h += pre_all[off:off + b]
            if relu:
                xp.maximum(h, 0, out=h)
            else:
                xp.tanh(h, out=h)
            h_prev = h
        return y, _final(h_prev, h_fin), None, (x, weights, steps, y, h_ins, relu)
    return forward


def _elman_backward(cache, gy, ghn, gcn, need_x):
    x, (w_ih, w_hh, b_ih, b_hh, _), steps, y, h_ins, relu = cache
    xp = get_array_module(x)
    deriv = (y != 0).astype(y.dtype) if relu else 1 - y * y   # (a NaN passes, as in PyTorch)
    dpre = xp.empty_like(y)
    dh_next = ghn[:steps[-1][1]]
    dh0 = xp.zeros_like(ghn)
    for k in range(len(steps) - 1, -1, -1):
        off, b = steps[k]
        dh = gy[off:off + b] + dh_next
        d = xp.multiply(dh, deriv[off:off + b], out=dpre[off:off + b])
        dh_in = d @ w_hh
        if k:
            dh_next = _carry_back(dh_in, ghn, dh0, b, steps[k - 1][1])
        else:
            dh0[:b] = dh_in
    dw = [_gemm(dpre.T, x), _gemm(dpre.T, _by_row(h_ins, steps))]
    if b_ih is not None:
        db = dpre.sum(0)
        dw += [db, db.copy()]
    return (_gemm(dpre, w_ih) if need_x else None), dh0, None, dw


_KERNELS = {"LSTM": (_lstm_forward, _lstm_backward), "GRU": (_gru_forward, _gru_backward),
            "RNN_TANH": (_elman_forward(False), _elman_backward),
            "RNN_RELU": (_elman_forward(True), _elman_backward)}


# ------------------------------------------------------- batch slices on threads
# Rows of a batch never interact inside a layer, so with several intra-op threads the rows are
# split into slices, each running the whole time loop (and its BPTT) on its own thread; only
# the weight gradients are summed at the end. Below this much work (multiply-adds of one
# direction's GEMMs) the hand-off costs more than it saves.
_SPLIT_MIN_WORK = 1 << 21
# a slice of fewer rows spends its time on per-step overhead, not on arithmetic
_SPLIT_MIN_ROWS = 8


class _SplitCache:
    """The per-slice caches of a layer run in batch slices, and how to reassemble them."""

    def __init__(self, parts, caches, seq_len):
        self.parts, self.caches, self.seq_len = parts, caches, seq_len


def _split_parts(x, weights, steps):
    """Batch slices for ``steps`` when every step has the same rows (padded or equal-length
    packed batches) and the work pays for threads; a single slice otherwise."""
    b = steps[0][1]
    if type(x) is not np.ndarray or any(size != b for _, size in steps):
        return [slice(0, b)]
    w_ih, w_hh = weights[:2]
    work = len(steps) * b * w_ih.shape[0] * (w_ih.shape[1] + w_hh.shape[1])
    return batch_parts(b, work, _SPLIT_MIN_WORK, min_rows=_SPLIT_MIN_ROWS)


def _rows(array, seq_len, part):
    """The rows of batch slice ``part`` from every step of ``array`` (``(T*B, F)``), packed
    contiguously as ``(T*b, F)``."""
    width = array.shape[1]
    return np.ascontiguousarray(array.reshape(seq_len, -1, width)[:, part]).reshape(-1, width)


def _run_forward(mode, x, h0, c0, weights, steps):
    """``_KERNELS[mode][0]`` over the layer, in batch slices on the intra-op threads when
    that pays (see ``_SPLIT_MIN_WORK``)."""
    kernel = _KERNELS[mode][0]
    parts = _split_parts(x, weights, steps)
    if len(parts) == 1:
        return kernel(x, h0, c0, weights, steps)
    seq_len = len(steps)
    forward = steps[0][0] <= steps[-1][0]

    def run(part):
        b = part.stop - part.start
        order = range(seq_len) if forward else range(seq_len - 1, -1, -1)
        return kernel(_rows(x, seq_len, part), h0[part], None if c0 is None else c0[part],
                      weights, [(t * b, b) for t in order])

    results = parallel_map(run, parts)
    y = np.empty((x.shape[0], results[0][0].shape[1]), x.dtype)
    y3 = y.reshape(seq_len, -1, y.shape[1])
    for part, (y_part, _, _, _) in zip(parts, results):
        y3[:, part] = y_part.reshape(seq_len, -1, y.shape[1])
    h = np.concatenate([r[1] for r in results])
    c = None if c0 is None else np.concatenate([r[2] for r in results])
    return y, h, c, _SplitCache(parts, [r[3] for r in results], seq_len)


def _run_backward(mode, cache, gy, ghn, gcn, need_x):
    """``_KERNELS[mode][1]`` for a cache from ``_run_forward``."""
    kernel = _KERNELS[mode][1]
    if not isinstance(cache, _SplitCache):
        return kernel(cache, gy, ghn, gcn, need_x)
    seq_len = cache.seq_len

    def run(item):
        part, sub = item
        return kernel(sub, _rows(gy, seq_len, part), ghn[part],
                      None if gcn is None else gcn[part], need_x)

    results = parallel_map(run, list(zip(cache.parts, cache.caches)))
    dx = None
    if need_x:
        width = results[0][0].shape[1]
        dx = np.empty((gy.shape[0], width), gy.dtype)
        dx3 = dx.reshape(seq_len, -1, width)
        for part, r in zip(cache.parts, results):
            dx3[:, part] = r[0].reshape(seq_len, -1, width)
    dh = np.concatenate([r[1] for r in results])
    dc = None if results[0][2] is None else np.concatenate([r[2] for r in results])
    dw = results[0][3]
    for r in results[1:]:
        for total, extra in zip(dw, r[3]):
            total += extra
    return dx, dh, dc, dw


def _layer_weights(flat):
    """``(w_ih, w_hh, b_ih, b_hh, w_hr)`` from one layer-direction's weights in PyTorch's order."""
    if len(flat) == 2:
        return flat[0], flat[1], None, None, None
    if len(flat) == 3:
        return flat[0], flat[1], None, None, flat[2]
    return tuple(flat[:4]) + ((flat[4],) if len(flat) == 5 else (None,))


class FusedRNN(Node):
    """Every layer and direction of an RNN/LSTM/GRU over a padded or packed batch.

    ``forward(input, hx, cx, config, *flat_weights)`` returns ``(output, h_n)``, plus ``c_n``
    for an LSTM; ``hx``/``cx`` may be None (zeros). Dropout masks between layers are drawn
    from the default generator and kept for backward.
    """

    def forward(self, x, hx, cx, cfg, *weights):
        xp = get_array_module(x)
        self.cfg = cfg
        self.x_shape = x.shape
        dirs = 2 if cfg.bidirectional else 1
        inputs = (x, hx, cx) + weights
        self.layer_weights = self.layer_weights_of(weights)
        if cfg.batch_sizes is None:
            x = x[:, None] if cfg.unbatched else x
            x = x.swapaxes(0, 1) if cfg.batch_first else x
            seq_len, batch = x.shape[:2]
            data = x.reshape(seq_len * batch, x.shape[2])
            forward_steps = [(t * batch, batch) for t in range(seq_len)]
            self.padded_shape = (seq_len, batch)
        else:
            sizes = [int(s) for s in cfg.batch_sizes]
            offsets = np.cumsum([0] + sizes[:-1]).tolist()
            forward_steps = list(zip(offsets, sizes))
            batch = sizes[0]
            data = x
        self.steps = (forward_steps, forward_steps[::-1])
        w_ih0, w_hh0 = self.layer_weights[0][:2]
        out_size = w_hh0.shape[1]
        hidden = w_ih0.shape[0] // _GATES[cfg.mode]
        h0 = self._initial(xp, hx, batch, out_size, data.dtype)
        c0 = self._initial(xp, cx, batch, hidden, data.dtype) if cfg.mode == "LSTM" else None
        self.caches, self.masks = [], []
        hn, cn = [], []
        layer_in = data
        for layer in range(cfg.num_layers):
            outs = []
            for d in range(dirs):
                idx = layer * dirs + d
                y, h, c, cache = _run_forward(cfg.mode, layer_in, h0[idx],
                                              None if c0 is None else c0[idx],
                                              self.layer_weights[idx], self.steps[d])
                self.caches.append(cache)
                outs.append(y)
                hn.append(h)
                cn.append(c)
            layer_in = outs[0] if dirs == 1 else xp.concatenate(outs, axis=1)
            if cfg.dropout > 0 and cfg.training and layer < cfg.num_layers - 1:
                keep = dropout_keep(layer_in.shape, cfg.dropout)
                mask = xp.asarray(dropout_scale(keep, cfg.dropout, layer_in.dtype))
                self.masks.append(mask)
                layer_in = layer_in * mask
        out = layer_in
        if cfg.batch_sizes is None:
            out = out.reshape(self.padded_shape + (out.shape[1],))
            out = out.swapaxes(0, 1) if cfg.batch_first else out
            out = out[:, 0] if cfg.unbatched else out
        # the output shares memory with the saved states: an in-place change must be caught
        self.save_for_backward(*inputs, out)
        results = (out, self._final(xp.stack(hn)))
        if c0 is not None:
            results += (self._final(xp.stack(cn)),)
        return results

    def layer_weights_of(self, weights):
        """The flat weights grouped per layer and direction as ``_layer_weights`` tuples."""
        per = len(weights) // (self.cfg.num_layers * (2 if self.cfg.bidirectional else 1))
        return [_layer_weights(weights[k:k + per]) for k in range(0, len(weights), per)]

    def _release(self):
        super()._release()
        self.caches = None

    def _initial(self, xp, state, batch, size, dtype):
        cfg = self.cfg
        layers = cfg.num_layers * (2 if cfg.bidirectional else 1)
        if state is None:
            return xp.zeros((layers, batch, size), dtype)
        state = state[:, None] if cfg.unbatched else state
        if cfg.sorted_indices is not None:
            state = state[:, cfg.sorted_indices]
        return state

    def _final(self, state):
        cfg = self.cfg
        if cfg.unsorted_indices is not None:
            state = state[:, cfg.unsorted_indices]
        return state[:, 0] if cfg.unbatched else state

    def _state_grad(self, g):
        cfg = self.cfg
        g = g[:, None] if cfg.unbatched else g
        return g[:, cfg.sorted_indices] if cfg.sorted_indices is not None else g

    def _initial_grad(self, xp, grads):
        cfg = self.cfg
        g = xp.stack(grads)
        if cfg.unsorted_indices is not None:
            g = g[:, cfg.unsorted_indices]
        return g[:, 0] if cfg.unbatched else g

    def backward(self, g_out, g_hn, g_cn=None):
        saved = self.saved_tensors[:-1]
        if isinstance(g_out, Tensor):
            grads = double_backward(rnn_composite(self), saved, (g_out, g_hn, g_cn))
            return grads[:3] + (None,) + grads[3:]
        cfg = self.cfg
        xp = get_array_module(g_out)
        dirs = 2 if cfg.bidirectional else 1
        if cfg.batch_sizes is None:
            g_out = g_out[:, None] if cfg.unbatched else g_out
            g_out = g_out.swapaxes(0, 1) if cfg.batch_first else g_out
            g_out = g_out.reshape(-1, g_out.shape[2])
        g_hn = self._state_grad(g_hn)
        g_cn = None if g_cn is None else self._state_grad(g_cn)
        dh0, dc0 = [None] * len(self.caches), [None] * len(self.caches)
        dweights = [None] * len(self.caches)
        g_layer = g_out
        need_x = self.next_edges[0] is not None
        for layer in range(cfg.num_layers - 1, -1, -1):
            if layer < len(self.masks):
                g_layer = g_layer * self.masks[layer]
            g_in = None
            for d in range(dirs):
                idx = layer * dirs + d
                width = g_layer.shape[1] // dirs
                gy = g_layer[:, d * width:(d + 1) * width] if dirs > 1 else g_layer
                dx, dh, dc, dw = _run_backward(cfg.mode, self.caches[idx], gy, g_hn[idx],
                                                 None if g_cn is None else g_cn[idx],
                                                 need_x or layer > 0)
                g_in = dx if g_in is None else g_in + dx
                dh0[idx], dc0[idx], dweights[idx] = dh, dc, dw
            g_layer = g_in
        dx = None
        if need_x:
            dx = g_layer
            if cfg.batch_sizes is None:
                dx = dx.reshape(self.padded_shape + (dx.shape[1],))
                dx = dx.swapaxes(0, 1) if cfg.batch_first else dx
                dx = dx.reshape(self.x_shape)
        dhx = self._initial_grad(xp, dh0) if self.next_edges[1] is not None else None
        dcx = None
        if g_cn is not None and self.next_edges[2] is not None:
            dcx = self._initial_grad(xp, dc0)
        flat = [g for dw in dweights for g in dw]
        return (dx, dhx, dcx, None) + tuple(flat)


class FusedCell(Node):
    """One step of an RNN/LSTM/GRU cell: ``forward(input, hx, cx, mode, w_ih, w_hh, b_ih, b_hh)``
    returns ``h'`` (and ``c'`` for an LSTM); ``input`` may be unbatched (1-D), ``hx``/``cx``
    None (zeros)."""

    def forward(self, x, hx, cx, mode, w_ih, w_hh, b_ih, b_hh):
        self.save_for_backward(x, hx, cx, w_ih, w_hh, b_ih, b_hh)
        self.unbatched = x.ndim == 1
        if self.unbatched:
            x = x[None]
            hx = None if hx is None else hx[None]
            cx = None if cx is None else cx[None]
        xp = get_array_module(x)
        if hx is None:
            hx = xp.zeros((x.shape[0], w_hh.shape[1]), x.dtype)
        if cx is None and mode == "LSTM":
            cx = xp.zeros_like(hx)
        self.mode = mode
        self.has_bias = b_ih is not None
        steps = [(0, x.shape[0])]
        _, h, c, self.cache = _KERNELS[mode][0](x, hx, cx, (w_ih, w_hh, b_ih, b_hh, None), steps)
        if self.unbatched:
            h = h[0]
            c = None if c is None else c[0]
        return h if c is None else (h, c)

    def _release(self):
        super()._release()
        self.cache = None

    def backward(self, g_h, g_c=None):
        saved = self.saved_tensors
        if isinstance(g_h, Tensor):
            inputs = saved[:3] + (self.mode,) + saved[3:]
            return double_backward(cell_composite(self), inputs, (g_h, g_c))
        xp = get_array_module(g_h)
        if self.unbatched:
            g_h = g_h[None]
            g_c = None if g_c is None else g_c[None]
        dx, dh, dc, dw = _KERNELS[self.mode][1](self.cache, xp.zeros_like(g_h), g_h, g_c,
                                                self.next_edges[0] is not None)
        if self.unbatched:
            dx = None if dx is None else dx[0]
            dh = dh[0]
            dc = None if dc is None else dc[0]
        dh = dh if self.next_edges[1] is not None else None
        dc = dc if self.next_edges[2] is not None else None
        if not self.has_bias:
            dw += [None, None]
        return (dx, dh, dc, None) + tuple(dw)
