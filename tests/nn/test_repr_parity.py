"""``repr`` of modules (layers, losses, containers) against torch's, with the same arguments."""
import pytest

import disttorch
from tests.ops.harness import requires_torch, torch

MODULES = {
    "Linear": ((4, 3), {}),
    "Linear_nobias": ((4, 3), {"bias": False}),
    "Bilinear": ((2, 3, 4), {}),
    "Identity": ((), {}),
    "Conv1d": ((2, 3, 3), {"stride": 2, "padding": 1}),
    "Conv2d": ((2, 3, (3, 5)), {"dilation": 2, "groups": 1, "bias": False}),
    "Conv2d_pm": ((2, 4, 3), {"padding_mode": "reflect", "padding": 1, "groups": 2}),
    "ConvTranspose2d": ((2, 3, 3), {"output_padding": 1, "stride": 2}),
    "MaxPool2d": ((2,), {}),
    "MaxPool2d_args": ((3, 2, 1), {"ceil_mode": True}),
    "AvgPool2d": ((2,), {"count_include_pad": False}),
    "AdaptiveAvgPool2d": (((1, 1),), {}),
    "AdaptiveMaxPool1d": ((4,), {}),
    "BatchNorm1d": ((3,), {}),
    "BatchNorm2d": ((3,), {"momentum": None, "affine": False}),
    "LayerNorm": ((5,), {}),
    "LayerNorm_tuple": (((2, 5),), {"elementwise_affine": False}),
    "GroupNorm": ((2, 4), {}),
    "InstanceNorm2d": ((3,), {}),
    "LocalResponseNorm": ((2,), {}),
    "RMSNorm": ((4,), {}),
    "Dropout": ((), {}),
    "Dropout_p": ((0.3,), {"inplace": True}),
    "Dropout2d": ((), {}),
    "ReLU": ((), {}),
    "ReLU_inplace": ((True,), {}),
    "LeakyReLU": ((0.2,), {}),
    "ELU": ((), {}),
    "GELU": ((), {"approximate": "tanh"}),
    "SiLU": ((), {}),
    "Softmax": ((1,), {}),
    "LogSoftmax": ((), {"dim": -1}),
    "Softplus": ((), {}),
    "Hardtanh": ((), {}),
    "ReLU6": ((), {}),
    "PReLU": ((), {}),
    "Tanh": ((), {}),
    "Sigmoid": ((), {}),
    "Threshold": ((0.1, 20.0), {}),
    "Embedding": ((10, 3), {}),
    "Embedding_pad": ((10, 3), {"padding_idx": 0, "max_norm": 1.0}),
    "EmbeddingBag": ((10, 3), {"mode": "sum"}),
    "LSTM": ((4, 8), {"num_layers": 2, "batch_first": True}),
    "GRU": ((4, 8), {"bidirectional": True}),
    "RNN": ((4, 8), {"nonlinearity": "relu"}),
    "LSTMCell": ((4, 8), {}),
    "GRUCell": ((4, 8), {"bias": False}),
    "MultiheadAttention": ((8, 2), {}),
    "TransformerEncoderLayer": ((8, 2, 16), {}),
    "Flatten": ((), {}),
    "Unflatten": ((1, (2, 2)), {}),
    "Upsample": ((), {"scale_factor": 2, "mode": "nearest"}),
    "PixelShuffle": ((2,), {}),
    "ZeroPad2d": ((1,), {}),
    "ConstantPad1d": ((2, 3.5), {}),
    "ReflectionPad2d": ((1,), {}),
    "CrossEntropyLoss": ((), {"label_smoothing": 0.1}),
    "MSELoss": ((), {}),
    "L1Loss": ((), {"reduction": "sum"}),
    "NLLLoss": ((), {}),
    "BCEWithLogitsLoss": ((), {}),
    "SmoothL1Loss": ((), {"beta": 0.5}),
    "HuberLoss": ((), {}),
    "KLDivLoss": ((), {"reduction": "batchmean"}),
    "CosineSimilarity": ((), {}),
    "PairwiseDistance": ((), {}),
    "Softmax2d": ((), {}),
    "Hardswish": ((), {}),
    "Mish": ((), {}),
    "CELU": ((), {}),
    "Softsign": ((), {}),
    "Tanhshrink": ((), {}),
    "Softshrink": ((), {}),
    "Hardshrink": ((0.3,), {}),
    "GLU": ((), {}),
    "ChannelShuffle": ((2,), {}),
    "Fold": (((4, 4), (2, 2)), {}),
    "Unfold": (((2, 2),), {"stride": 2}),
    "CTCLoss": ((), {}),
    "TripletMarginLoss": ((), {"margin": 0.5}),
    "MarginRankingLoss": ((), {}),
    "Sequential": None,
    "ModuleList": None,
    "ModuleDict": None,
    "ParameterList": None,
}


def _containers(lib, kind):
    nn = lib.nn
    if kind == "Sequential":
        return nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Sequential(nn.Dropout(0.1)))
    if kind == "ModuleList":
        return nn.ModuleList([nn.Linear(1, 1), nn.Linear(1, 1), nn.Linear(1, 1), nn.Tanh()])
    if kind == "ModuleDict":
        return nn.ModuleDict({"a": nn.Linear(1, 2), "b": nn.ReLU()})
    return nn.ParameterList([nn.Parameter(lib.zeros(2)), nn.Parameter(lib.zeros(2, 3))])


def _build(lib, name):
    kind, spec = name.split("_")[0], MODULES[name]
    if spec is None:
        return _containers(lib, kind)
    return getattr(lib.nn, kind)(*spec[0], **spec[1])


@requires_torch
@pytest.mark.parametrize("name", sorted(MODULES))
def test_module_repr_matches_torch(name):
    expected, actual = repr(_build(torch, name)), repr(_build(disttorch, name))
    # (a parameter's line names its dtype as PyTorch prints it, torch.float32)
    assert actual in (expected, expected.replace("torch.", "disttorch."))
