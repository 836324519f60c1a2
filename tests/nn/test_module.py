"""Module, Parameter and container behaviour, against torch where torch defines it."""
import copy
import pickle
from collections import OrderedDict

import numpy as np
import pytest

import disttorch
import disttorch.nn as nn

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.filterwarnings("ignore:Full backward hook is firing")


def _arch(lib):
    class Block(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = lib.nn.Linear(3, 4)
            self.register_buffer("running", lib.zeros(4))
            self.register_buffer("scratch", lib.zeros(2), persistent=False)
            self.layers = lib.nn.ModuleList([lib.nn.Linear(4, 4), lib.nn.Identity()])
            self.heads = lib.nn.ModuleDict({"a": lib.nn.Linear(4, 2), "b": lib.nn.Linear(4, 1)})
            self.seq = lib.nn.Sequential(OrderedDict([("first", lib.nn.Linear(2, 2)),
                                                      ("act", lib.nn.ReLU())]))
            self.plist = lib.nn.ParameterList([lib.nn.Parameter(lib.ones(2)), lib.zeros(3)])
            self.pdict = lib.nn.ParameterDict({"w": lib.nn.Parameter(lib.ones(1))})
            self.scale = lib.nn.Parameter(lib.ones(()))

        def forward(self, x):
            return self.seq(self.heads["a"](self.layers[0](self.fc(x)))) * self.scale
    return Block()


def to_torch_state(state):
    return OrderedDict((k, torch.from_numpy(np.array(v.numpy()))) for k, v in state.items())


def to_dist_state(state):
    return OrderedDict((k, disttorch.from_numpy(v.detach().numpy().copy())) for k, v in state.items())


def test_state_dict_keys_and_names_match_torch():
    ours, theirs = _arch(disttorch), _arch(torch)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert [n for n, _ in ours.named_buffers()] == [n for n, _ in theirs.named_buffers()]
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    assert [n for n, _ in ours.named_children()] == [n for n, _ in theirs.named_children()]
    assert repr(ours).replace("disttorch", "torch") == repr(theirs)


def test_load_state_dict_roundtrip_and_forward_matches():
    ours, theirs = _arch(disttorch), _arch(torch)
    result = ours.load_state_dict(to_dist_state(theirs.state_dict()))
    assert repr(result) == "<All keys matched successfully>"
    x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    np.testing.assert_allclose(ours(disttorch.from_numpy(x)).detach().numpy(),
                               theirs(torch.from_numpy(x)).detach().numpy(), rtol=1e-5, atol=1e-6)


def test_strict_loading_errors_match_torch():
    ours, theirs = nn.Linear(3, 2), torch.nn.Linear(3, 2)
    bad = {"weight": disttorch.zeros(2, 3), "extra": disttorch.zeros(1)}
    with pytest.raises(RuntimeError) as ours_err:
        ours.load_state_dict(bad)
    with pytest.raises(RuntimeError) as theirs_err:
        theirs.load_state_dict({"weight": torch.zeros(2, 3), "extra": torch.zeros(1)})
    assert str(ours_err.value) == str(theirs_err.value)
    result = ours.load_state_dict(bad, strict=False)
    assert result.missing_keys == ["bias"] and result.unexpected_keys == ["extra"]
    with pytest.raises(RuntimeError) as ours_err:
        ours.load_state_dict({"weight": disttorch.zeros(3, 3), "bias": disttorch.zeros(2)})
    with pytest.raises(RuntimeError) as theirs_err:
        theirs.load_state_dict({"weight": torch.zeros(3, 3), "bias": torch.zeros(2)})
    assert str(ours_err.value).replace("disttorch", "torch") == str(theirs_err.value)


def test_load_state_dict_copies_in_place_and_assign():
    m = nn.Linear(2, 2)
    w = m.weight
    m.load_state_dict({"weight": disttorch.ones(2, 2), "bias": disttorch.zeros(2)})
    assert m.weight is w and np.all(w.detach().numpy() == 1)
    m.load_state_dict({"weight": disttorch.full((2, 2), 3.0), "bias": disttorch.zeros(2)},
                      assign=True)
    assert isinstance(m.weight, nn.Parameter) and m.weight is not w
    assert float(m.weight.sum()) == 12.0


def test_state_dict_detached_and_keep_vars():
    m = nn.Linear(2, 2)
    sd = m.state_dict()
    assert not sd["weight"].requires_grad and not isinstance(sd["weight"], nn.Parameter)
    assert m.state_dict(keep_vars=True)["weight"] is m.weight
    assert sd._metadata[""] == {"version": 1}


def test_shared_parameters_counted_once():
    a = nn.Linear(3, 3)
    m = nn.Sequential(a, nn.ReLU(), a)
    assert len(list(m.parameters())) == 2
    assert len(list(m.named_parameters(remove_duplicate=False))) == 4
    assert len(list(m.modules())) == 3
    assert len(list(m.named_modules(remove_duplicate=False))) == 4
    assert list(m.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]


def test_attribute_registration_and_errors():
    m = nn.Module()
    m.p = nn.Parameter(disttorch.zeros(2))
    m.sub = nn.Linear(1, 1)
    m.register_buffer("b", disttorch.ones(1))
    assert set(m._parameters) == {"p"} and set(m._modules) == {"sub"} and set(m._buffers) == {"b"}
    with pytest.raises(TypeError, match="cannot assign 'int' as parameter 'p'"):
        m.p = 3
    with pytest.raises(KeyError, match="attribute 'sub' already exists"):
        m.register_buffer("sub", disttorch.zeros(1))
    with pytest.raises(KeyError):
        m.register_parameter("a.b", None)
    with pytest.raises(AttributeError, match="'Module' object has no attribute 'missing'"):
        m.missing
    m.p = None
    assert m.p is None and list(m.parameters()) == list(m.sub.parameters())
    del m.sub
    assert "sub" not in m._modules
    m.b = disttorch.zeros(3)
    assert m._buffers["b"].shape == (3,)
    m.buf = nn.Buffer(disttorch.ones(2), persistent=False)
    assert "buf" in m._buffers and "buf" not in m.state_dict()
    assert "p" in dir(m) and "b" in dir(m)
    with pytest.raises(ValueError, match="Cannot assign non-leaf Tensor"):
        m.register_parameter("q", _nonleaf_parameter())


def _nonleaf_parameter():
    p = nn.Parameter(disttorch.ones(2))
    p.grad_fn = (p * 2).grad_fn
    return p


def test_parameter_basics():
    p = nn.Parameter(disttorch.ones(2, 3))
    assert isinstance(p, disttorch.Tensor) and p.requires_grad and p.is_leaf
    assert repr(p) == "Parameter containing:\n" + repr(disttorch.ones(2, 3, requires_grad=True))
    assert not nn.Parameter(disttorch.ones(1), requires_grad=False).requires_grad
    q = copy.deepcopy(p)
    assert isinstance(q, nn.Parameter) and q is not p and q.requires_grad
    r = pickle.loads(pickle.dumps(p))
    assert isinstance(r, nn.Parameter) and np.array_equal(r.detach().numpy(), p.detach().numpy())
    assert type(p * 2) is disttorch.Tensor
    with pytest.raises(RuntimeError, match="floating point"):
        nn.Parameter(disttorch.ones(2, dtype=disttorch.int64))


def test_train_eval_apply_zero_grad_requires_grad():
    m = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.Dropout()))
    m.eval()
    assert not any(x.training for x in m.modules())
    m.train()
    assert all(x.training for x in m.modules())
    with pytest.raises(ValueError, match="training mode is expected to be boolean"):
        m.train("yes")
    seen = []
    m.apply(lambda mod: seen.append(type(mod).__name__))
    assert seen == ["Linear", "Dropout", "Sequential", "Sequential"]
    m(disttorch.ones(1, 2)).sum().backward()
    m.zero_grad(set_to_none=False)
    assert np.all(m[0].weight.grad.numpy() == 0)
    m.zero_grad()
    assert m[0].weight.grad is None
    m.requires_grad_(False)
    assert not any(p.requires_grad for p in m.parameters())


def test_to_keeps_parameter_identity_and_casts_floats_only():
    m = nn.Linear(2, 2)
    m.register_buffer("steps", disttorch.zeros(1, dtype=disttorch.int64))
    w = m.weight
    m(disttorch.ones(1, 2)).sum().backward()
    m.double()
    assert m.weight is w and w.dtype == disttorch.float64 and w.grad.dtype == disttorch.float64
    assert m.steps.dtype == disttorch.int64
    m.to(disttorch.float32)
    assert w.dtype == disttorch.float32
    m.to("cpu")
    m.half().float()
    assert w.dtype == disttorch.float32
    with pytest.raises(TypeError, match="nn.Module.to only accepts floating point"):
        m.to(disttorch.int32)


def test_forward_hooks_order_and_arguments():
    log = []
    m = nn.Linear(2, 2)
    h1 = m.register_forward_pre_hook(lambda mod, args: log.append(("pre", len(args))))
    m.register_forward_pre_hook(lambda mod, args, kwargs: log.append(("pre_kw", dict(kwargs))),
                                with_kwargs=True, prepend=True)
    m.register_forward_hook(lambda mod, args, out: log.append(("post", tuple(out.shape))))
    m.register_forward_hook(lambda mod, args, kwargs, out: out * 0, with_kwargs=True)
    out = m(disttorch.ones(3, 2))
    assert log == [("pre_kw", {}), ("pre", 1), ("post", (3, 2))]
    assert np.all(out.detach().numpy() == 0)
    h1.remove()
    log.clear()
    m.register_forward_pre_hook(lambda mod, args: (args[0] * 2,))
    m(disttorch.ones(1, 2))
    assert log == [("pre_kw", {}), ("post", (1, 2))]


def test_always_call_forward_hook_runs_on_error():
    calls = []

    class Boom(nn.Module):
        def forward(self, x):
            raise ValueError("boom")
    m = Boom()
    m.register_forward_hook(lambda mod, args, out: calls.append(out), always_call=True)
    with pytest.raises(ValueError):
        m(disttorch.ones(1))
    assert calls == [None]


def _record_backward_hooks(lib, module, x):
    record = []

    def pre(mod, grad_output):
        record.append(("pre", [g.detach().numpy().copy() for g in grad_output]))

    def hook(mod, grad_input, grad_output):
        record.append(("full", [None if g is None else g.detach().numpy().copy() for g in grad_input],
                       [g.detach().numpy().copy() for g in grad_output]))
        return tuple(None if g is None else g * 2 for g in grad_input)
    module.register_full_backward_pre_hook(pre)
    module.register_full_backward_hook(hook)
    out = module(x)
    (out * out).sum().backward()
    return record


@pytest.mark.parametrize("input_grad", [True, False])
def test_full_backward_hooks_match_torch(input_grad):
    tm = torch.nn.Linear(3, 2)
    dm = nn.Linear(3, 2)
    dm.load_state_dict(to_dist_state(tm.state_dict()))
    xn = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    tx = torch.from_numpy(xn.copy()).requires_grad_(input_grad)
    dx = disttorch.from_numpy(xn.copy()).requires_grad_(input_grad)
    t_rec = _record_backward_hooks(torch, tm, tx)
    d_rec = _record_backward_hooks(disttorch, dm, dx)
    assert [r[0] for r in d_rec] == [r[0] for r in t_rec]
    for dr, tr in zip(d_rec, t_rec):
        for dlist, tlist in zip(dr[1:], tr[1:]):
            assert len(dlist) == len(tlist)
            for a, b in zip(dlist, tlist):
                assert (a is None) == (b is None)
                if a is not None:
                    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    if input_grad:
        np.testing.assert_allclose(dx.grad.numpy(), tx.grad.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(dm.weight.grad.numpy(), tm.weight.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_submodule_parameter_lookup():
    m = nn.Sequential(OrderedDict([("enc", nn.Sequential(nn.Linear(2, 2)))]))
    assert m.get_submodule("enc.0") is m.enc[0]
    assert m.get_parameter("enc.0.bias") is m.enc[0].bias
    with pytest.raises(AttributeError, match="has no attribute `x`"):
        m.get_submodule("enc.x")
    with pytest.raises(AttributeError, match="is not an nn.Parameter"):
        m.get_parameter("enc.0.in_features")


def test_sequential_operations():
    layers = [nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 1)]
    s = nn.Sequential(*layers)
    assert len(s) == 3 and s[-1] is layers[2] and list(s) == layers
    assert isinstance(s[1:], nn.Sequential) and list(s[1:]) == layers[1:]
    s.append(nn.Identity())
    s.insert(0, nn.Identity())
    assert [type(x).__name__ for x in s] == ["Identity", "Linear", "ReLU", "Linear", "Identity"]
    del s[0]
    assert list(s._modules) == ["0", "1", "2", "3"]
    s.extend([nn.Tanh()])
    assert len(s) == 5
    with pytest.raises(IndexError, match="index 9 is out of range"):
        s[9]
    s[0] = nn.Identity()
    assert isinstance(s[0], nn.Identity)
    assert s(disttorch.ones(3, 2)).shape == (3, 1)


def test_module_list_and_dict():
    ml = nn.ModuleList([nn.Linear(1, 1)])
    ml.append(nn.ReLU()).extend([nn.Tanh()])
    ml.insert(1, nn.Identity())
    assert [type(x).__name__ for x in ml] == ["Linear", "Identity", "ReLU", "Tanh"]
    assert ml.pop(1).__class__ is nn.Identity and len(ml) == 3
    with pytest.raises(TypeError, match="should be called with an iterable"):
        ml.extend(3)
    md = nn.ModuleDict([("a", nn.ReLU())])
    md["b"] = nn.Tanh()
    assert list(md.keys()) == ["a", "b"] and "a" in md and len(md) == 2
    assert md.pop("a").__class__ is nn.ReLU and list(md) == ["b"]


def test_parameter_containers_repr_and_wrapping():
    ours = nn.ParameterList([disttorch.zeros(2, 3), nn.Parameter(disttorch.ones(1))])
    theirs = torch.nn.ParameterList([torch.zeros(2, 3), torch.nn.Parameter(torch.ones(1))])
    assert isinstance(ours[0], nn.Parameter) and len(ours) == 2
    assert repr(ours) == repr(theirs)
    ours_d = nn.ParameterDict({"b": disttorch.zeros(2), "a": nn.Parameter(disttorch.ones(1))})
    theirs_d = torch.nn.ParameterDict({"b": torch.zeros(2), "a": torch.nn.Parameter(torch.ones(1))})
    assert repr(ours_d) == repr(theirs_d)
    assert list(ours_d.keys()) == list(theirs_d.keys())
    assert [n for n, _ in ours_d.named_parameters()] == [n for n, _ in theirs_d.named_parameters()]


def test_module_deepcopy_and_pickle():
    m = nn.Sequential(nn.Linear(2, 3), nn.ReLU())
    m.register_buffer("b", disttorch.ones(2))
    c = copy.deepcopy(m)
    assert c[0].weight is not m[0].weight
    np.testing.assert_array_equal(c[0].weight.detach().numpy(), m[0].weight.detach().numpy())
    p = pickle.loads(pickle.dumps(m))
    assert isinstance(p[0].weight, nn.Parameter) and list(p.state_dict()) == list(m.state_dict())


def test_extra_repr_multiline_and_nested():
    class Custom(nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = nn.Linear(1, 1)

        def extra_repr(self):
            return "alpha=1\nbeta=2"

    assert repr(Custom()) == ("Custom(\n  alpha=1\n  beta=2\n  (inner): Linear(in_features=1, "
                              "out_features=1, bias=True)\n)")


def test_missing_forward_message():
    with pytest.raises(NotImplementedError, match='missing the required "forward" function'):
        nn.Module()(1)


def test_state_dict_hooks_and_extra_state():
    calls = []

    class WithExtra(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(1, 1)
            self.counter = 0

        def get_extra_state(self):
            return {"counter": self.counter}

        def set_extra_state(self, state):
            self.counter = state["counter"]

    m = WithExtra()
    m.counter = 5
    m.register_state_dict_pre_hook(lambda mod, prefix, keep_vars: calls.append(("pre", prefix)))
    m.register_state_dict_post_hook(lambda mod, sd, prefix, meta: calls.append(("post", len(sd))))
    sd = m.state_dict()
    assert list(sd) == ["_extra_state", "lin.weight", "lin.bias"]
    assert calls == [("pre", ""), ("post", 3)]
    other = WithExtra()
    seen = []
    other.register_load_state_dict_pre_hook(lambda mod, state, prefix, *rest: seen.append(prefix))
    other.register_load_state_dict_post_hook(lambda mod, keys: seen.append(list(keys.missing_keys)))
    other.load_state_dict(sd)
    assert other.counter == 5 and seen == ["", []]
    with pytest.raises(RuntimeError, match='Missing key\\(s\\) in state_dict: "_extra_state"'):
        other.load_state_dict({k: v for k, v in sd.items() if k != "_extra_state"})


def test_custom_load_from_state_dict_override_renames_keys():
    class Renamed(nn.Linear):
        def _load_from_state_dict(self, state_dict, prefix, *args):
            old = prefix + "w"
            if old in state_dict:
                state_dict[prefix + "weight"] = state_dict.pop(old)
            super()._load_from_state_dict(state_dict, prefix, *args)

    m = nn.Sequential(Renamed(2, 2))
    m.load_state_dict({"0.w": disttorch.ones(2, 2), "0.bias": disttorch.zeros(2)})
    assert float(m[0].weight.sum()) == 4.0


def test_backward_hook_kinds_cannot_mix():
    m = nn.Linear(2, 2)
    m.register_full_backward_hook(lambda *a: None)
    with pytest.raises(RuntimeError, match="Cannot use both regular backward hooks and full"):
        m.register_backward_hook(lambda *a: None)


def test_backward_hook_with_tuple_output_and_non_tensor_args():
    grads = []

    class Split(nn.Module):
        def forward(self, x, scale):
            return x * scale, x * 2

    m = Split()
    m.register_full_backward_hook(lambda mod, gi, go: grads.append((len(gi), len(go))))
    x = disttorch.ones(3, requires_grad=True)
    a, b = m(x, 3.0)
    (a.sum() + b.sum()).backward()
    assert grads == [(2, 2)]    # one grad_input entry per positional argument, as torch
    np.testing.assert_allclose(x.grad.numpy(), np.full(3, 5.0))


def test_set_submodule_to_empty_and_named_members_options():
    m = nn.Sequential(OrderedDict([("a", nn.Linear(2, 2)), ("b", nn.ReLU())]))
    m.set_submodule("b", nn.Tanh())
    assert isinstance(m.b, nn.Tanh)
    with pytest.raises(AttributeError, match="has no attribute `c`"):
        m.set_submodule("c", nn.Tanh(), strict=True)
    assert [n for n, _ in m.named_parameters(prefix="model")] == ["model.a.weight", "model.a.bias"]
    assert list(m.named_parameters(recurse=False)) == []
    w = m.a.weight
    m.to_empty(device="cpu")
    assert m.a.weight is w and w.shape == (2, 2)


def test_module_to_tensor_and_device_dtype_pair():
    m = nn.Linear(2, 2)
    m.to(disttorch.zeros(1, dtype=disttorch.float64))
    assert m.weight.dtype == disttorch.float64
    m.to("cpu", disttorch.float32)
    assert m.weight.dtype == disttorch.float32
    m.to(device="cpu", dtype=disttorch.float16, non_blocking=True)
    assert m.bias.dtype == disttorch.float16


def test_training_loop_matches_torch():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((16, 6)).astype(np.float32)
    y = rng.integers(0, 3, 16)

    def build(lib):
        net = lib.nn.Sequential(lib.nn.Linear(6, 8), lib.nn.GELU(), lib.nn.LayerNorm(8),
                                lib.nn.Linear(8, 3))
        return net, lib.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)

    theirs, t_opt = build(torch)
    ours, d_opt = build(disttorch)
    ours.load_state_dict(to_dist_state(theirs.state_dict()))
    for _ in range(5):
        for net, opt, lib in ((theirs, t_opt, torch), (ours, d_opt, disttorch)):
            opt.zero_grad()
            loss = lib.nn.functional.cross_entropy(net(lib.from_numpy(x.copy())),
                                                   lib.from_numpy(y.copy()), label_smoothing=0.1)
            loss.backward()
            nn.utils.clip_grad_norm_(net.parameters(), 1.0) if lib is disttorch else \
                torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            opt.step()
    for (name, p), q in zip(ours.state_dict().items(), theirs.state_dict().values()):
        np.testing.assert_allclose(p.numpy(), q.numpy(), rtol=1e-4, atol=1e-5, err_msg=name)


def _global_hook_log(lib, module_path):
    hooks = __import__(module_path, fromlist=["x"])
    log = []
    handles = [
        hooks.register_module_forward_pre_hook(lambda m, a: log.append(("pre", type(m).__name__))),
        hooks.register_module_forward_hook(lambda m, a, o: log.append(("fwd", type(m).__name__))),
        hooks.register_module_full_backward_hook(
            lambda m, gi, go: log.append(("bwd", type(m).__name__, len(gi), len(go)))),
        hooks.register_module_parameter_registration_hook(
            lambda m, name, p: log.append(("param", name))),
    ]
    try:
        net = lib.nn.Sequential(lib.nn.Linear(2, 3), lib.nn.Tanh())
        net[0].register_forward_hook(lambda m, a, o: log.append(("local", type(m).__name__)))
        x = lib.ones(4, 2, requires_grad=True)
        net(x).sum().backward()
    finally:
        for h in handles:
            h.remove()
    net(x)
    return log


def test_global_module_hooks_match_torch():
    ours = _global_hook_log(disttorch, "disttorch.nn.modules.module")
    theirs = _global_hook_log(torch, "torch.nn.modules.module")
    assert ours == theirs


REPR_CASES = [
    ("Linear", (3, 4), {"bias": False}), ("Bilinear", (2, 3, 4), {"bias": False}),
    ("Embedding", (10, 3), {"padding_idx": -1, "max_norm": 2.0, "norm_type": 1.0,
                            "scale_grad_by_freq": True, "sparse": True}),
    ("EmbeddingBag", (10, 3), {"mode": "max", "padding_idx": 1, "max_norm": 1.0}),
    ("Flatten", (), {"start_dim": 2, "end_dim": -2}), ("Unflatten", (1, (2, 3)), {}),
    ("Dropout2d", (0.3, True), {}), ("ELU", (0.5, True), {}), ("CELU", (2.0,), {}),
    ("Softplus", (2, 10), {}), ("Threshold", (0.5, 1.0, True), {}),
    ("RReLU", (0.1, 0.2, True), {}), ("Hardtanh", (-2.0, 3.0, True), {}),
    ("LeakyReLU", (0.3, True), {}), ("GELU", ("tanh",), {}), ("Softmax", (-1,), {}),
    ("LogSoftmax", (), {}), ("Softmin", (0,), {}), ("GLU", (1,), {}), ("Softshrink", (0.3,), {}),
    ("Hardshrink", (0.2,), {}), ("PReLU", (4, 0.1), {}), ("CosineSimilarity", (0, 1e-6), {}),
    ("PairwiseDistance", (1, 1e-5, True), {}), ("Identity", (3,), {"x": 1}),
    ("CTCLoss", (), {"blank": 2}), ("TripletMarginLoss", (), {"margin": 2.0}),
    ("MultiMarginLoss", (), {"p": 2}), ("Softmax2d", (), {}), ("SiLU", (True,), {}),
    ("Mish", (True,), {}), ("AlphaDropout", (0.1,), {}), ("FeatureAlphaDropout", (0.2, True), {}),
    ("Dropout1d", (), {}),
]


@pytest.mark.parametrize("name,args,kwargs", REPR_CASES, ids=[c[0] for c in REPR_CASES])
def test_repr_and_state_dict_keys_match_torch(name, args, kwargs):
    ours = getattr(nn, name)(*args, **kwargs)
    theirs = getattr(torch.nn, name)(*args, **kwargs)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())


def test_compile_in_place_leaves_the_module_working():
    model = disttorch.nn.Linear(3, 2)
    x = disttorch.ones(1, 3)
    before = model(x)
    assert model.compile(mode="reduce-overhead") is None
    np.testing.assert_array_equal(model(x).detach().numpy(), before.detach().numpy())


def test_full_backward_hook_grad_input_has_an_entry_per_positional_argument_like_torch():
    torch = pytest.importorskip("torch")
    logs = []
    for lib in (disttorch, torch):
        class Scaled(lib.nn.Module):
            def forward(self, a, b, scale):
                return a * b * scale
        log = []
        m = Scaled()
        m.register_full_backward_hook(
            lambda mod, gi, go: log.append([None if g is None else g.tolist() for g in gi]))
        a = lib.tensor([1.0, 2.0], requires_grad=True)
        b = lib.tensor([5.0, 7.0])       # requires no grad: zeros in grad_input
        m(a, b, 3.0).sum().backward()
        replacing = Scaled()
        replacing.register_full_backward_hook(lambda mod, gi, go: (gi[0] * 0, gi[1], None))
        a.grad = None
        replacing(a, b, 3.0).sum().backward()
        log.append(a.grad.tolist())
        short = Scaled()
        short.register_full_backward_hook(lambda mod, gi, go: (gi[0],))
        with pytest.raises(RuntimeError) as info:
            short(a, b, 3.0).sum().backward()
        log.append(str(info.value))
        logs.append(log)
    assert logs[0] == logs[1]
