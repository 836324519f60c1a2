"""``FakeData``: random images, the same ones on every access, for smoke tests and benchmarks."""
import numpy as np

from .vision import VisionDataset

__all__ = ["FakeData"]


class FakeData(VisionDataset):
    r"""A dataset of random images and labels; sample ``i`` is a function of ``i`` alone.

    Sample ``i`` is drawn from a generator seeded with ``i + random_offset``, leaving the
    global generators untouched. Images are uint8 numpy arrays in HWC layout (HW for one
    channel), the stand-in for the PIL images that torchvision returns.

    Args:
        size (int): number of samples. Default: 1000.
        image_size (tuple): ``(C, H, W)`` of the images. Default: ``(3, 224, 224)``.
        num_classes (int): targets are in ``[0, num_classes)``. Default: 10.
        transform (callable, optional): applied to the image.
        target_transform (callable, optional): applied to the target.
        random_offset (int): shifts the seeds, giving another set of samples. Default: 0.
    """

    def __init__(self, size=1000, image_size=(3, 224, 224), num_classes=10, transform=None,
                 target_transform=None, random_offset=0):
        super().__init__(None, transform=transform, target_transform=target_transform)
        self.size = size
        self.num_classes = num_classes
        self.image_size = tuple(image_size)
        self.random_offset = random_offset

    def __getitem__(self, index):
        if not -self.size <= index < self.size:
            raise IndexError(f"{type(self).__name__} index out of range")
        index %= self.size
        rng = np.random.Generator(np.random.PCG64(index + self.random_offset))
        channels, height, width = self.image_size
        img = rng.integers(0, 256, (height, width, channels), dtype=np.uint8)
        if channels == 1:
            img = img[..., 0]
        target = int(rng.integers(0, self.num_classes))
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def __len__(self):
        return self.size
