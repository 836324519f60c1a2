"""Compatibility shims (compile, jit, backends flags, print options, testing) and typical
PyTorch snippets run unchanged under ``import disttorch as torch``, compared with torch."""
import textwrap
import warnings

import numpy as np
import pytest

import disttorch
from tests.ops.harness import requires_torch


def test_compile_returns_the_model_with_one_notice(recwarn):
    import disttorch._compat as compat
    compat._noticed.discard("compile")
    model = disttorch.nn.Linear(2, 2)
    assert disttorch.compile(model) is model
    assert disttorch.compile(model, mode="max-autotune", fullgraph=True) is model

    @disttorch.compile(dynamic=True)
    def double(x):
        return x * 2

    assert double(disttorch.ones(2)).tolist() == [2.0, 2.0]
    notices = [w for w in recwarn if "running eagerly" in str(w.message)]
    assert len(notices) == 1
    with pytest.raises(RuntimeError, match="Either mode or options"):
        disttorch.compile(model, mode="default", options={})


def test_jit_entry_points_are_identities():
    jit = disttorch.jit
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = disttorch.nn.Linear(2, 2)
        assert jit.script(model) is model
        assert jit.trace(model, disttorch.ones(1, 2)) is model
    assert jit.ignore(len) is len and jit.ignore(drop=True)(len) is len
    assert jit.unused(len) is len and jit.export(len) is len
    assert not jit.is_scripting() and not jit.is_tracing()
    assert jit.annotate(int, 3) == 3 and jit.Final[int] is int
    assert jit.freeze(model) is model and jit.optimize_for_inference(model) is model


def test_backend_flags_can_be_set_and_read():
    import disttorch.backends.cudnn as cudnn
    cudnn.benchmark = True
    disttorch.backends.cudnn.deterministic = True
    disttorch.backends.cuda.matmul.allow_tf32 = True
    assert disttorch.backends.cudnn.benchmark and cudnn.deterministic
    assert disttorch.backends.cuda.matmul.allow_tf32
    assert disttorch.backends.mps.is_available() is False
    assert disttorch.backends.cudnn.is_available() == disttorch.cuda.is_available()
    assert disttorch.backends.cudnn.version() is None
    disttorch.backends.mkldnn.enabled = False
    assert disttorch.backends.opt_einsum.enabled
    with disttorch.backends.cuda.sdp_kernel(enable_flash=False):
        assert not disttorch.backends.cuda.flash_sdp_enabled()
    assert disttorch.backends.cuda.flash_sdp_enabled()
    cudnn.benchmark = False
    cudnn.deterministic = False
    disttorch.backends.cuda.matmul.allow_tf32 = False
    disttorch.backends.mkldnn.enabled = True


def test_global_numeric_switches():
    disttorch.set_float32_matmul_precision("high")
    assert disttorch.get_float32_matmul_precision() == "high"
    disttorch.set_float32_matmul_precision("highest")
    with pytest.raises(RuntimeError, match="Invalid float32 matmul precision"):
        disttorch.set_float32_matmul_precision("low")
    disttorch.use_deterministic_algorithms(True, warn_only=True)
    assert disttorch.are_deterministic_algorithms_enabled()
    assert disttorch.is_deterministic_algorithms_warn_only_enabled()
    disttorch.use_deterministic_algorithms(False)
    assert not disttorch.are_deterministic_algorithms_enabled()
    disttorch.set_deterministic_debug_mode("error")
    assert disttorch.get_deterministic_debug_mode() == 2
    assert not disttorch.is_deterministic_algorithms_warn_only_enabled()
    disttorch.set_deterministic_debug_mode(0)
    assert not disttorch.are_deterministic_algorithms_enabled()
    with pytest.raises(RuntimeError, match="invalid value of debug_mode"):
        disttorch.set_deterministic_debug_mode("loud")
    disttorch.set_warn_always(True)
    assert disttorch.is_warn_always_enabled()
    disttorch.set_warn_always(False)


def test_set_printoptions():
    x = disttorch.tensor([1e-6, 1.23456])
    try:
        disttorch.set_printoptions(precision=2, sci_mode=False)
        assert repr(x) == "tensor([0.00, 1.23])"
        disttorch.set_printoptions(profile="full")
        assert "..." not in repr(disttorch.zeros(2000))
        disttorch.set_printoptions(threshold=5, edgeitems=1)
        assert "..." in repr(disttorch.zeros(10))
    finally:
        disttorch.set_printoptions(profile="default")
    assert repr(x) == "tensor([1.0000e-06, 1.2346e+00])"
    with pytest.raises(ValueError, match="Unknown profile"):
        disttorch.set_printoptions(profile="long")


def test_assert_close_defaults_and_messages():
    assert_close = disttorch.testing.assert_close
    assert_close(disttorch.tensor([1.0, 2.0]), disttorch.tensor([1.0, 2.000001]))
    assert_close({"a": [disttorch.tensor(1)], "b": 2.0}, {"a": [disttorch.tensor(1)], "b": 2.0})
    assert_close(disttorch.tensor([float("nan")]), disttorch.tensor([float("nan")]), equal_nan=True)
    with pytest.raises(AssertionError, match=r"Mismatched elements: 1 / 3 \(33.3%\)"):
        assert_close(disttorch.tensor([1.0, 2.0, 3.0]), disttorch.tensor([1.0, 2.5, 3.0]))
    with pytest.raises(AssertionError, match="'dtype' do not match"):
        assert_close(disttorch.ones(2), disttorch.ones(2, dtype=disttorch.float64))
    assert_close(disttorch.ones(2), disttorch.ones(2, dtype=disttorch.float64), check_dtype=False)
    with pytest.raises(AssertionError, match="'shape' do not match"):
        assert_close(disttorch.ones(2), disttorch.ones(3))
    with pytest.raises(AssertionError, match="custom"):
        assert_close(disttorch.ones(1), disttorch.zeros(1), msg="custom")
    with pytest.raises(ValueError, match="Both 'rtol' and 'atol'"):
        assert_close(disttorch.ones(1), disttorch.ones(1), rtol=0.1)
    assert_close(disttorch.tensor([1.0]), disttorch.tensor([1.05]), rtol=0.1, atol=0.0)


def test_make_tensor():
    make = disttorch.testing.make_tensor
    t = make(3, 4, dtype=disttorch.float32, device="cpu", low=-1, high=1)
    assert t.shape == (3, 4) and t.dtype == disttorch.float32
    assert t.min().item() >= -1 and t.max().item() <= 1
    ints = make((50,), dtype=disttorch.int64, device="cpu", exclude_zero=True)
    assert (ints != 0).all().item()
    assert make(2, dtype=disttorch.bool, device="cpu").dtype == disttorch.bool
    assert make(2, dtype=disttorch.float64, device="cpu", requires_grad=True).requires_grad


SNIPPETS = {
    "train_mlp": """
        import numpy as np
        import torch
        import torch.nn as nn
        import torch.nn.functional as F
        torch.backends.cudnn.benchmark = True
        torch.set_float32_matmul_precision("high")
        rng = np.random.default_rng(0)
        X = torch.from_numpy(rng.standard_normal((64, 5)).astype(np.float32))
        y = torch.from_numpy(rng.integers(0, 3, 64))
        model = nn.Sequential(nn.Linear(5, 16), nn.GELU(), nn.Linear(16, 3))
        with torch.no_grad():
            for p in model.parameters():
                p.copy_(torch.from_numpy(rng.standard_normal(tuple(p.shape)).astype(np.float32) * 0.3))
        model = torch.compile(model)
        opt = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.01)
        losses = []
        for step in range(15):
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(X), y, label_smoothing=0.1)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            losses.append(loss.item())
        result = losses
    """,
    "special_functions_and_stats": """
        import torch
        x = torch.linspace(0.1, 4.0, 9, dtype=torch.float64)
        a = torch.tensor([[1.0, 2.0, 4.0], [0.5, 0.1, 3.0]], dtype=torch.float64)
        xx, yy = torch.meshgrid(torch.arange(3.0), torch.arange(2.0), indexing="xy")
        result = [torch.lgamma(x), torch.digamma(x), torch.special.erfinv(x / 5),
                  torch.special.i0e(x), torch.special.ndtri(x / 5), torch.sinc(x),
                  torch.logaddexp(x, x.flip(0)), torch.special.xlog1py(x, x),
                  torch.cov(a), torch.corrcoef(a), torch.diff(x, n=2), torch.trapezoid(x),
                  torch.histc(x, bins=4), torch.bincount(torch.tensor([0, 3, 3, 1])),
                  torch.cartesian_prod(torch.arange(2.0), torch.arange(3.0)),
                  torch.block_diag(a, torch.ones(1, 1, dtype=torch.float64)), xx + 10 * yy,
                  torch.cdist(a, a), torch.logcumsumexp(x, 0), torch.hann_window(8)]
    """,
    "jacobian_hessian": """
        import torch
        from torch.autograd.functional import jacobian, hessian, hvp
        def energy(q):
            return (q ** 2).sum() * 0.5 + torch.cos(q).prod()
        q = torch.tensor([0.3, -0.7, 1.1], dtype=torch.float64)
        J = jacobian(lambda t: torch.sin(t) * t.sum(), q)
        H = hessian(energy, q)
        _, Hv = hvp(energy, q, torch.ones(3, dtype=torch.float64))
        result = [J, H, Hv, torch.linalg.eigvalsh(H)]
    """,
    "checkpointed_block": """
        import numpy as np
        import torch
        import torch.nn as nn
        from torch.utils.checkpoint import checkpoint
        rng = np.random.default_rng(1)
        class Block(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc1, self.fc2 = nn.Linear(6, 12), nn.Linear(12, 6)
                self.norm = nn.LayerNorm(6)
            def forward(self, x):
                return x + self.fc2(torch.tanh(self.fc1(self.norm(x))))
        blocks = nn.ModuleList([Block() for _ in range(3)])
        with torch.no_grad():
            for p in blocks.parameters():
                p.copy_(torch.from_numpy(rng.standard_normal(tuple(p.shape)).astype(np.float32) * 0.2))
        x = torch.from_numpy(rng.standard_normal((4, 6)).astype(np.float32)).requires_grad_()
        h = x
        for block in blocks:
            h = checkpoint(block, h, use_reentrant=False)
        h.pow(2).mean().backward()
        result = [h, x.grad] + [p.grad for p in blocks.parameters()]
    """,
    "beta_kl_with_gamma_functions": """
        import torch
        def kl_beta(a1, b1, a2, b2):
            lbeta = lambda a, b: torch.lgamma(a) + torch.lgamma(b) - torch.lgamma(a + b)
            return (lbeta(a2, b2) - lbeta(a1, b1) + (a1 - a2) * torch.digamma(a1)
                    + (b1 - b2) * torch.digamma(b1)
                    + (a2 - a1 + b2 - b1) * torch.digamma(a1 + b1))
        a = torch.tensor([0.5, 2.0, 7.0], dtype=torch.float64, requires_grad=True)
        b = torch.tensor([1.5, 0.3, 2.0], dtype=torch.float64, requires_grad=True)
        kl = kl_beta(a, b, torch.ones(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64))
        kl.sum().backward()
        result = [kl, a.grad, b.grad, torch.polygamma(2, a.detach())]
    """,
    "scripted_and_tested": """
        import torch
        def gelu_tanh(x):
            return 0.5 * x * (1 + torch.tanh(0.7978845608 * (x + 0.044715 * x ** 3)))
        x = torch.linspace(-3, 3, 7)
        scripted = torch.jit.script(torch.nn.GELU(approximate="tanh"))
        torch.testing.assert_close(gelu_tanh(x), scripted(x), rtol=1e-4, atol=1e-5)
        traced = torch.jit.trace(torch.nn.Identity(), x)
        result = [gelu_tanh(x), traced(x), torch.tril_indices(3, 3), torch.vander(x[:3], N=3)]
    """,
}


def _run_snippet(source, use_disttorch):
    code = textwrap.dedent(source)
    if use_disttorch:
        code = code.replace("import torch.nn.functional as F",
                            "import disttorch.nn.functional as F")
        code = code.replace("import torch.nn as nn", "import disttorch.nn as nn")
        code = code.replace("from torch.", "from disttorch.")
        code = code.replace("import torch\n", "import disttorch as torch\n")
    namespace = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exec(compile(code, "<snippet>", "exec"), namespace)
    return namespace["result"]


def _as_array(value):
    if hasattr(value, "detach"):
        return value.detach().numpy()
    return np.asarray(value)


@requires_torch
@pytest.mark.parametrize("name", sorted(SNIPPETS))
def test_snippet_gives_torchs_numbers(name):
    expected = _run_snippet(SNIPPETS[name], use_disttorch=False)
    actual = _run_snippet(SNIPPETS[name], use_disttorch=True)
    assert len(actual) == len(expected)
    for k, (a, e) in enumerate(zip(actual, expected)):
        a, e = _as_array(a), _as_array(e)
        assert a.shape == e.shape, f"{name}: result {k} has shape {a.shape}, torch {e.shape}"
        np.testing.assert_allclose(a.astype(np.float64), e.astype(np.float64), rtol=2e-4,
                                   atol=2e-5, err_msg=f"{name}: result {k}")


def test_top_level_grad_scaler_is_amps():
    assert disttorch.GradScaler is disttorch.amp.GradScaler


def test_legacy_tensor_types():
    torch_ = disttorch
    assert isinstance(torch_.ones(2), torch_.FloatTensor)
    assert not isinstance(torch_.ones(2), torch_.DoubleTensor)
    assert isinstance(torch_.arange(3), torch_.LongTensor)
    assert torch_.FloatTensor(2, 3).shape == (2, 3)
    assert torch_.FloatTensor([1, 2]).tolist() == [1.0, 2.0]
    assert torch_.LongTensor([1.7, 2.2]).tolist() == [1, 2]
    assert torch_.ByteTensor().numel() == 0
    with pytest.raises(TypeError, match=r"expected Float \(got Double\)"):
        torch_.FloatTensor(torch_.ones(2, dtype=torch_.float64))
    x = torch_.ones(2)
    assert x.type() == "torch.FloatTensor"
    assert x.type(torch_.DoubleTensor).dtype == torch_.float64
    assert x.type("torch.LongTensor").dtype == torch_.int64
    assert x.type(torch_.float16).dtype == torch_.float16
    try:
        torch_.set_default_tensor_type(torch_.DoubleTensor)
        assert torch_.tensor([1.0]).dtype == torch_.float64
        with pytest.raises(TypeError, match="only floating-point types"):
            torch_.set_default_tensor_type("torch.LongTensor")
        with pytest.raises(RuntimeError, match="cannot make CUDA tensors the default"):
            torch_.set_default_tensor_type("torch.cuda.FloatTensor")
    finally:
        torch_.set_default_tensor_type("torch.FloatTensor")
    assert torch_.tensor([1.0]).dtype == torch_.float32
