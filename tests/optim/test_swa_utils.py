"""``optim.swa_utils`` against torch: the averaged weights and buffers (SWA, EMA, custom
``avg_fn``, ``use_buffers``), ``SWALR``'s learning rates, ``update_bn``, errors, and a run on
the simulated CUDA device."""
import numpy as np
import pytest

import disttorch
from disttorch.cuda import _simulated

torch = pytest.importorskip("torch")


def _model(lib, weights=None):
    nn = lib.nn
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 2))
    if weights is not None:
        model.load_state_dict({k: lib.from_numpy(v.copy()) for k, v in weights.items()})
    return model


def _weights():
    rng = np.random.default_rng(1)
    return {k: (rng.standard_normal(tuple(v.shape)).astype(np.float32)
                if v.dtype == torch.float32 else v.numpy())
            for k, v in _model(torch).state_dict().items()}


def _train(lib, kind, device="cpu"):
    swa = lib.optim.swa_utils
    model = _model(lib, _weights()).to(device)
    averaged = {
        "swa": lambda: swa.AveragedModel(model),
        "ema": lambda: swa.AveragedModel(model, multi_avg_fn=swa.get_ema_multi_avg_fn(0.9)),
        "ema_avg_fn": lambda: swa.AveragedModel(model, avg_fn=swa.get_ema_avg_fn(0.8),
                                                use_buffers=True),
        "swa_buffers": lambda: swa.AveragedModel(model, use_buffers=True),
        "swa_avg_fn": lambda: swa.AveragedModel(model, avg_fn=swa.get_swa_avg_fn()),
    }[kind]()
    opt = lib.optim.SGD(model.parameters(), lr=0.1, momentum=0.5)
    sched = swa.SWALR(opt, swa_lr=0.05, anneal_epochs=3,
                      anneal_strategy="linear" if kind == "ema" else "cos")
    rng = np.random.default_rng(2)
    lrs = []
    for _ in range(6):
        x = lib.from_numpy(rng.standard_normal((16, 4)).astype(np.float32)).to(device)
        opt.zero_grad()
        model(x).pow(2).mean().backward()
        opt.step()
        sched.step()
        averaged.update_parameters(model)
        lrs.append(sched.get_last_lr()[0])
    batches = [lib.from_numpy(rng.standard_normal((8, 4)).astype(np.float32)) for _ in range(3)]
    swa.update_bn([(b, 0) for b in batches], averaged, device=device)
    out = averaged(batches[0].to(device)).detach().cpu().numpy()
    state = {k: v.detach().cpu().numpy().copy() for k, v in averaged.state_dict().items()}
    return out, state, lrs


@pytest.mark.parametrize("kind", ["swa", "ema", "ema_avg_fn", "swa_buffers", "swa_avg_fn"])
def test_averaged_model_matches_torch(kind):
    want, got = _train(torch, kind), _train(disttorch, kind)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-5, atol=1e-6)
    assert list(got[1]) == list(want[1])  # n_averaged, then module.* (state_dict keys)
    for key in want[1]:
        np.testing.assert_allclose(got[1][key], want[1][key], rtol=1e-5, atol=1e-6,
                                   err_msg=key)
    np.testing.assert_allclose(got[2], want[2], rtol=1e-12)


@pytest.mark.parametrize("epochs,strategy", [(0, "cos"), (1, "linear"), (5, "cos")])
def test_swalr_sequences_match_torch(epochs, strategy):
    lrs = []
    for lib in (torch, disttorch):
        params = [lib.nn.Parameter(lib.zeros(2)), lib.nn.Parameter(lib.zeros(2))]
        opt = lib.optim.SGD([{"params": params[:1], "lr": 0.3}, {"params": params[1:]}],
                            lr=0.1)
        sched = lib.optim.swa_utils.SWALR(opt, swa_lr=[0.01, 0.2], anneal_epochs=epochs,
                                          anneal_strategy=strategy)
        seen = []
        for _ in range(8):
            opt.step()
            sched.step()
            seen.append(sched.get_last_lr())
        lrs.append(seen)
    np.testing.assert_allclose(lrs[1], lrs[0], rtol=1e-12)


def test_errors():
    swa = disttorch.optim.swa_utils
    opt = disttorch.optim.SGD([disttorch.nn.Parameter(disttorch.zeros(1))], lr=0.1)
    with pytest.raises(ValueError, match="anneal_strategy must by one of 'cos' or 'linear', "
                                         "instead got cubic"):
        swa.SWALR(opt, 0.1, anneal_strategy="cubic")
    with pytest.raises(ValueError, match="anneal_epochs must be equal or greater than 0, got -1"):
        swa.SWALR(opt, 0.1, anneal_epochs=-1)
    with pytest.raises(ValueError, match="swa_lr must have the same length as "
                                         "optimizer.param_groups"):
        swa.SWALR(opt, [0.1, 0.2])
    with pytest.raises(ValueError, match=r"Invalid decay value 1.5 provided. Please provide a "
                                         r"value in \[0,1\] range."):
        swa.get_ema_multi_avg_fn(1.5)


def test_update_bn_without_batch_norm_changes_nothing():
    model = disttorch.nn.Linear(3, 2)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    disttorch.optim.swa_utils.update_bn([disttorch.ones(2, 3)], model)
    for k, v in model.state_dict().items():
        assert disttorch.equal(v, before[k])


def test_averaged_model_on_the_simulated_device():
    want = _train(disttorch, "ema")
    with _simulated.simulate():
        got = _train(disttorch, "ema", device="cuda")
    np.testing.assert_allclose(got[0], want[0], rtol=1e-5, atol=1e-6)
    for key in want[1]:
        np.testing.assert_allclose(got[1][key], want[1][key], rtol=1e-5, atol=1e-6)
