"""``F.linear_cross_entropy``, ``nn.LinearCrossEntropyLoss`` and ``LinearCrossEntropyOptions``
against PyTorch 2.13 (reference and chunked paths), and the chunked path's memory."""
import tracemalloc
import warnings

import numpy as np
import pytest

import disttorch
from disttorch.autograd import gradcheck
from disttorch.cuda import _simulated

torch = pytest.importorskip("torch", reason="torch (the oracle) is not installed")

F = disttorch.nn.functional
N, IN, C = 13, 6, 20


def _data(seed=0, n=N, classes=C, out=()):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((n, IN)), rng.standard_normal((classes, *out, IN)),
            rng.standard_normal((classes, *out)), rng.random(classes))


def _run(lib, x, w, b, target, options=None, upstream=None, class_weight=None, **kw):
    """Loss and gradients (input, weight, bias) of ``lib``'s linear_cross_entropy."""
    X, W = lib.tensor(x, requires_grad=True), lib.tensor(w, requires_grad=True)
    B = None if b is None else lib.tensor(b, requires_grad=True)
    cw = None if class_weight is None else lib.tensor(class_weight)
    loss = lib.nn.functional.linear_cross_entropy(X, W, lib.tensor(target), linear_bias=B,
                                                  weight=cw, options=options, **kw)
    (loss * lib.tensor(upstream) if upstream is not None else loss).sum().backward()
    return [a.detach().numpy() for a in (loss, X.grad, W.grad)] + \
        ([] if B is None else [B.grad.numpy()])


def _close(got, expected, rtol=1e-10, atol=1e-12):
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert g.shape == e.shape
        np.testing.assert_allclose(g, e, rtol=rtol, atol=atol)


def _options(lib, **kw):
    return lib.nn.LinearCrossEntropyOptions(**kw)


# ------------------------------------------------------------------------ reference path
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("extra", [{}, {"label_smoothing": 0.2}, {"class_weight": True},
                                   {"ignore_index": 3}])
def test_reference_path_matches_torch(reduction, extra):
    x, w, b, cw = _data()
    target = np.random.default_rng(1).integers(0, C, N)
    target[2] = -100  # the default ignore_index (None maps to -100)
    if "ignore_index" in extra:
        target[2] = 3
    kw = dict(extra, reduction=reduction)
    if kw.pop("class_weight", False):
        kw["class_weight"] = cw
    upstream = np.random.default_rng(2).standard_normal(N) if reduction == "none" else None
    _close(_run(disttorch, x, w, b, target, upstream=upstream, **kw),
           _run(torch, x, w, b, target, upstream=upstream, **kw))


def test_reference_path_k_dimensional_probabilities_and_unbatched():
    x, w, b, cw = _data(out=(2, 3), classes=5)
    idx = np.random.default_rng(3).integers(0, 5, (N, 2, 3))
    _close(_run(disttorch, x, w, b, idx), _run(torch, x, w, b, idx))
    probs = np.random.default_rng(4).random((N, 5, 2, 3))
    probs /= probs.sum(1, keepdims=True)
    _close(_run(disttorch, x, w, b, probs, label_smoothing=0.1, class_weight=cw[:5]),
           _run(torch, x, w, b, probs, label_smoothing=0.1, class_weight=cw[:5]))
    x1, w1, b1, _ = _data()
    _close(_run(disttorch, x1[0], w1, b1, np.array(4)), _run(torch, x1[0], w1, b1, np.array(4)))
    p1 = probs[0, :, 0, 0]
    _close(_run(disttorch, x1[0], w1[:5], b1[:5], p1), _run(torch, x1[0], w1[:5], b1[:5], p1))


# -------------------------------------------------------------------------- chunked path
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("chunk", [1, 4, N, None])
@pytest.mark.parametrize("weighted", [False, True])
def test_chunked_path_matches_torch(reduction, chunk, weighted):
    x, w, b, cw = _data()
    target = np.random.default_rng(1).integers(0, C, N)
    target[[2, 7]] = (-100, 5) if not weighted else (9, 9)
    kw = dict(reduction=reduction, class_weight=cw if weighted else None,
              ignore_index=9 if weighted else None)
    upstream = np.random.default_rng(2).standard_normal(N) if reduction == "none" else None
    got = _run(disttorch, x, w, b, target, _options(disttorch, batch_chunk_size=chunk),
               upstream, **kw)
    expected = _run(torch, x, w, b, target, _options(torch, batch_chunk_size=chunk), upstream,
                    **kw)
    _close(got, expected)
    # and the reference path gives the same numbers
    _close(got, _run(disttorch, x, w, b, target, None, upstream, **kw))


def test_chunked_default_options_unbatched_and_no_bias():
    x, w, _, _ = _data()
    target = np.random.default_rng(1).integers(0, C, N)
    _close(_run(disttorch, x, w, None, target, _options(disttorch)),
           _run(torch, x, w, None, target, _options(torch)))
    _close(_run(disttorch, x[0], w, None, target[0], _options(disttorch)),
           _run(torch, x[0], w, None, target[0], _options(torch)))


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_chunked_low_precision_accumulates_in_float32(dtype):
    x, w, b, _ = _data()
    target = np.random.default_rng(1).integers(0, C, N)

    def run(lib):
        d = getattr(lib, dtype)
        X = lib.tensor(x).to(d).requires_grad_()
        W = lib.tensor(w).to(d).requires_grad_()
        loss = lib.nn.functional.linear_cross_entropy(X, W, lib.tensor(target),
                                                      options=_options(lib, batch_chunk_size=4))
        loss.backward()
        assert loss.dtype == d and X.grad.dtype == d and W.grad.dtype == d
        return [a.detach().float().numpy() for a in (loss, X.grad, W.grad)]

    _close(run(disttorch), run(torch), rtol=2e-2, atol=2e-2)


def test_chunked_gradcheck_float64():
    x, w, b, cw = _data(n=5, classes=7)
    target = disttorch.tensor([0, 6, 3, 3, -100])
    for reduction, chunk in (("mean", 2), ("sum", 3), ("none", 2)):
        opts = disttorch.nn.LinearCrossEntropyOptions(batch_chunk_size=chunk,
                                                      allow_retain_graph=True)

        def fn(a, m, c):
            return F.linear_cross_entropy(a, m, target, linear_bias=c, reduction=reduction,
                                          weight=disttorch.tensor(cw), options=opts)

        inputs = [disttorch.tensor(a, requires_grad=True) for a in (x, w, b)]
        assert gradcheck(fn, inputs)


def test_chunked_second_backward_and_no_grad():
    x, w, b, _ = _data()
    target = disttorch.tensor(np.random.default_rng(1).integers(0, C, N))
    X = disttorch.tensor(x, requires_grad=True)
    loss = F.linear_cross_entropy(X, disttorch.tensor(w), target,
                                  options=disttorch.nn.LinearCrossEntropyOptions())
    loss.backward(retain_graph=True)
    with pytest.raises(RuntimeError, match="linear_cross_entropy chunked backward called twice; "
                                           "retain_graph=True / double backward are not"):
        loss.backward()
    first = X.grad.clone()
    X.grad = None
    opts = disttorch.nn.LinearCrossEntropyOptions(allow_retain_graph=True)
    loss = F.linear_cross_entropy(X, disttorch.tensor(w), target, options=opts)
    loss.backward(retain_graph=True)
    loss.backward()
    np.testing.assert_allclose(X.grad.numpy(), 2 * first.numpy(), rtol=1e-12)
    with pytest.raises(RuntimeError, match="does not support higher-order gradients"):
        disttorch.autograd.grad(F.linear_cross_entropy(X, disttorch.tensor(w), target,
                                                       options=opts), X, create_graph=True)
    with disttorch.no_grad():
        assert F.linear_cross_entropy(X, disttorch.tensor(w), target,
                                      options=opts).grad_fn is None


@pytest.mark.parametrize("case", ["label_smoothing", "k_dimensional", "probabilities",
                                  "int32_target"])
def test_unsupported_configurations_fall_back_with_torch_warning(case):
    x, w, b, _ = _data(out=(2,) if case == "k_dimensional" else (), classes=5)
    target = {"label_smoothing": np.arange(N) % 5, "k_dimensional": np.ones((N, 2), np.int64),
              "probabilities": np.full((N, 5), 0.2), "int32_target":
              (np.arange(N) % 5).astype(np.int32)}[case]
    kw = {"label_smoothing": 0.1} if case == "label_smoothing" else {}
    results, messages = [], []
    for lib in (torch, disttorch):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                results.append(_run(lib, x, w, b, target, _options(lib), **kw))
            except RuntimeError as exc:   # int32 targets: cross_entropy refuses them
                results.append(str(exc))
        messages.append([str(c.message) for c in caught if "options" in str(c.message)])
    assert len(messages[0]) == 1
    assert messages[1] == [m.replace("torch.", "disttorch.") for m in messages[0]]
    if isinstance(results[0], str):
        assert results[1] == results[0]
    else:
        _close(results[1], results[0])


def _error(lib, call):
    try:
        call(lib)
    except Exception as exc:   # noqa: BLE001 - the type is compared below
        message = str(exc)
        return type(exc).__name__, message if lib is disttorch else \
            message.replace("torch.", "disttorch.")
    return None


@pytest.mark.parametrize("case", [
    "input_3d", "weight_1d", "in_features", "bias_shape", "k_dim_unbatched",
    "ignore_index_with_probabilities", "target_out_of_range", "negative_target", "dtype_mismatch",
    "acc_dtype", "chunk_conflict", "bad_chunk", "bad_policy", "bad_method", "bad_acc_dtype",
    "bad_reduction"])
def test_errors_match_torch(case):
    x, w, b, _ = _data()
    t = np.arange(N) % C

    def call(lib):
        O = lib.nn.LinearCrossEntropyOptions
        lce = lib.nn.functional.linear_cross_entropy
        X, W, T = lib.tensor(x), lib.tensor(w), lib.tensor(t)
        bad_t = T.clone()
        bad_t[4] = C if case == "target_out_of_range" else -3
        {"input_3d": lambda: lce(X[None], W, T),
         "weight_1d": lambda: lce(X, W[0], T),
         "in_features": lambda: lce(X, W[:, :3], T),
         "bias_shape": lambda: lce(X, W, T, linear_bias=lib.zeros(3)),
         "k_dim_unbatched": lambda: lce(X[0], W.reshape(10, 2, IN), T[:2]),
         "ignore_index_with_probabilities": lambda: lce(X, W, lib.zeros(N, C), ignore_index=1),
         "target_out_of_range": lambda: lce(X, W, bad_t, options=O()),
         "negative_target": lambda: lce(X, W, bad_t, options=O()),
         "dtype_mismatch": lambda: lce(X.float(), W, T, options=O()),
         "acc_dtype": lambda: lce(X.float(), W.float(), T, options=O(acc_dtype=lib.float64)),
         "chunk_conflict": lambda: lce(X, W, T, options=O(batch_chunk_size=3,
                                                         chunking_method="aspect_ratio")),
         "bad_chunk": lambda: O(batch_chunk_size=0),
         "bad_policy": lambda: O(acc_policy="fast"),
         "bad_method": lambda: O(chunking_method="aspect_ratio:0"),
         "bad_acc_dtype": lambda: O(acc_dtype=lib.int32),
         "bad_reduction": lambda: lce(X, W, T, reduction="bogus")}[case]()

    expected = _error(torch, call)
    assert expected is not None
    assert _error(disttorch, call) == expected


def test_options_resolution_matches_torch():
    for dtype in ("float32", "float16", "float64"):
        for num_batches, classes in ((100, 1000), (7, 10), (4096, 50000)):
            for kw in ({}, {"batch_chunk_size": 3}, {"chunking_method": "aspect_ratio:4"},
                       {"acc_policy": "balanced"}):
                got = disttorch.nn.LinearCrossEntropyOptions(**kw)._adjust(
                    num_batches, 8, classes, getattr(disttorch, dtype), disttorch.device("cpu"))
                expected = torch.nn.LinearCrossEntropyOptions(**kw)._adjust(
                    num_batches, 8, classes, getattr(torch, dtype), torch.device("cpu"))
                assert repr(got).replace("disttorch.", "torch.") == repr(expected)


# ------------------------------------------------------------------------------- module
@pytest.mark.parametrize("out_features,bias,chunked", [((), True, True), ((2, 3), True, False),
                                                       ((), False, False)])
def test_module_matches_torch(out_features, bias, chunked):
    torch.manual_seed(0)
    kw = dict(out_features=out_features, bias=bias, ignore_index=None, reduction="sum")
    ref = torch.nn.LinearCrossEntropyLoss(IN, 5, **kw,
                                          options=_options(torch) if chunked else None).double()
    mine = disttorch.nn.LinearCrossEntropyLoss(
        IN, 5, **kw, options=_options(disttorch) if chunked else None).double()
    mine.load_state_dict({k: disttorch.tensor(v.numpy()) for k, v in ref.state_dict().items()})
    assert repr(mine).replace("disttorch.", "torch.") == repr(ref)
    x = np.random.default_rng(5).standard_normal((N, IN))
    t = np.random.default_rng(6).integers(0, 5, (N, *out_features))
    xt, xd = torch.tensor(x, requires_grad=True), disttorch.tensor(x, requires_grad=True)
    lt, ld = ref(xt, torch.tensor(t)), mine(xd, disttorch.tensor(t))
    lt.backward()
    ld.backward()
    _close([ld.detach().numpy(), xd.grad.numpy()] + [p.grad.numpy() for p in mine.parameters()],
           [lt.detach().numpy(), xt.grad.numpy()] + [p.grad.numpy() for p in ref.parameters()])
    for bad in (dict(weight=disttorch.ones(3)), dict(label_smoothing=1.5)):
        with pytest.raises(RuntimeError) as got:
            disttorch.nn.LinearCrossEntropyLoss(IN, 5, **bad)
        torch_bad = {k: torch.ones(3) if k == "weight" else v for k, v in bad.items()}
        with pytest.raises(RuntimeError) as expected:
            torch.nn.LinearCrossEntropyLoss(IN, 5, **torch_bad)
        assert str(got.value) == str(expected.value)


# ------------------------------------------------------------------------------- memory
def _large(lib_array=None):
    rng = np.random.default_rng(7)
    n, features, classes = 256, 16, 8192
    return (rng.standard_normal((n, features), dtype=np.float32),
            rng.standard_normal((classes, features), dtype=np.float32) * 0.1,
            rng.integers(0, classes, n))


def _peak_bytes(x, w, t, options):
    X = disttorch.tensor(x, requires_grad=True)
    W = disttorch.tensor(w, requires_grad=True)
    T = disttorch.tensor(t)
    tracemalloc.start()
    try:
        F.linear_cross_entropy(X, W, T, options=options).backward()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_chunked_peak_memory_is_below_one_logits_array():
    # numpy reports its buffers to tracemalloc; the (N, C) float32 logits are 8 MiB here
    x, w, t = _large()
    logits_bytes = x.shape[0] * w.shape[0] * 4
    reference = _peak_bytes(x, w, t, None)
    chunked = _peak_bytes(x, w, t, disttorch.nn.LinearCrossEntropyOptions(batch_chunk_size=16))
    assert reference >= 2 * logits_bytes     # the logits and their softmax gradient
    assert chunked < logits_bytes / 2        # 16-row chunks: 0.5 MiB each, plus the gradients


def test_chunked_path_never_allocates_a_full_logits_array(monkeypatch):
    x, w, t = _large()
    n, classes = x.shape[0], w.shape[0]
    shapes = []
    original = _simulated.ndarray.__init__

    def recording(self, array, device=None):
        shapes.append(array.shape)
        original(self, array, device)

    with _simulated.simulate():
        X = disttorch.tensor(x, device="cuda", requires_grad=True)
        W = disttorch.tensor(w, device="cuda", requires_grad=True)
        T = disttorch.tensor(t, device="cuda")
        monkeypatch.setattr(_simulated.ndarray, "__init__", recording)
        for reduction in ("mean", "none"):
            loss = F.linear_cross_entropy(
                X, W, T, reduction=reduction,
                options=disttorch.nn.LinearCrossEntropyOptions(batch_chunk_size=32))
            loss.sum().backward()
        chunked_shapes = list(shapes)
        shapes.clear()
        F.linear_cross_entropy(X, W, T).backward()
        monkeypatch.undo()
    assert (32, classes) in chunked_shapes      # the chunk's logits
    assert not any(len(s) == 2 and s[0] > 32 and s[1] == classes for s in chunked_shapes)
    assert (n, classes) in shapes               # what the reference path builds
