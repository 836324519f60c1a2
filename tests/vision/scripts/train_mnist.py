"""MNIST with LeNet-5 as a torch + torchvision script is written: only the imports differ.

    python train_mnist.py --root DATA [--epochs 1]
"""
import argparse

import disttorch as torch
import disttorch.nn.functional as F
import disttorch.vision as torchvision
from disttorch.vision import datasets, transforms

parser = argparse.ArgumentParser()
parser.add_argument("--root", required=True)
parser.add_argument("--epochs", type=int, default=1)
args = parser.parse_args()
torch.manual_seed(1)

transform = transforms.Compose([transforms.ToTensor(),
                                transforms.Normalize((0.1307,), (0.3081,))])
train_set = datasets.MNIST(args.root, train=True, transform=transform)
test_set = datasets.MNIST(args.root, train=False, transform=transform)
train_loader = torch.utils.data.DataLoader(train_set, batch_size=4, shuffle=True)
test_loader = torch.utils.data.DataLoader(test_set, batch_size=1000)
model = torchvision.models.lenet()
optimizer = torch.optim.Adadelta(model.parameters(), lr=1.0)
scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.7)
for epoch in range(args.epochs):
    model.train()
    for data, target in train_loader:
        optimizer.zero_grad()
        loss = F.cross_entropy(model(data), target)
        loss.backward()
        optimizer.step()
    scheduler.step()
    model.eval()
    test_loss = correct = 0
    with torch.no_grad():
        for data, target in test_loader:
            output = model(data)
            test_loss += F.cross_entropy(output, target, reduction="sum").item()
            correct += output.argmax(dim=1, keepdim=True).eq(target.view(-1, 1)).sum().item()
    n_test = len(test_loader.dataset)
    print(f"epoch {epoch} train loss {loss.item():.4f} test loss {test_loss / n_test:.4f} "
          f"correct {correct}/{n_test}")
