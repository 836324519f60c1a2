"""ResNet-18 training-step benchmark, disttorch.vision vs torch + torchvision in one run.

    python benchmarks/bench_resnet.py [--rounds 5] [--threads 1] [--device cpu|cuda]

Workload: ``resnet18(num_classes=10)`` on a batch of 32 random 3x32x32 images: forward,
cross-entropy, backward, SGD step (momentum 0.9, weight decay 5e-4), for torchvision's
ImageNet stem and for the CIFAR stem (3x3 stride-1 ``conv1``, no max-pool: 16x the
activations); plus the eval-mode forward. Both frameworks start from the same weights.

The torch side uses torchvision's ``resnet18`` when torchvision is installed. Without it the
torch column is skipped, unless ``--torch-model rebuild`` asks for the plain ``torch.nn``
rebuild of torchvision's architecture from ``tests/vision`` (same module tree and parameter
count). For the CIFAR stem the torch model's ``conv1`` and ``maxpool`` are swapped likewise.
"""
import argparse
import os
import sys


def _set_threads(argv):
    # BLAS/OpenMP read these once, at import: set them before numpy and torch load
    threads = "1"
    if "--threads" in argv:
        threads = argv[argv.index("--threads") + 1]
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = threads
    return int(threads)


_THREADS = _set_threads(sys.argv)
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

import disttorch  # noqa: E402
from benchmarks._common import alternate, print_table  # noqa: E402
from disttorch.vision import models  # noqa: E402

try:
    import torch  # noqa: E402
except ImportError:
    torch = None


def torch_resnet18(kind, cifar_stem):
    """The torch model, or None when the requested kind is not available."""
    if torch is None or kind == "none":
        return None
    if kind in ("auto", "torchvision"):
        try:
            import torchvision
        except ImportError:
            if kind == "torchvision":
                sys.exit("--torch-model torchvision: torchvision is not installed")
            return None
        model = torchvision.models.resnet18(num_classes=10)
        if cifar_stem:
            model.conv1 = torch.nn.Conv2d(3, 64, 3, 1, 1, bias=False)
            model.maxpool = torch.nn.Identity()
        return model
    from tests.vision import torchvision_reference
    return torchvision_reference.resnet18(num_classes=10, cifar_stem=cifar_stem)


def step_workload(lib, model, device, train, batch=32):
    rng = np.random.default_rng(0)
    x = lib.tensor(rng.standard_normal((batch, 3, 32, 32)).astype(np.float32), device=device)
    y = lib.tensor(rng.integers(0, 10, batch), device=device)
    model = model.to(device)
    model.train(train)
    optimizer = lib.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    loss_fn = lib.nn.CrossEntropyLoss()
    sync = (disttorch.cuda.synchronize if lib is disttorch and device == "cuda"
            else (lambda: None))

    def run():
        if train:
            optimizer.zero_grad()
            loss_fn(model(x), y).backward()
            optimizer.step()
        else:
            with lib.no_grad():
                model(x)
        sync()
    run()  # warm-up: first-call allocations, momentum buffers
    return run


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--torch-model", default="auto",
                        choices=["auto", "torchvision", "rebuild", "none"])
    args = parser.parse_args()
    if torch is not None:
        torch.set_num_threads(_THREADS)
    rows, torch_source = [], None
    for label, cifar_stem, train in (("train step, ImageNet stem", False, True),
                                     ("train step, CIFAR stem", True, True),
                                     ("eval forward, ImageNet stem", False, False)):
        ours = models.resnet18(num_classes=10, cifar_stem=cifar_stem)
        workloads = {}
        theirs = torch_resnet18(args.torch_model, cifar_stem)
        if theirs is not None:
            torch_source = type(theirs).__module__.split(".")[0]
            state = {k: torch.from_numpy(v.numpy().copy()) for k, v in ours.state_dict().items()}
            theirs.load_state_dict(state)
            workloads["torch"] = step_workload(torch, theirs, "cpu", train)
        workloads["disttorch"] = step_workload(disttorch, ours, args.device, train)
        res = alternate(workloads, args.rounds, repeat=args.repeat)
        rows.append((label, res["disttorch"], res.get("torch")))
    if torch_source == "torchvision":
        torch_note = "torch + torchvision on cpu"
    elif torch_source:
        torch_note = "torch on cpu (torch.nn rebuild of torchvision's resnet18)"
    else:
        torch_note = ("torch side skipped: torchvision is not installed (--torch-model rebuild "
                      "compares with a torch.nn rebuild)")
    title = (f"resnet18(num_classes=10), batch 32, 3x32x32, SGD momentum; disttorch on "
             f"{args.device}, {torch_note}; {_THREADS} thread(s), medians")
    if torch_source:
        print_table(title, rows)
        return
    print(f"\n{title}")
    print(f"{'workload':<40} {'disttorch':>12}")
    for label, ours, _ in rows:
        print(f"{label:<40} {ours * 1e3:>10.3f}ms")


if __name__ == "__main__":
    main()
