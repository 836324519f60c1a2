"""Custom autograd Functions: a checked gradient, and a straight-through estimator that trains.

    python examples/custom_function.py              # ~10 s

1. ``Swish``: ``x * sigmoid(x)`` with a hand-written backward, verified against finite
   differences by ``torch.autograd.gradcheck`` in float64.
2. ``BinarizeSTE``: forward is ``sign(x)`` (its true gradient is zero almost everywhere),
   backward passes the gradient through where ``|x| <= 1`` (the straight-through estimator).
   An MLP whose hidden units are binarised this way still learns the digits.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import disttorch as torch
from disttorch import nn
from disttorch.autograd import Function
from disttorch.utils.data import DataLoader

from digits_data import digits

TARGET_ACCURACY = 0.9


class Swish(Function):
    """``x * sigmoid(x)``; saves ``sigmoid(x)`` so backward costs one multiply-add."""

    @staticmethod
    def forward(ctx, x):
        s = torch.sigmoid(x)
        ctx.save_for_backward(x, s)
        return x * s

    @staticmethod
    def backward(ctx, grad_output):
        x, s = ctx.saved_tensors
        return grad_output * (s + x * s * (1 - s))


class BinarizeSTE(Function):
    """``sign(x)`` forward; the gradient of ``hardtanh(x)`` backward."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return torch.where(x >= 0, torch.ones_like(x), -torch.ones_like(x))

    @staticmethod
    def backward(ctx, grad_output):
        x, = ctx.saved_tensors
        return grad_output * (x.abs() <= 1).to(grad_output.dtype)


class BinaryMLP(nn.Module):
    """64 -> 256 (binarised) -> 10, with batch norm before the binarisation."""

    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(64, 256)
        self.norm = nn.BatchNorm1d(256)
        self.out = nn.Linear(256, 10)

    def forward(self, x):
        return self.out(BinarizeSTE.apply(self.norm(self.hidden(x.flatten(1)))))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=10)
    args = p.parse_args()
    torch.manual_seed(0)

    x = torch.randn(6, 4, dtype=torch.float64, requires_grad=True)
    print(f"gradcheck Swish: {torch.autograd.gradcheck(Swish.apply, (x,))}")
    y = Swish.apply(x)
    y.sum().backward()
    expected = torch.autograd.grad((x * torch.sigmoid(x)).sum(), x)[0]
    print(f"Swish gradient matches autograd's: {torch.allclose(x.grad, expected)}")

    train_set, test_set = digits()
    loader = DataLoader(train_set, batch_size=64, shuffle=True)
    model = BinaryMLP()
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    for epoch in range(args.epochs):
        for images, labels in loader:
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(model(images), labels)
            loss.backward()
            optimizer.step()
        print(f"epoch {epoch}: last batch loss {loss.item():.4f}", flush=True)
    model.eval()
    images, labels = test_set.tensors
    with torch.no_grad():
        accuracy = (model(images).argmax(1) == labels).float().mean().item()
    reached = "reached" if accuracy >= TARGET_ACCURACY else "NOT reached"
    print(f"binarised MLP test accuracy {accuracy:.3f} (target {TARGET_ACCURACY}: {reached})")


if __name__ == "__main__":
    main()
