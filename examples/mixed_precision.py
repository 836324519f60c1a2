"""Mixed precision: autocast and a GradScaler, on the digits CNN.

    python examples/mixed_precision.py                    # GPU: float16 + GradScaler; CPU: bfloat16
                                                          # (float32 without ml_dtypes)
    python examples/mixed_precision.py --dtype float32    # the full-precision baseline

Under ``torch.autocast`` matrix products and convolutions run in the low-precision dtype
while reductions and the loss stay in float32; the weights and the optimizer remain float32.
float16 gradients can underflow, so on the GPU a ``GradScaler`` multiplies the loss before
``backward`` and unscales the gradients before the step (skipping steps whose gradients
overflowed). bfloat16 has float32's exponent range and needs no scaler.
"""
import argparse
import contextlib
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import disttorch as torch
from disttorch import nn
from disttorch.utils.data import DataLoader

from digits_data import digits
from train_digits import Net

TARGET_ACCURACY = 0.9


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--dtype", choices=["auto", "float16", "bfloat16", "float32"], default="auto")
    args = p.parse_args()
    torch.manual_seed(0)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    name = args.dtype if args.dtype != "auto" else ("float16" if device == "cuda" else "bfloat16")
    if name == "bfloat16" and torch.bfloat16 is None:
        # disttorch's bfloat16 comes from the optional ml_dtypes package
        print("bfloat16 needs ml_dtypes (pip install ml_dtypes): running in float32")
        name = "float32"
    dtype = getattr(torch, name)

    def autocast():
        if dtype is torch.float32:
            return contextlib.nullcontext()
        return torch.autocast(device_type=device, dtype=dtype)
    scaler = torch.amp.GradScaler(device, enabled=dtype is torch.float16)
    print(f"device {device}, autocast dtype {name}, gradient scaling "
          f"{'on' if scaler.is_enabled() else 'off'}")

    train_set, test_set = digits()
    loader = DataLoader(train_set, batch_size=32, shuffle=True)
    model = Net().to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(args.epochs):
        total = 0.0
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            optimizer.zero_grad()
            with autocast():
                logits = model(x)
                loss = loss_fn(logits, y)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            total += loss.item()
        print(f"epoch {epoch}: loss {total / len(loader):.4f}  logits {logits.dtype}  "
              f"weights {model.classifier[-1].weight.dtype}", flush=True)

    model.eval()
    images, labels = (t.to(device) for t in test_set.tensors)
    with torch.no_grad(), autocast():
        accuracy = (model(images).argmax(1) == labels).float().mean().item()
    reached = "reached" if accuracy >= TARGET_ACCURACY else "NOT reached"
    print(f"{name} test accuracy {accuracy:.3f} (target {TARGET_ACCURACY}: {reached})")


if __name__ == "__main__":
    main()
