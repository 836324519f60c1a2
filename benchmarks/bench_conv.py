"""Convolution benchmark, disttorch vs torch in one run, alternating, single thread.

    python benchmarks/bench_conv.py [--rounds 5] [--device cpu|cuda]

Workload: the CNN benchmark's two convolutions, batch 64, 28x28 input, 3x3 kernels with
padding 1: conv 1->32, relu, conv 32->64; forward, and forward + backward (gradients of the
input-side weights and biases). On ``--device cuda`` disttorch runs on CuPy and the torch
column is torch's CPU build (reported for scale, not as a like-for-like ratio).
"""
import argparse
import os
import sys

# one BLAS/OpenMP thread for both frameworks; set before numpy and torch are imported
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

import disttorch  # noqa: E402
from benchmarks._common import alternate, print_table  # noqa: E402

try:
    import torch  # noqa: E402
except ImportError:
    sys.exit("torch is needed for the comparison: pip install torch==2.13.0")


def conv_workload(lib, device, backward, batch=64):
    rng = np.random.default_rng(0)
    arrays = {"x": rng.standard_normal((batch, 1, 28, 28)),
              "w1": rng.standard_normal((32, 1, 3, 3)) / 3, "b1": rng.standard_normal(32),
              "w2": rng.standard_normal((64, 32, 3, 3)) / 17, "b2": rng.standard_normal(64),
              "g": rng.standard_normal((batch, 64, 28, 28))}
    t = {k: lib.tensor(v.astype(np.float32), device=device) for k, v in arrays.items()}
    params = [t[k].requires_grad_() for k in ("w1", "b1", "w2", "b2")]
    F = lib.nn.functional
    sync = disttorch.cuda.synchronize if lib is disttorch and device == "cuda" else (lambda: None)

    def run():
        if backward:
            h = F.relu(F.conv2d(t["x"], t["w1"], t["b1"], padding=1))
            out = F.conv2d(h, t["w2"], t["b2"], padding=1)
            out.backward(t["g"])
            for p in params:
                p.grad = None
        else:
            with lib.no_grad():
                h = F.relu(F.conv2d(t["x"], t["w1"], t["b1"], padding=1))
                F.conv2d(h, t["w2"], t["b2"], padding=1)
        sync()
    return run


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = []
    for label, backward in (("forward", False), ("forward + backward", True)):
        res = alternate({"disttorch": conv_workload(disttorch, args.device, backward),
                         "torch": conv_workload(torch, "cpu", backward)},
                        args.rounds, repeat=args.repeat)
        rows.append((label, res["disttorch"], res["torch"]))
    title = (f"conv2d 1->32->64, 3x3 pad 1, batch 64, 28x28 float32 (disttorch on "
             f"{args.device}, torch on cpu, 1 thread, medians)")
    print_table(title, rows)


if __name__ == "__main__":
    main()
