"""CIFAR-10 with a ResNet-18 as a torch + torchvision script is written: only the imports differ.

    python train_cifar.py --root DATA [--epochs 1] [--batch-size 8] [--workers 2]
"""
import argparse

import disttorch as torch
import disttorch.nn as nn
import disttorch.optim as optim
import disttorch.vision as torchvision
import disttorch.vision.transforms as transforms

parser = argparse.ArgumentParser()
parser.add_argument("--root", required=True)
parser.add_argument("--epochs", type=int, default=1)
parser.add_argument("--batch-size", type=int, default=8)
parser.add_argument("--workers", type=int, default=2)
parser.add_argument("--checkpoint")
args = parser.parse_args()
torch.manual_seed(0)

transform_train = transforms.Compose([
    transforms.RandomCrop(32, padding=4),
    transforms.RandomHorizontalFlip(),
    transforms.ToTensor(),
    transforms.Normalize((0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010)),
])
transform_test = transforms.Compose([
    transforms.ToTensor(),
    transforms.Normalize((0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010)),
])
trainset = torchvision.datasets.CIFAR10(root=args.root, train=True, download=True,
                                        transform=transform_train)
trainloader = torch.utils.data.DataLoader(trainset, batch_size=args.batch_size, shuffle=True,
                                          num_workers=args.workers)
testset = torchvision.datasets.CIFAR10(root=args.root, train=False, download=True,
                                       transform=transform_test)
testloader = torch.utils.data.DataLoader(testset, batch_size=100, shuffle=False,
                                         num_workers=args.workers)

net = torchvision.models.resnet18(num_classes=10)
criterion = nn.CrossEntropyLoss()
optimizer = optim.SGD(net.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
scheduler = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=200)

for epoch in range(args.epochs):
    net.train()
    for inputs, targets in trainloader:
        optimizer.zero_grad()
        loss = criterion(net(inputs), targets)
        loss.backward()
        optimizer.step()
    scheduler.step()
    net.eval()
    correct = total = 0
    with torch.no_grad():
        for inputs, targets in testloader:
            _, predicted = net(inputs).max(1)
            total += targets.size(0)
            correct += predicted.eq(targets).sum().item()
    print(f"epoch {epoch} loss {loss.item():.4f} test accuracy {100.0 * correct / total:.1f}%")
if args.checkpoint:
    torch.save(net.state_dict(), args.checkpoint)
