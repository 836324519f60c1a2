"""Device memory an activation-saving step holds between its forward and backward, counted on
the simulated CUDA device (no GPU needed): plain, under ``save_on_cpu`` and with non-reentrant
``checkpoint``.

    python benchmarks/activation_memory.py

The simulated device counts the bytes of live device arrays exactly, so the numbers are those a
GPU's allocator would hold for the same arrays (without its rounding and caching).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import disttorch  # noqa: E402
from disttorch.autograd.graph import save_on_cpu  # noqa: E402
from disttorch.cuda import _simulated  # noqa: E402
from disttorch.utils.checkpoint import checkpoint  # noqa: E402


def _models():
    nn = disttorch.nn
    return {
        "mlp": (lambda: nn.Sequential(*[m for _ in range(4) for m in (
            nn.Linear(256, 256), nn.GELU(), nn.LayerNorm(256))]), (512, 256)),
        "cnn": (lambda: nn.Sequential(nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16),
                                      nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(16, 16, 3, padding=1),
                                      nn.ReLU()), (16, 8, 32, 32)),
        "lstm": (lambda: nn.LSTM(64, 128, num_layers=2), (32, 16, 64)),
        "transformer": (lambda: nn.TransformerEncoder(
            nn.TransformerEncoderLayer(128, 4, 256, dropout=0.1), 2,
            enable_nested_tensor=False), (64, 8, 128)),
    }


def _held(run, x):
    base = disttorch.cuda.memory_allocated()
    out = run(x)
    out = out[0] if isinstance(out, tuple) else out
    loss = out.pow(2).mean()
    held = disttorch.cuda.memory_allocated() - base
    loss.backward()
    return held / 2 ** 20


def main():
    print(f"{'workload':12s} {'plain MiB':>10s} {'save_on_cpu':>12s} {'checkpoint':>11s}")
    with _simulated.simulate():
        for name, (build, shape) in _models().items():
            disttorch.manual_seed(0)
            model = build().cuda()
            x = disttorch.randn(*shape, device="cuda")
            plain = _held(model, x)
            with save_on_cpu():
                offloaded = _held(model, x)
            recomputed = _held(lambda t: checkpoint(model, t, use_reentrant=False), x)
            print(f"{name:12s} {plain:10.2f} {offloaded:12.2f} {recomputed:11.2f}")


if __name__ == "__main__":
    main()
