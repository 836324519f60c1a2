"""disttorch.library.custom_op against torch.library.custom_op: the same op defined in both."""
import itertools

import numpy as np
import pytest

import disttorch
from disttorch import library

torch = pytest.importorskip("torch", reason="torch is not installed")

_count = itertools.count()


def _define(lib, body, mutates_args=(), name=None, **kw):
    """Define ``body`` as a custom op in ``lib`` (torch or disttorch) under a fresh name."""
    name = name or f"dtlibtest::op{next(_count)}"
    return lib.library.custom_op(name, mutates_args=mutates_args, **kw)(body(lib)), name


def _scaled_mul(lib):
    Tensor = lib.Tensor

    def scaled_mul(x: Tensor, y: Tensor, alpha: float = 2.0) -> tuple[Tensor, Tensor]:
        return x * y * alpha, x + y
    return scaled_mul


def _autograd(op):
    def setup_context(ctx, inputs, output):
        x, y, alpha = inputs
        ctx.save_for_backward(x, y)
        ctx.alpha = alpha

    def backward(ctx, g_prod, g_sum):
        x, y = ctx.saved_tensors
        return g_prod * y * ctx.alpha + g_sum, g_prod * x * ctx.alpha + g_sum, None
    op.register_autograd(backward, setup_context=setup_context)


def test_forward_and_gradients_match_torch():
    xs = np.array([1.0, -2.0, 0.5]), np.array([3.0, 4.0, -1.5])
    grads = []
    for lib in (torch, disttorch):
        op, name = _define(lib, _scaled_mul)
        x, y = (lib.tensor(a, requires_grad=True) for a in xs)
        with pytest.raises(RuntimeError, match="no autograd formula was registered"):
            sum(o.sum() for o in op(x, y)).backward()
        _autograd(op)
        prod, total = op(x, y, alpha=3.0)
        ((prod * lib.tensor([1.0, 2.0, 3.0])).sum() + total.sum()).backward()
        grads.append((prod.detach().numpy(), total.detach().numpy(), x.grad.numpy(),
                      y.grad.numpy()))
        # without grad-requiring inputs no graph is recorded
        out = op(x.detach(), y.detach())
        assert out[0].grad_fn is None and not out[0].requires_grad
    for ours, theirs in zip(grads[1], grads[0]):
        np.testing.assert_allclose(ours, theirs)


def test_grad_fn_name_and_ops_namespace():
    names = []
    for lib in (torch, disttorch):
        op, name = _define(lib, _scaled_mul, name="dtlibns::smul")
        _autograd(op)
        ns = lib.ops.dtlibns
        packet = ns.smul
        assert str(packet) == "dtlibns.smul" and str(packet.default) == "dtlibns.smul.default"
        assert repr(packet) == "<OpOverloadPacket(op='dtlibns.smul')>"
        assert repr(packet.default) == "<OpOverload(op='dtlibns.smul', overload='default')>"
        assert packet.overloads() == ["default"]
        x = lib.ones(2, requires_grad=True)
        out = packet(x, x)[0]
        assert type(out.grad_fn).__name__.startswith("GeneratedBackwardFor_dtlibns_smul_default")
        np.testing.assert_allclose(packet.default(x, lib.ones(2))[0].detach().numpy(), [2, 2])
        with pytest.raises(AttributeError, match="has no attribute 'missing'"):
            ns.missing
        names.append(repr(op))
    assert names[0] == names[1] == "<CustomOpDef(dtlibns::smul)>"
    with pytest.raises(AttributeError):
        disttorch.ops.no_such_namespace_here


def test_kernel_dispatch_per_device():
    from disttorch.cuda import _simulated
    Tensor = disttorch.Tensor

    @library.custom_op("dtlibtest::tagged", mutates_args=())
    def tagged(x: Tensor) -> Tensor:
        return x + 1

    @tagged.register_kernel("cuda")
    def _(x):
        return x + 100

    with _simulated.simulate():
        on_gpu = tagged(disttorch.zeros(2, device="cuda"))
        on_cpu = tagged(disttorch.zeros(2))
        assert on_gpu.device.type == "cuda"
        np.testing.assert_allclose(on_gpu.cpu().numpy(), [100, 100])
        np.testing.assert_allclose(on_cpu.numpy(), [1, 1])

    # an op declared for cuda only refuses CPU inputs until a CPU kernel is registered
    for lib in (torch, disttorch):
        op, name = _define(lib, lambda lib: _unary(lib, 1.0), device_types="cuda")
        with pytest.raises(NotImplementedError, match=f"Could not run '{name}' with arguments "
                                                      "from the 'CPU' backend"):
            op(lib.zeros(2))
        op.register_kernel("cpu")(lambda x: x + 2)
        np.testing.assert_allclose(op(lib.zeros(2)).numpy(), [2, 2])
        with pytest.raises(RuntimeError, match="device type at start of device string: tpu"):
            op.register_kernel("tpu")(lambda x: x)


def _unary(lib, shift):
    Tensor = lib.Tensor

    def unary(x: Tensor) -> Tensor:
        return x + shift
    return unary


def test_name_and_signature_errors_match_torch():
    for lib in (torch, disttorch):
        with pytest.raises(ValueError, match=r"not enough values to unpack \(expected 2, got 1\)"):
            lib.library.custom_op("noname", mutates_args=())(_unary(lib, 1))
        with pytest.raises(ValueError, match=r"too many values to unpack \(expected 2\)"):
            lib.library.custom_op("a::b::c", mutates_args=())(_unary(lib, 1))
        for bad in ("my lib::f", "::f", "dtlibtest::f-g"):
            with pytest.raises(RuntimeError):
                lib.library.custom_op(bad, mutates_args=())(_unary(lib, 1))
        with pytest.raises(TypeError, match="missing 1 required keyword-only argument: "
                                            "'mutates_args'"):
            lib.library.custom_op("dtlibtest::nomut")(_unary(lib, 1))
        with pytest.raises(ValueError, match="Parameter x must have a type annotation"):
            lib.library.custom_op("dtlibtest::noann", mutates_args=())(lambda x: x)

        def noret(x: lib.Tensor):
            return x.clone()
        with pytest.raises(ValueError, match="No return type annotation was provided"):
            lib.library.custom_op("dtlibtest::noret", mutates_args=())(noret)

        def mut(x: lib.Tensor) -> None:
            x.add_(1)
        with pytest.raises(ValueError, match=r"\{'y'\} in mutates_args were not found in the "
                                             "custom op's signature"):
            lib.library.custom_op("dtlibtest::mutbad", mutates_args=("y",))(mut)


def test_mutation_and_aliasing_match_torch():
    for lib in (torch, disttorch):
        def mut(x: lib.Tensor) -> None:
            x.add_(1)
        op = lib.library.custom_op(f"dtlibtest::mut{next(_count)}", mutates_args={"x"})(mut)
        t = lib.zeros(2)
        assert op(t) is None
        np.testing.assert_allclose(t.numpy(), [1, 1])
        with pytest.raises(RuntimeError, match="Cannot register autograd formula for "
                                               "non-functional operator"):
            op.register_autograd(lambda ctx, g: g)

        def ident(x: lib.Tensor) -> lib.Tensor:
            return x
        op = lib.library.custom_op(f"dtlibtest::alias{next(_count)}", mutates_args=())(ident)
        with pytest.raises(RuntimeError, match="must not also be an input to this custom "
                                               "operator"):
            op(lib.zeros(2))

        def view(x: lib.Tensor) -> lib.Tensor:
            return x[:1]
        op = lib.library.custom_op(f"dtlibtest::view{next(_count)}", mutates_args=())(view)
        with pytest.raises(RuntimeError, match="may not alias any inputs"):
            op(lib.zeros(2))


def test_register_fake_is_stored_and_function_forms():
    op = library.custom_op("dtlibtest::withfake", mutates_args=())(_unary(disttorch, 3.0))
    fake = op.register_fake(lambda x: disttorch.empty_like(x))
    assert op._abstract_fn is fake
    library.register_autograd("dtlibtest::withfake", lambda ctx, g: g * 2)
    x = disttorch.ones(3, requires_grad=True)
    op(x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2, 2, 2])
    library.register_kernel(op, "cpu", lambda x: x * 0 + 9)
    np.testing.assert_allclose(op(disttorch.ones(1)).numpy(), [9])
    with pytest.raises(ValueError, match="not a custom op"):
        library.register_fake("dtlibtest::never_defined", lambda x: x)


def test_opcheck():
    op, _ = _define(disttorch, _scaled_mul)
    _autograd(op)
    x = disttorch.randn(4, dtype=disttorch.float64, requires_grad=True)
    y = disttorch.randn(4, dtype=disttorch.float64, requires_grad=True)
    result = library.opcheck(op, (x, y), {"alpha": 1.5})
    assert result["test_schema"] == "SUCCESS"
    assert result["test_autograd_registration"] == "SUCCESS"
    assert result["test_faketensor"].startswith("SKIPPED")

    # a wrong formula fails gradcheck
    op.register_autograd(lambda ctx, gp, gs: (gp, gs, None))
    with pytest.raises(RuntimeError, match="test_autograd_registration failed"):
        library.opcheck(op, (x, y))
    failed = library.opcheck(op, (x, y), raise_exception=False)
    assert failed["test_schema"] == "SUCCESS"
    assert isinstance(failed["test_autograd_registration"], Exception)

    # inputs requiring grad without a formula
    plain, _ = _define(disttorch, _scaled_mul)
    with pytest.raises(RuntimeError, match="no autograd formula is registered"):
        library.opcheck(plain, (x, y), test_utils="test_autograd_registration")

    # an undeclared in-place update
    def sneaky(x: disttorch.Tensor) -> disttorch.Tensor:
        x.add_(1)
        return x + 1
    op = library.custom_op("dtlibtest::sneaky", mutates_args=())(sneaky)
    with pytest.raises(RuntimeError, match="argument 'x' is mutated in place but is not in "
                                           "mutates_args"):
        library.opcheck(op, (disttorch.zeros(2),))

    # a CPU kernel that disagrees with the function given to custom_op
    op = library.custom_op("dtlibtest::twofaced", mutates_args=())(_unary(disttorch, 1.0))
    op.register_kernel("cpu")(lambda x: x + 2)
    with pytest.raises(RuntimeError, match="disagree"):
        library.opcheck(op, (disttorch.zeros(2),), test_utils=("test_schema",))
    with pytest.raises(ValueError, match="test_utils must be a subset"):
        library.opcheck(op, (disttorch.zeros(2),), test_utils=("bogus",))
