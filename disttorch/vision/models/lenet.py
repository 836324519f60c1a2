"""LeNet-5 (LeCun et al., 1998) in the form of PyTorch's MNIST examples. torchvision has no
LeNet; the module names (``conv1``, ``conv2``, ``fc1``-``fc3``) follow the PyTorch tutorial's
``Net``, so its state dicts load.
"""
from ... import flatten
from ... import nn

__all__ = ["LeNet", "lenet"]


class LeNet(nn.Module):
    r"""Two 5x5 convolutions with ReLU and 2x2 max-pooling, then three linear layers.

    ``conv1`` pads by 2, so a 28x28 MNIST digit becomes the 32x32 input of the original
    network; ``fc1`` sees 16 maps of 5x5.

    Args:
        num_classes (int): size of the output. Default: 10.
        in_channels (int): channels of the input image. Default: 1.

    Shape:
        - Input: :math:`(N, \text{in\_channels}, 28, 28)`.
        - Output: :math:`(N, \text{num\_classes})`.
    """

    def __init__(self, num_classes=10, in_channels=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 6, kernel_size=5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, kernel_size=5)
        self.pool = nn.MaxPool2d(2, 2)
        self.relu = nn.ReLU()
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, num_classes)

    def forward(self, x):
        x = self.pool(self.relu(self.conv1(x)))
        x = self.pool(self.relu(self.conv2(x)))
        x = flatten(x, 1)
        x = self.relu(self.fc1(x))
        x = self.relu(self.fc2(x))
        return self.fc3(x)


def lenet(**kwargs):
    """LeNet-5 for 28x28 inputs (61,706 parameters with 10 classes and one input channel).

    Args:
        **kwargs: passed to :class:`LeNet` (``num_classes``, ``in_channels``).
    """
    return LeNet(**kwargs)
