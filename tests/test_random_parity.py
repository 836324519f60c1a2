"""After the same ``manual_seed``, disttorch's CPU random numbers are PyTorch's: the samplers,
``nn.init`` and module initialisation, dropout masks, DataLoader shuffling and the samplers of
``utils.data``, and so a whole seeded training run (torch is the oracle)."""
import numpy as np
import pytest

import disttorch
from tests.ops.harness import requires_torch

torch = pytest.importorskip("torch", reason="torch is the oracle: pip install torch==2.13.0")

pytestmark = requires_torch

# bit for bit
EXACT = {
    "rand": lambda L: L.rand(3, 5),
    "rand float64": lambda L: L.rand(7, dtype=L.float64),
    "rand float16": lambda L: L.rand(9, dtype=L.float16),
    "rand bfloat16": lambda L: L.rand(9, dtype=L.bfloat16),
    "rand complex64": lambda L: L.view_as_real(L.rand(5, dtype=L.complex64)),
    "randn small float32": lambda L: L.randn(5),
    "randn float64": lambda L: L.randn(3, 7, dtype=L.float64),
    "randn float64 odd tail": lambda L: L.randn(37, dtype=L.float64),
    "randn complex128": lambda L: L.view_as_real(L.randn(20, dtype=L.complex128)),
    "normal cache across calls": lambda L: L.cat([L.randn(3, dtype=L.float64) for _ in range(3)]),
    "normal tensors": lambda L: L.normal(L.zeros(30, dtype=L.float64),
                                         L.arange(30, dtype=L.float64)),
    "randint": lambda L: L.randint(-5, 10, (4, 6)),
    "randint wide range": lambda L: L.randint(0, 2 ** 40, (10,)),
    "randint int32": lambda L: L.randint(3, 9, (10,), dtype=L.int32),
    "randperm": lambda L: L.randperm(500),
    "random_ float32": lambda L: L.empty(10).random_(),
    "random_ int64": lambda L: L.empty(10, dtype=L.int64).random_(),
    "random_ uint8": lambda L: L.empty(10, dtype=L.uint8).random_(),
    "random_ bool": lambda L: L.empty(10, dtype=L.bool).random_(),
    "random_ to": lambda L: L.empty(10, dtype=L.int32).random_(7),
    "random_ from to": lambda L: L.empty(10).random_(-3, 4),
    "uniform_": lambda L: L.empty(40).uniform_(-0.3, 0.7),
    "uniform_ transposed": lambda L: L.empty(4, 6).t().uniform_(),
    "normal_ transposed": lambda L: L.empty(4, 6).t().normal_(),
    "bernoulli probabilities float32": lambda L: L.bernoulli(L.linspace(0, 1, 50)),
    "bernoulli probabilities float64": lambda L: L.bernoulli(L.linspace(0, 1, 50,
                                                                        dtype=L.float64)),
    "bernoulli p": lambda L: L.bernoulli(L.zeros(50), 0.4),
    "bernoulli_ tensor p": lambda L: L.zeros(3, 8).bernoulli_(L.full((8,), 0.3)),
    "cauchy_": lambda L: L.empty(20, dtype=L.float64).cauchy_(1.0, 2.0),
    "geometric_": lambda L: L.empty(20, dtype=L.float64).geometric_(0.3),
    "dropout": lambda L: L.nn.functional.dropout(L.ones(64), 0.3),
    "dropout2d": lambda L: L.nn.functional.dropout2d(L.ones(2, 8, 3, 3), 0.5),
    # a permuted input: PyTorch draws into empty_like(input), in the input's memory order
    "dropout transposed": lambda L: L.nn.functional.dropout(L.ones(5, 7).t(), 0.5),
    "dropout permuted slice": lambda L: L.nn.functional.dropout(
        L.ones(4, 6, 10)[..., ::2].permute(2, 0, 1), 0.3),
    "rand_like transposed": lambda L: L.rand_like(L.ones(5, 7).t()),
    "randn_like transposed": lambda L: L.randn_like(L.ones(5, 7, dtype=L.float64).t()),
    "randint_like transposed": lambda L: L.randint_like(L.ones(5, 7).t(), 3, 20),
    "rand_like expanded": lambda L: L.rand_like(L.ones(7).expand(5, 7)),
    "empty_like transposed normal_": lambda L: L.empty_like(
        L.ones(6, 5, dtype=L.float64).t()).normal_(),
    "zeros_like permuted uniform_": lambda L: L.zeros_like(
        L.ones(3, 4, 5).permute(1, 2, 0)).uniform_(),
    "bernoulli transposed": lambda L: L.bernoulli(L.full((6, 5), 0.5).t()),
    "dropout module": lambda L: L.nn.Dropout(0.1)(L.arange(100.0)),
    "alpha_dropout": lambda L: L.nn.functional.alpha_dropout(L.ones(40), 0.2, training=True),
    "multinomial": lambda L: L.multinomial(L.tensor([[0.1, 2.0, 0.5, 0.0, 1.2], [1.0] * 5]), 3),
    "multinomial float64 one": lambda L: L.multinomial(L.arange(1.0, 9.0, dtype=L.float64), 1),
    "multinomial replacement": lambda L: L.multinomial(L.tensor([0.2, 0.0, 3.0, 1.0]), 12,
                                                       replacement=True),
    # without replacement past the categories of non-zero weight: PyTorch's topk orders the
    # tied zero keys (std::nth_element, or partial_sort for k * 64 <= n)
    "multinomial zero weights": lambda L: L.multinomial(L.tensor([0.2, 0.8, 0.0, 0.0]), 3),
    "multinomial every category": lambda L: L.multinomial(
        L.tensor([[0.2, 0.8, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0], [0.0, 1.0, 0.0, 2.0]]), 4),
    "multinomial zero weights partial_sort": lambda L: L.multinomial(
        L.cat([L.zeros(300), L.tensor([1.0, 2.0])]), 4),
    "multinomial float16 tied keys": lambda L: L.multinomial(
        L.tensor([0.0, 1.0, 0.0, 2.0, 0.0, 3.0] * 8, dtype=L.float16), 30),
    "linear": lambda L: L.nn.Linear(20, 30).weight,
    "linear bias": lambda L: L.nn.Linear(20, 30).bias,
    "conv2d": lambda L: L.nn.Conv2d(3, 8, 3).weight,
    "lstm": lambda L: L.nn.LSTM(5, 7, num_layers=2).weight_hh_l1,
    "kaiming_uniform_": lambda L: L.nn.init.kaiming_uniform_(L.empty(16, 9)),
    "xavier_uniform_": lambda L: L.nn.init.xavier_uniform_(L.empty(16, 9)),
    "trunc_normal_ tail": lambda L: L.nn.init.trunc_normal_(L.empty(50), a=2.0, b=3.0),
    "normal_ float64": lambda L: L.nn.init.normal_(L.empty(33, dtype=L.float64), 1.0, 0.5),
}

# float32 normal tensors of 16+ elements: PyTorch's vectorised log/sin/cos approximations
CLOSE = {
    "randn float32": lambda L: L.randn(4, 50),
    "embedding": lambda L: L.nn.Embedding(10, 4).weight,
    "trunc_normal_": lambda L: L.nn.init.trunc_normal_(L.empty(50, 50), std=0.02),
    "xavier_normal_": lambda L: L.nn.init.xavier_normal_(L.empty(30, 20)),
    "orthogonal_": lambda L: L.nn.init.orthogonal_(L.empty(6, 4)),
    "sparse_": lambda L: L.nn.init.sparse_(L.empty(6, 4), 0.5),
    # seeded weights and dropout masks; the batch-first attention output is a transposed
    # view in both, so the dropout after it draws in the same order (float32 arithmetic)
    "transformer layer batch_first": lambda L: L.nn.TransformerEncoderLayer(
        8, 2, 16, dropout=0.3, batch_first=True)(L.linspace(-1, 1, 48).reshape(2, 3, 8)),
    "transformer decoder layer": lambda L: L.nn.TransformerDecoderLayer(
        8, 2, 16, dropout=0.3, batch_first=True, norm_first=True)(
        L.linspace(-1, 1, 48).reshape(2, 3, 8), L.linspace(1, 2, 32).reshape(2, 2, 8)),
    # the same uniforms; PyTorch's log differs from numpy's in the last bit now and then
    "exponential_": lambda L: L.empty(20, dtype=L.float64).exponential_(2.0),
}


def _seeded(lib, fn, seed=7):
    lib.manual_seed(seed)
    value = fn(lib)
    # what the generator holds afterwards must agree too
    after = lib.randint(0, 2 ** 31, (4,)).tolist()
    return value.detach().to(lib.float64).numpy(), after


@pytest.mark.parametrize("name", sorted(EXACT))
def test_same_numbers_as_torch(name):
    ours, ours_after = _seeded(disttorch, EXACT[name])
    theirs, theirs_after = _seeded(torch, EXACT[name])
    np.testing.assert_array_equal(ours, theirs)
    assert ours_after == theirs_after


@pytest.mark.parametrize("name", sorted(CLOSE))
def test_float32_normals_agree_to_rounding(name):
    ours, ours_after = _seeded(disttorch, CLOSE[name])
    theirs, theirs_after = _seeded(torch, CLOSE[name])
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=3e-6 * max(1.0, np.abs(theirs).max()))
    assert ours_after == theirs_after


@pytest.mark.parametrize("make", [
    lambda L: L.ones(5, 7).t(), lambda L: L.ones(2, 3, 4).permute(2, 0, 1),
    lambda L: L.ones(6, 8)[:, ::2].t(), lambda L: L.ones(7).expand(5, 7),
    lambda L: L.ones(5, 7)[1:, 2:]])
def test_like_functions_keep_torchs_layout(make):
    for fn in (lambda L, x: L.empty_like(x), lambda L, x: L.zeros_like(x),
               lambda L, x: L.full_like(x, 2), lambda L, x: L.rand_like(x)):
        ours, theirs = fn(disttorch, make(disttorch)), fn(torch, make(torch))
        sized = [d for d in range(ours.dim()) if ours.shape[d] > 1]
        assert [ours.stride(d) for d in sized] == [theirs.stride(d) for d in sized]
        assert ours.is_contiguous() == theirs.is_contiguous()


def test_generators_and_default_seed():
    a, b = disttorch.Generator().manual_seed(2 ** 40 + 5), torch.Generator().manual_seed(2 ** 40 + 5)
    assert disttorch.randn(20, generator=a, dtype=disttorch.float64).tolist() == \
        torch.randn(20, generator=b, dtype=torch.float64).tolist()
    # a fresh generator starts from PyTorch's default seed
    assert disttorch.rand(4, generator=disttorch.Generator()).tolist() == \
        torch.rand(4, generator=torch.Generator()).tolist()


def test_state_round_trip_keeps_the_normal_cache():
    g = disttorch.Generator().manual_seed(3)
    disttorch.randn(1, generator=g, dtype=disttorch.float64)      # leaves one value cached
    state = g.get_state()
    first = disttorch.randn(3, generator=g, dtype=disttorch.float64).tolist()
    g.set_state(state)
    assert disttorch.randn(3, generator=g, dtype=disttorch.float64).tolist() == first


def _loader_epochs(lib, **kwargs):
    lib.manual_seed(5)
    data = lib.utils.data.TensorDataset(lib.arange(37))
    loader = lib.utils.data.DataLoader(data, batch_size=8, shuffle=True, **kwargs)
    epochs = [[batch[0].tolist() for batch in loader] for _ in range(2)]
    return epochs, lib.rand(2).tolist()


def test_dataloader_shuffles_as_torch():
    assert _loader_epochs(disttorch) == _loader_epochs(torch)
    assert _loader_epochs(disttorch, drop_last=True) == _loader_epochs(torch, drop_last=True)


def test_samplers_and_random_split_as_torch():
    def draws(lib):
        g = lib.Generator().manual_seed(3)
        with_generator = [list(lib.utils.data.RandomSampler(range(20), generator=g))
                          for _ in range(2)]
        lib.manual_seed(1)
        subset = list(lib.utils.data.SubsetRandomSampler([10, 20, 30, 40]))
        replaced = list(lib.utils.data.RandomSampler(range(10), replacement=True,
                                                     num_samples=70))
        split = [list(s) for s in lib.utils.data.random_split(range(10), [0.5, 0.5])]
        shard = lib.utils.data.distributed.DistributedSampler(range(10), num_replicas=2,
                                                              rank=1, seed=4)
        shard.set_epoch(2)
        weighted = [list(lib.utils.data.WeightedRandomSampler([0.1, 0.9, 0.4, 0.7, 3.0], 4,
                                                             replacement=r)) for r in (True, False)]
        return with_generator, subset, replaced, split, list(shard), weighted
    assert draws(disttorch) == draws(torch)


@pytest.mark.parametrize("how", ["break", "next(iter())"])
def test_an_epoch_cut_short_leaves_the_generator_where_torch_does(how):
    """PyTorch's RandomSampler draws one more (unused) permutation when its last index is
    passed; an epoch stopped before that has not drawn it."""
    def epochs(lib):
        loader = lib.utils.data.DataLoader(range(6), batch_size=2, shuffle=True,
                                           generator=lib.Generator().manual_seed(0))
        firsts = []
        for _ in range(3):
            if how == "break":
                for batch in loader:
                    firsts.append(batch.tolist())
                    break
            else:
                firsts.append(next(iter(loader)).tolist())
        return firsts

    assert epochs(disttorch) == epochs(torch) == [[5, 1], [3, 2], [0, 4]]


def test_samplers_draw_when_their_first_index_is_asked_for():
    def draws(lib):
        data = lib.utils.data
        g = lib.Generator().manual_seed(8)
        seen = []
        for sampler in (data.RandomSampler(range(5), num_samples=12, generator=g),
                        data.RandomSampler(range(5), replacement=True, num_samples=40,
                                           generator=g),
                        data.SubsetRandomSampler([4, 8, 15], generator=g),
                        data.WeightedRandomSampler([1.0, 3.0, 2.0], 4, generator=g),
                        data.BatchSampler(data.RandomSampler(range(5), generator=g), 2, True)):
            iterator = iter(sampler)
            seen.append(lib.rand(1, generator=g).tolist())      # iter() alone draws nothing
            for count in (1, 4, 1):
                seen.append([next(iterator, None) for _ in range(count)])
                seen.append(lib.rand(1, generator=g).tolist())
            seen.append(list(iterator))
            seen.append(lib.rand(1, generator=g).tolist())
        return seen

    assert draws(disttorch) == draws(torch)


def test_random_split_between_loader_epochs_as_torch():
    def draws(lib):
        data = lib.utils.data
        g = lib.Generator().manual_seed(2)
        loader = data.DataLoader(range(9), batch_size=4, shuffle=True, generator=g)
        seen = []
        for _ in range(2):
            seen.append(next(iter(loader)).tolist())
            seen.append([list(s) for s in data.random_split(range(9), [4, 5], generator=g)])
        lib.manual_seed(6)
        seen.append([list(s) for s in data.random_split(range(10), [0.3, 0.3, 0.4])])
        return seen, lib.rand(2, generator=g).tolist(), lib.rand(2).tolist()

    assert draws(disttorch) == draws(torch)


def test_a_resumed_random_pass_replays_a_generator_driven_order():
    sampler = disttorch.utils.data.RandomSampler(range(30),
                                                 generator=disttorch.Generator().manual_seed(9))
    it = iter(sampler)
    head = [next(it) for _ in range(10)]
    state = sampler.state_dict()
    rest = list(it)
    again = disttorch.utils.data.RandomSampler(range(30), generator=disttorch.Generator())
    again.load_state_dict(state)
    assert list(again) == rest and sorted(head + rest) == list(range(30))


def _seeded_training(lib):
    """A small classifier trained from a seed with nothing copied between frameworks:
    initialisation, dropout and shuffling all come from the generator."""
    lib.manual_seed(0)
    x = lib.rand(96, 6, dtype=lib.float64)
    y = lib.randint(0, 3, (96,))
    model = lib.nn.Sequential(lib.nn.Linear(6, 16), lib.nn.ReLU(), lib.nn.Dropout(0.2),
                              lib.nn.Linear(16, 3)).double()
    opt = lib.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    loader = lib.utils.data.DataLoader(lib.utils.data.TensorDataset(x, y), batch_size=16,
                                       shuffle=True)
    losses = []
    for _ in range(3):
        for xb, yb in loader:
            opt.zero_grad()
            loss = lib.nn.functional.cross_entropy(model(xb), yb)
            loss.backward()
            opt.step()
            losses.append(loss.item())
    return losses


def test_a_seeded_training_run_follows_torchs_losses():
    ours, theirs = _seeded_training(disttorch), _seeded_training(torch)
    assert len(ours) == 18
    np.testing.assert_allclose(ours, theirs, rtol=1e-10)


@pytest.mark.parametrize("seed", range(6))
def test_multinomial_samples_zero_weight_categories_as_torch(seed):
    # n_sample is only bounded by the number of categories (4 here), not of non-zero weights
    probs = [0.2, 0.8, 0.0, 0.0]
    results = []
    for lib in (disttorch, torch):
        lib.manual_seed(seed)
        results.append(lib.multinomial(lib.tensor(probs), 3).tolist())
    assert results[0] == results[1]
    disttorch.manual_seed(0)
    assert sorted(disttorch.multinomial(disttorch.tensor(probs), 4).tolist()) == [0, 1, 2, 3]


@pytest.mark.parametrize("call, message", [
    (lambda L: L.multinomial(L.tensor([0.2, 0.8, 0.0, 0.0]), 5),
     "cannot sample n_sample > prob_dist.size(-1) samples without replacement"),
    (lambda L: L.multinomial(L.tensor([0.2, 0.8]), 0), "cannot sample n_sample <= 0 samples"),
    (lambda L: L.multinomial(L.tensor([0.2, 0.8]), -1, True),
     "cannot sample n_sample <= 0 samples"),
])
def test_multinomial_errors_match_torch(call, message):
    for lib in (torch, disttorch):
        with pytest.raises(RuntimeError) as info:
            call(lib)
        assert str(info.value) == message
