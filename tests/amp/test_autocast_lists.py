"""Autocast's op lists: the output dtype of each op under ``autocast``.

CPU: every op against torch's own CPU autocast (bfloat16). CUDA: on the (simulated) device,
against PyTorch's documented lists ("CUDA Ops that can autocast to float16 / to float32 /
promote to the widest input type"); where the installed torch allows it, the expectations of
the CUDA table are themselves checked against torch's AutocastCUDA kernels, run on fake CUDA
tensors (no GPU needed).
"""
import contextlib
import types

import numpy as np
import pytest

import disttorch
from disttorch.amp import autocast_mode

from tests.ops.harness import requires_bf16, requires_torch, torch

# ------------------------------------------------------------------ inputs
def _arrays():
    rng = np.random.default_rng(0)
    f = np.float32
    spd = rng.standard_normal((3, 3)).astype(f)
    spd = spd @ spd.T + 3 * np.eye(3, dtype=f)
    return {
        "x": rng.standard_normal((4, 3)).astype(f), "y": rng.standard_normal((4, 3)).astype(f),
        "v": rng.standard_normal(3).astype(f), "u": rng.standard_normal(4).astype(f),
        "w": rng.standard_normal((5, 3)).astype(f), "b": rng.standard_normal(5).astype(f),
        "p": rng.uniform(0.1, 0.9, (4, 3)).astype(f), "q": rng.uniform(0.1, 0.9, (4, 3)).astype(f),
        "img": rng.standard_normal((2, 3, 4, 4)).astype(f),
        "kernel": rng.standard_normal((4, 3, 3, 3)).astype(f),
        "grid": rng.uniform(-1, 1, (2, 3, 3, 2)).astype(f), "spd": spd,
        "sign": np.array([1, -1, 1, -1], f), "bw": rng.standard_normal((2, 3, 3)).astype(f),
        "cube": rng.standard_normal((2, 3, 3)).astype(f),
        "ones": np.ones((4, 3), f), "slope": np.array([0.2], f),
    }


_INT = {"cls": np.array([0, 2, 1, 2]), "idx": np.array([[0, 1, 2], [1, 0, 2], [3, 3, 0], [2, 1, 1]]),
        "rows": np.array([0, 2]), "multilabel": np.array([[0, 2, -1], [1, -1, 0], [2, 1, -1],
                                                           [0, -1, 2]])}


def _inputs(lib, device, low, make=None):
    """The arrays as ``lib`` tensors: float32 (``x``...) and low-precision (``h_x``...)."""
    make = make or (lambda a: (torch.from_numpy(a) if lib is torch else
                               disttorch.from_numpy(a).to(device)))
    ns = {}
    for name, a in _arrays().items():
        ns[name] = make(a)
        ns["h_" + name] = ns[name].to(low)
    for name, a in _INT.items():
        ns[name] = make(a.astype(np.int64))
    return types.SimpleNamespace(**ns)


def _dtype_name(t):
    return str(t.dtype).split(".")[-1]


# ------------------------------------------------------------------ CPU: against torch itself
def _F(lib):
    return lib.nn.functional


CPU_CASES = [
    # PyTorch's CPU lower_precision_fp list, and ops that torch computes with it
    ("mm", lambda L, t: L.mm(t.x, t.w.t())),
    ("matmul", lambda L, t: t.x @ t.w.t()),
    ("matmul_1d", lambda L, t: t.v @ t.v),
    ("matmul_2d1d", lambda L, t: t.x @ t.v),
    ("bmm", lambda L, t: L.bmm(t.x[None], t.w.t()[None])),
    ("addmm", lambda L, t: L.addmm(t.b, t.x, t.w.t())),
    ("baddbmm", lambda L, t: L.baddbmm(t.b[None, None], t.x[None], t.w.t()[None])),
    ("addbmm", lambda L, t: L.addbmm(t.b, t.x[None], t.w.t()[None])),
    ("linear", lambda L, t: _F(L).linear(t.x, t.w, t.b)),
    ("conv2d", lambda L, t: _F(L).conv2d(t.img, t.kernel[:, :3])),
    ("einsum_mm", lambda L, t: L.einsum("ij,kj->ik", t.x, t.w)),
    ("einsum_full_contraction", lambda L, t: L.einsum("ij,ij->", t.x, t.y)),
    ("einsum_three_operands", lambda L, t: L.einsum("ij,jk,kl->il", t.x, t.w.t(), t.w)),
    ("einsum_elementwise", lambda L, t: L.einsum("ij,ij->ij", t.x, t.y)),
    ("einsum_outer", lambda L, t: L.einsum("i,j->ij", t.v, t.u)),
    ("einsum_one_operand", lambda L, t: L.einsum("ij->j", t.x)),
    ("tensordot", lambda L, t: L.tensordot(t.x, t.w.t(), 1)),
    ("tensordot_dims0", lambda L, t: L.tensordot(t.v, t.u, 0)),
    ("inner", lambda L, t: L.inner(t.x, t.w)),
    ("chain_matmul", lambda L, t: L.chain_matmul(t.x, t.w.t(), t.w)),
    ("linalg.multi_dot", lambda L, t: L.linalg.multi_dot([t.x, t.w.t(), t.w])),
    ("linalg.vecdot", lambda L, t: L.linalg.vecdot(t.x, t.y)),
    ("prelu", lambda L, t: _F(L).prelu(t.x, t.slope)),
    ("scaled_dot_product_attention",
     lambda L, t: _F(L).scaled_dot_product_attention(t.x[None], t.y[None], t.y[None])),
    # not autocast on the CPU (float32 stays float32)
    ("mv", lambda L, t: L.mv(t.x, t.v)),
    ("dot", lambda L, t: L.dot(t.v, t.v)),
    ("vdot", lambda L, t: L.vdot(t.v, t.v)),
    ("addmv", lambda L, t: L.addmv(t.u, t.x, t.v)),
    ("addr", lambda L, t: L.addr(t.x, t.u, t.v)),
    ("outer", lambda L, t: L.outer(t.u, t.v)),
    ("kron", lambda L, t: L.kron(t.x, t.v)),
    ("cross", lambda L, t: L.cross(t.x, t.y, dim=1)),
    ("bilinear", lambda L, t: _F(L).bilinear(t.x, t.y, t.bw)),
    ("addcmul", lambda L, t: L.addcmul(t.x, t.x, t.y)),
    # low-precision inputs of ops PyTorch's CPU autocast leaves alone stay low
    ("exp_bf16", lambda L, t: L.exp(t.h_x)),
    ("sum_bf16", lambda L, t: t.h_x.sum()),
    ("cumsum_bf16", lambda L, t: L.cumsum(t.h_x, 0)),
    ("softmax_bf16", lambda L, t: L.softmax(t.h_x, -1)),
    ("log_softmax_bf16", lambda L, t: _F(L).log_softmax(t.h_x, -1)),
    ("cosine_similarity_bf16", lambda L, t: _F(L).cosine_similarity(t.h_x, t.h_y)),
    ("interpolate_bf16", lambda L, t: _F(L).interpolate(t.h_img, scale_factor=2)),
    ("layer_norm_bf16", lambda L, t: _F(L).layer_norm(t.h_x, (3,))),
    ("group_norm_bf16", lambda L, t: _F(L).group_norm(t.h_img, 3)),
    # PyTorch's CPU fp32 list: low-precision inputs are computed in float32
    ("prod_bf16", lambda L, t: L.prod(t.h_x)),
    ("linalg.cholesky_bf16", lambda L, t: L.linalg.cholesky(t.h_spd)),
    ("linalg.cholesky_upper_bf16", lambda L, t: L.linalg.cholesky(t.h_spd, upper=True)),
    ("linalg.inv_bf16", lambda L, t: L.linalg.inv(t.h_spd)),
    ("linalg.solve_bf16", lambda L, t: L.linalg.solve(t.h_spd, t.h_spd)),
    ("linalg.eigh_bf16", lambda L, t: L.linalg.eigh(t.h_spd)[0]),
    ("linalg.eigvalsh_bf16", lambda L, t: L.linalg.eigvalsh(t.h_spd)),
    ("linalg.svd_bf16", lambda L, t: L.linalg.svd(t.h_spd)[1]),
    ("linalg.svdvals_bf16", lambda L, t: L.linalg.svdvals(t.h_spd)),
    ("linalg.qr_bf16", lambda L, t: L.linalg.qr(t.h_spd)[1]),
    ("linalg.matrix_rank_bf16", lambda L, t: L.linalg.matrix_rank(t.h_spd)),
    ("grid_sample_bf16", lambda L, t: _F(L).grid_sample(t.h_img, t.grid, align_corners=False)),
    ("pad_reflect_bf16", lambda L, t: _F(L).pad(t.h_img, (1, 1, 1, 1), mode="reflect")),
    ("pad_replicate_bf16", lambda L, t: _F(L).pad(t.h_x[None], (1, 1), mode="replicate")),
    ("pad_replicate3d_bf16", lambda L, t: _F(L).pad(t.h_img[None], (1,) * 6, mode="replicate")),
    ("pad_circular_bf16", lambda L, t: _F(L).pad(t.h_x[None], (1, 1), mode="circular")),
    ("mse_loss_bf16", lambda L, t: _F(L).mse_loss(t.h_x, t.h_y)),
    ("l1_loss_bf16", lambda L, t: _F(L).l1_loss(t.h_x, t.h_y)),
    ("smooth_l1_loss_bf16", lambda L, t: _F(L).smooth_l1_loss(t.h_x, t.h_y)),
    ("huber_loss_bf16", lambda L, t: _F(L).huber_loss(t.h_x, t.h_y)),
    ("binary_cross_entropy_bf16", lambda L, t: _F(L).binary_cross_entropy(t.h_p, t.h_q)),
    ("bce_with_logits_bf16", lambda L, t: _F(L).binary_cross_entropy_with_logits(t.h_x, t.h_p)),
    ("kl_div_bf16", lambda L, t: _F(L).kl_div(t.h_x, t.h_p, reduction="batchmean")),
    ("nll_loss_bf16", lambda L, t: _F(L).nll_loss(t.h_x, t.cls)),
    ("cross_entropy_bf16", lambda L, t: _F(L).cross_entropy(t.h_x, t.cls)),
    ("poisson_nll_loss_bf16", lambda L, t: _F(L).poisson_nll_loss(t.h_x, t.h_p)),
    ("soft_margin_loss_bf16", lambda L, t: _F(L).soft_margin_loss(t.h_x, t.h_sign[:, None])),
    ("cosine_embedding_loss_bf16",
     lambda L, t: _F(L).cosine_embedding_loss(t.h_x, t.h_y, t.h_sign)),
    ("margin_ranking_loss_bf16",
     lambda L, t: _F(L).margin_ranking_loss(t.h_x[:, 0], t.h_y[:, 0], t.h_sign)),
    ("hinge_embedding_loss_bf16", lambda L, t: _F(L).hinge_embedding_loss(t.h_x, t.h_ones)),
    ("triplet_margin_loss_bf16", lambda L, t: _F(L).triplet_margin_loss(t.h_x, t.h_y, t.h_p)),
    ("multi_margin_loss_bf16", lambda L, t: _F(L).multi_margin_loss(t.h_x, t.cls)),
    ("multilabel_margin_loss_bf16",
     lambda L, t: _F(L).multilabel_margin_loss(t.h_x, t.multilabel)),
    ("cdist_bf16", lambda L, t: L.cdist(t.h_x, t.h_y)),
    ("trace_bf16", lambda L, t: L.trace(t.h_spd)),
    ("prelu_bf16_weight", lambda L, t: _F(L).prelu(t.h_x, t.slope)),
]
# the values of these are compared with torch's as well
CPU_VALUES = {"mm", "addbmm", "einsum_mm", "tensordot", "mv", "dot", "linalg.vecdot",
              "linalg.cholesky_bf16", "linalg.inv_bf16", "prod_bf16", "mse_loss_bf16",
              "grid_sample_bf16", "pad_reflect_bf16", "poisson_nll_loss_bf16", "inner"}
def _name(case):
    return case.values[0] if hasattr(case, "values") else case[0]


def _run_cpu(lib, fn):
    t = _inputs(lib, "cpu", lib.bfloat16)
    with lib.autocast("cpu", dtype=lib.bfloat16):
        return fn(lib, t)


@requires_torch
@requires_bf16
@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("name,fn", CPU_CASES, ids=[_name(c) for c in CPU_CASES])
def test_cpu_autocast_dtype_matches_torch(name, fn):
    expected = _run_cpu(torch, fn)
    actual = _run_cpu(disttorch, fn)
    assert _dtype_name(actual) == _dtype_name(expected), name
    if name in CPU_VALUES:
        tol = 3e-2 if _dtype_name(expected) == "bfloat16" else 1e-5
        np.testing.assert_allclose(actual.detach().float().numpy(),
                                   expected.detach().float().numpy(), rtol=tol, atol=tol,
                                   err_msg=name)


@requires_bf16
def test_cpu_autocast_leaves_float64_and_gradients():
    a = disttorch.randn(4, 3, dtype=disttorch.float64)
    x = disttorch.randn(4, 3, requires_grad=True)
    spd = disttorch.eye(3).bfloat16().requires_grad_()
    with disttorch.autocast("cpu"):
        assert (a @ a.t()).dtype == disttorch.float64
        assert disttorch.linalg.cholesky(a @ a.t() + 4 * disttorch.eye(4, dtype=a.dtype)).dtype \
            == disttorch.float64
        out = (x @ x.t()).sum() + disttorch.linalg.cholesky(spd).sum()
        assert disttorch.mv(x, x[0]).dtype == disttorch.float32
    out.float().backward()
    assert x.grad.dtype == disttorch.float32 and spd.grad.dtype == disttorch.bfloat16


# ------------------------------------------------------------------ CUDA: the documented lists
# (name, fn(lib, t), the output dtype: "low" (the region's) or "float32")
CUDA_CASES = [
    # CUDA Ops that can autocast to float16: float32 inputs run low
    ("matmul", lambda L, t: t.x @ t.w.t(), "low"),
    ("mm", lambda L, t: L.mm(t.x, t.w.t()), "low"),
    ("bmm", lambda L, t: L.bmm(t.x.unsqueeze(0), t.w.t().unsqueeze(0)), "low"),
    ("addmm", lambda L, t: L.addmm(t.b, t.x, t.w.t()), "low"),
    ("addbmm", lambda L, t: L.addbmm(t.b, t.x.unsqueeze(0), t.w.t().unsqueeze(0)), "low"),
    ("baddbmm", lambda L, t: L.baddbmm(t.b.unsqueeze(0).unsqueeze(0), t.x.unsqueeze(0), t.w.t().unsqueeze(0)), "low"),
    ("addmv", lambda L, t: L.addmv(t.u, t.x, t.v), "low"),
    ("addr", lambda L, t: L.addr(t.x, t.u, t.v), "low"),
    ("mv", lambda L, t: L.mv(t.x, t.v), "low"),
    ("matmul_1d", lambda L, t: t.v @ t.v, "low"),
    ("einsum", lambda L, t: L.einsum("ij,kj->ik", t.x, t.w), "low"),
    ("chain_matmul", lambda L, t: L.chain_matmul(t.x, t.w.t(), t.w), "low"),
    ("linalg.multi_dot", lambda L, t: L.linalg.multi_dot([t.x, t.w.t()]), "low"),
    ("linalg.vecdot", lambda L, t: L.linalg.vecdot(t.x, t.y), "low"),
    ("linear", lambda L, t: _F(L).linear(t.x, t.w, t.b), "low"),
    ("conv2d", lambda L, t: _F(L).conv2d(t.img, t.kernel[:, :3]), "low"),
    ("prelu", lambda L, t: _F(L).prelu(t.x, t.slope), "low"),
    # CUDA Ops that can autocast to float32: low-precision inputs run in float32
    *[(op, (lambda op: lambda L, t: getattr(L, op)(t.h_p))(op), "float32")
      for op in ["acos", "asin", "cosh", "exp", "expm1", "log", "log10", "log2", "log1p",
                 "reciprocal", "rsqrt", "sinh", "tan"]],
    ("erfinv", lambda L, t: L.erfinv(t.h_p), "float32"),
    ("pow", lambda L, t: L.pow(t.h_p, 2), "float32"),
    ("__pow__", lambda L, t: t.h_p ** 2, "float32"),
    ("__rtruediv__", lambda L, t: 1 / t.h_p, "float32"),
    ("softplus", lambda L, t: _F(L).softplus(t.h_x), "float32"),
    ("layer_norm", lambda L, t: _F(L).layer_norm(t.h_x, (3,)), "float32"),
    ("group_norm", lambda L, t: _F(L).group_norm(t.h_img, 3), "float32"),
    ("rms_norm", lambda L, t: _F(L).rms_norm(t.h_x, (3,)), "float32"),
    ("cosine_similarity", lambda L, t: _F(L).cosine_similarity(t.h_x, t.h_y), "float32"),
    ("pdist", lambda L, t: _F(L).pdist(t.h_x), "float32"),
    ("cdist", lambda L, t: L.cdist(t.h_x, t.h_y), "float32"),
    ("dist", lambda L, t: L.dist(t.h_x, t.h_y), "float32"),
    ("norm", lambda L, t: t.h_x.norm(), "float32"),
    ("frobenius_norm", lambda L, t: L.norm(t.h_x, "fro", dim=(0, 1)), "float32"),
    ("renorm", lambda L, t: L.renorm(t.h_x, 2, 0, 1.0), "float32"),
    ("logsumexp", lambda L, t: L.logsumexp(t.h_x, 1), "float32"),
    ("sum", lambda L, t: t.h_x.sum(), "float32"),
    ("sum_dim", lambda L, t: L.sum(t.h_x, 1), "float32"),
    ("prod", lambda L, t: L.prod(t.h_p), "float32"),
    ("cumsum", lambda L, t: L.cumsum(t.h_x, 0), "float32"),
    ("cumprod", lambda L, t: L.cumprod(t.h_p, 1), "float32"),
    ("softmax", lambda L, t: L.softmax(t.h_x, -1), "float32"),
    ("log_softmax", lambda L, t: _F(L).log_softmax(t.h_x, -1), "float32"),
    ("linalg.vector_norm", lambda L, t: L.linalg.vector_norm(t.h_x), "float32"),
    ("linalg.matrix_norm", lambda L, t: L.linalg.matrix_norm(t.h_x), "float32"),
    ("linalg.norm", lambda L, t: L.linalg.norm(t.h_x), "float32"),
    ("interpolate_nearest", lambda L, t: _F(L).interpolate(t.h_img, scale_factor=2), "float32"),
    ("interpolate_nearest_exact",
     lambda L, t: _F(L).interpolate(t.h_img, scale_factor=2, mode="nearest-exact"), "float32"),
    ("interpolate_bilinear",
     lambda L, t: _F(L).interpolate(t.h_img, scale_factor=2, mode="bilinear"), "float32"),
    ("interpolate_bicubic_aa", lambda L, t: _F(L).interpolate(
        t.h_img, scale_factor=0.5, mode="bicubic", antialias=True), "float32"),
    ("interpolate_linear", lambda L, t: _F(L).interpolate(t.h_x.unsqueeze(0), size=5, mode="linear"),
     "float32"),
    ("upsample_nearest", lambda L, t: _F(L).upsample_nearest(t.h_img, scale_factor=2),
     "float32"),
    ("mse_loss", lambda L, t: _F(L).mse_loss(t.h_x, t.h_y), "float32"),
    ("l1_loss", lambda L, t: _F(L).l1_loss(t.h_x, t.h_y), "float32"),
    ("smooth_l1_loss", lambda L, t: _F(L).smooth_l1_loss(t.h_x, t.h_y), "float32"),
    ("huber_loss", lambda L, t: _F(L).huber_loss(t.h_x, t.h_y), "float32"),
    ("nll_loss", lambda L, t: _F(L).nll_loss(t.h_x, t.cls), "float32"),
    ("cross_entropy", lambda L, t: _F(L).cross_entropy(t.h_x, t.cls), "float32"),
    ("kl_div", lambda L, t: _F(L).kl_div(t.h_x, t.h_p, reduction="batchmean"), "float32"),
    ("poisson_nll_loss", lambda L, t: _F(L).poisson_nll_loss(t.h_x, t.h_p), "float32"),
    ("cosine_embedding_loss",
     lambda L, t: _F(L).cosine_embedding_loss(t.h_x, t.h_y, t.h_sign), "float32"),
    ("hinge_embedding_loss", lambda L, t: _F(L).hinge_embedding_loss(t.h_x, t.h_ones),
     "float32"),
    ("margin_ranking_loss", lambda L, t: _F(L).margin_ranking_loss(t.h_u, t.h_sign, t.h_sign),
     "float32"),
    ("soft_margin_loss", lambda L, t: _F(L).soft_margin_loss(t.h_x, t.h_ones), "float32"),
    ("multi_margin_loss", lambda L, t: _F(L).multi_margin_loss(t.h_x, t.cls), "float32"),
    ("multilabel_margin_loss",
     lambda L, t: _F(L).multilabel_margin_loss(t.h_x, t.multilabel), "float32"),
    ("triplet_margin_loss", lambda L, t: _F(L).triplet_margin_loss(t.h_x, t.h_y, t.h_p),
     "float32"),
    ("bce_with_logits", lambda L, t: _F(L).binary_cross_entropy_with_logits(t.h_x, t.h_p),
     "float32"),
    # CUDA Ops that promote to the widest input type
    ("addcmul_mixed", lambda L, t: L.addcmul(t.h_x, t.h_y, t.p), "float32"),
    ("addcmul_low", lambda L, t: L.addcmul(t.h_x, t.h_y, t.h_p), "low"),
    ("addcdiv_mixed", lambda L, t: L.addcdiv(t.h_x, t.y, t.h_p), "float32"),
    ("atan2_mixed", lambda L, t: L.atan2(t.h_x, t.y), "float32"),
    ("cross_mixed", lambda L, t: L.cross(t.h_x, t.y, dim=1), "float32"),
    ("dot_float32", lambda L, t: L.dot(t.v, t.v), "float32"),
    ("dot_mixed", lambda L, t: L.dot(t.h_v, t.v), "float32"),
    ("dot_low", lambda L, t: L.dot(t.h_v, t.h_v), "low"),
    ("vdot_float32", lambda L, t: L.vdot(t.v, t.v), "float32"),
    ("tensordot_float32", lambda L, t: L.tensordot(t.x, t.w.t(), 1), "float32"),
    ("tensordot_low", lambda L, t: L.tensordot(t.h_x, t.h_w.t(), 1), "low"),
    ("inner_float32", lambda L, t: L.inner(t.x, t.w), "float32"),
    ("bilinear_float32", lambda L, t: _F(L).bilinear(t.x, t.y, t.bw), "float32"),
    ("bilinear_mixed", lambda L, t: _F(L).bilinear(t.h_x, t.h_y, t.bw), "float32"),
    ("grid_sample_mixed", lambda L, t: _F(L).grid_sample(t.h_img, t.grid, align_corners=False),
     "float32"),
    ("scatter_add_mixed", lambda L, t: L.scatter_add(t.h_x, 0, t.idx, t.y), "float32"),
    ("index_put_mixed", lambda L, t: L.index_put(t.h_x, (t.rows,), t.y[:2]), "float32"),
    # on no list: the inputs' dtype is kept
    ("outer_float32", lambda L, t: L.outer(t.u, t.v), "float32"),
    ("kron_float32", lambda L, t: L.kron(t.x, t.v), "float32"),
    ("sum_dtype_low", lambda L, t: t.h_x.sum(dtype=t.h_x.dtype), "low"),
    ("cumsum_dtype_low", lambda L, t: L.cumsum(t.h_x, 0, dtype=t.h_x.dtype), "low"),
    ("softmax_dtype_low", lambda L, t: L.softmax(t.h_x, -1, dtype=t.h_x.dtype), "low"),
    ("interpolate_area", lambda L, t: _F(L).interpolate(t.h_img, scale_factor=0.5, mode="area"),
     "low"),
    ("sigmoid", lambda L, t: L.sigmoid(t.h_x), "low"),
    ("tanh", lambda L, t: L.tanh(t.h_x), "low"),
    ("sqrt", lambda L, t: L.sqrt(t.h_p), "low"),
    ("exp2", lambda L, t: L.exp2(t.h_x), "low"),
    ("erf", lambda L, t: L.erf(t.h_x), "low"),
    ("mean", lambda L, t: t.h_x.mean(), "low"),
    ("var", lambda L, t: t.h_x.var(), "low"),
    ("amax", lambda L, t: t.h_x.amax(), "low"),
    ("div_scalar", lambda L, t: t.h_x / 2, "low"),
    ("relu", lambda L, t: _F(L).relu(t.h_x), "low"),
    ("gelu", lambda L, t: _F(L).gelu(t.h_x), "low"),
    ("silu", lambda L, t: _F(L).silu(t.h_x), "low"),
    ("elu", lambda L, t: _F(L).elu(t.h_x), "low"),
    ("batch_norm", lambda L, t: _F(L).batch_norm(t.h_img, None, None, training=True), "low"),
    ("cholesky_upper_float32", lambda L, t: L.linalg.cholesky(t.spd, upper=True), "float32"),
    ("matrix_norm_nuc_float32", lambda L, t: L.linalg.matrix_norm(t.spd, "nuc"), "float32"),
]


def _cuda_params():
    params = []
    for case in CUDA_CASES:
        for low in ("float16", "bfloat16"):
            if hasattr(case, "values"):
                params.append(pytest.param(*case.values, low, marks=case.marks,
                                           id=f"{case.values[0]}-{low}"))
            else:
                params.append(pytest.param(*case, low, id=f"{case[0]}-{low}"))
    return params


def _low(lib, low):
    dtype = getattr(lib, low)
    if dtype is None:
        pytest.skip("bfloat16 needs the ml_dtypes package (pip install ml_dtypes)")
    return dtype


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("name,fn,expected,low", _cuda_params())
def test_cuda_autocast_dtype_follows_the_lists(name, fn, expected, low, device):
    low = _low(disttorch, low)
    t = _inputs(disttorch, device, low)
    with disttorch.autocast("cuda", dtype=low):
        out = fn(disttorch, t)
    assert out.is_cuda
    assert out.dtype == (low if expected == "low" else disttorch.float32), name


# ------------------------------------------------------------------ the CUDA table vs torch
@contextlib.contextmanager
def _torch_cuda_autocast(dtype):
    """torch's CUDA autocast on a machine without CUDA: set its state directly (the context
    manager refuses when CUDA is unavailable); the kernels are registered in any build."""
    previous = torch.is_autocast_enabled("cuda"), torch.get_autocast_dtype("cuda")
    torch.set_autocast_enabled("cuda", True)
    torch.set_autocast_dtype("cuda", dtype)
    torch.autocast_increment_nesting()
    try:
        yield
    finally:
        torch.autocast_decrement_nesting()
        torch.clear_autocast_cache()
        torch.set_autocast_enabled("cuda", previous[0])
        torch.set_autocast_dtype("cuda", previous[1])


def _torch_fake_cuda_dtype(fn, low):
    """The dtype torch's AutocastCUDA kernels give ``fn``, run on fake CUDA tensors."""
    from torch._subclasses.fake_tensor import FakeTensorMode
    with FakeTensorMode():
        t = _inputs(torch, "cuda", low, make=lambda a: torch.zeros(
            a.shape, dtype=torch.int64 if a.dtype == np.int64 else torch.float32, device="cuda"))
        with _torch_cuda_autocast(low):
            return fn(torch, t).dtype


@requires_torch
@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("name,fn,expected", [c.values if hasattr(c, "values") else c
                                              for c in CUDA_CASES],
                         ids=[_name(c) for c in CUDA_CASES])
def test_cuda_table_matches_torch_kernels(name, fn, expected):
    try:
        actual = _torch_fake_cuda_dtype(fn, torch.float16)
    except Exception as error:  # noqa: BLE001 - no meta kernel, or no fake CUDA in this build
        pytest.skip(f"torch cannot run {name} on fake CUDA tensors here: "
                    f"{type(error).__name__}")
    assert actual == (torch.float16 if expected == "low" else torch.float32), name


# ------------------------------------------------------------------ CUDA: values and errors
CUDA_VALUES = ["exp", "log1p", "sum", "cumsum", "prod", "softmax", "layer_norm", "group_norm",
               "cosine_similarity", "pdist", "interpolate_bilinear", "linalg.vector_norm",
               "mse_loss", "tensordot_float32", "dot_float32", "grid_sample_mixed"]


@requires_torch
@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("name", CUDA_VALUES)
def test_cuda_float32_ops_match_torch_values(name, device):
    """The float32 ops compute in float32 from the float16 inputs: torch's float32 results on
    the same (float16-rounded) inputs, to float32 accuracy."""
    fn = next(c for c in CUDA_CASES if isinstance(c, tuple) and c[0] == name)[1]
    t = _inputs(disttorch, device, disttorch.float16)
    with disttorch.autocast("cuda", dtype=disttorch.float16):
        out = fn(disttorch, t)
    assert out.dtype == disttorch.float32
    # torch on the CPU, in float32, from the float16-rounded values
    rounded = {k: torch.from_numpy(a).half().float() if k.startswith("h_") else torch.from_numpy(a)
               for k, a in ((k, v.detach().cpu().float().numpy() if v.dtype.is_floating_point
                             else v.cpu().numpy()) for k, v in vars(t).items())}
    expected = fn(torch, types.SimpleNamespace(**rounded))
    np.testing.assert_allclose(out.detach().cpu().numpy(), expected.numpy(), rtol=1e-5,
                               atol=1e-5, err_msg=name)


BCE_MESSAGE = ("torch.nn.functional.binary_cross_entropy and torch.nn.BCELoss are unsafe to "
               "autocast.\nMany models use a sigmoid layer right before the binary cross entropy "
               "layer.\nIn this case, combine the two layers using "
               "torch.nn.functional.binary_cross_entropy_with_logits\nor torch.nn.BCEWithLogitsLoss."
               "  binary_cross_entropy_with_logits and BCEWithLogits are\nsafe to autocast.")


def test_cuda_binary_cross_entropy_is_banned(device):
    t = _inputs(disttorch, device, disttorch.float16)
    with disttorch.autocast("cuda"):
        for args in ((t.h_p, t.h_q), (t.p, t.q)):
            with pytest.raises(RuntimeError) as info:
                disttorch.nn.functional.binary_cross_entropy(*args)
            assert str(info.value) == BCE_MESSAGE
        with pytest.raises(RuntimeError, match="unsafe to autocast"):
            disttorch.nn.BCELoss()(t.p, t.q)
        # CPU tensors are not under the CUDA region
        cpu = disttorch.nn.functional.binary_cross_entropy(t.p.cpu(), t.q.cpu())
        assert cpu.dtype == disttorch.float32
    assert disttorch.nn.functional.binary_cross_entropy(t.p, t.q).dtype == disttorch.float32


@requires_torch
def test_bce_message_is_torchs():
    from torch._subclasses.fake_tensor import FakeTensorMode
    try:
        with FakeTensorMode():
            p = torch.empty(3, device="cuda")
            with _torch_cuda_autocast(torch.float16):
                with pytest.raises(RuntimeError) as info:
                    torch.nn.functional.binary_cross_entropy(p, p)
    except Exception as error:  # noqa: BLE001
        pytest.skip(f"no fake CUDA tensors in this torch build: {type(error).__name__}")
    assert str(info.value) == BCE_MESSAGE


def test_cuda_autocast_backward_in_region(device):
    """Gradients through the float32 casts reach float16 and float32 leaves in their dtype,
    also when backward runs inside the region."""
    x = disttorch.randn(4, 3, device=device, requires_grad=True)
    h = disttorch.randn(4, 3, device=device).half().requires_grad_()
    with disttorch.autocast("cuda"):
        y = x @ x.t()
        loss = (disttorch.exp(y).sum() + disttorch.logsumexp(h.float(), 1).sum()
                + disttorch.nn.functional.layer_norm(h, (3,)).pow(2).sum()
                + disttorch.cumsum(h, 0).sum() + disttorch.tensordot(x, x, 2))
        assert y.dtype == disttorch.float16 and loss.dtype == disttorch.float32
        loss.backward()
    assert x.grad.dtype == disttorch.float32 and h.grad.dtype == disttorch.float16
    assert bool(disttorch.isfinite(x.grad).all()) and bool(disttorch.isfinite(h.grad).all())


def test_nested_ops_are_not_cast_again(device):
    """An op runs below autocast, as PyTorch's kernels do: tensordot's einsum, mv's matmul."""
    x = disttorch.randn(4, 3, device=device)
    with disttorch.autocast("cuda"):
        assert disttorch.tensordot(x, x.t(), 1).dtype == disttorch.float32
        assert disttorch.outer(x[0], x[1]).dtype == disttorch.float32
        assert disttorch.einsum("ij,kj->ik", x, x).dtype == disttorch.float16
    c = disttorch.randn(4, 3)
    with disttorch.autocast("cpu"):
        assert disttorch.mv(c, c[0]).dtype == disttorch.float32
        assert disttorch.dot(c[0], c[0]).dtype == disttorch.float32
        assert (c[0] @ c[0]).dtype == disttorch.bfloat16


def test_policy_tables():
    policy = autocast_mode.policy
    assert policy("cuda", "exp") == "fp32" and policy("cpu", "exp") is None
    assert policy("cuda", "mv") == "lower" and policy("cpu", "mv") is None
    assert policy("cuda", "tensordot") == "promote" and policy("cpu", "tensordot") == "lower"
    assert policy("cuda", "binary_cross_entropy") == "banned"
    assert policy("cpu", "binary_cross_entropy") == "fp32"
    assert policy("cuda", "interpolate", "bilinear") == "fp32"
    assert policy("cuda", "interpolate", "area") is None
    assert policy("cpu", "einsum", "ij,jk->ik") == "lower"
    assert policy("cpu", "einsum", "ij,ij->ij") is None
    assert policy("cpu", "einsum", "i,j") is None
    assert policy("cpu", "einsum", "ij,jk") == "lower"
    assert policy("cpu", "pad", ("reflect", (1, 1, 1, 1))) == "fp32"
    assert policy("cpu", "pad", ("reflect", (1,) * 6)) is None
    # outside a region every helper hands its arguments back as they are
    x = disttorch.ones(2)
    assert autocast_mode.autocast_args("exp", x)[0] is x
