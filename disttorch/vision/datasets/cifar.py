"""CIFAR-10 and CIFAR-100, read from the binary version of the files (fixed-size records).

torchvision reads the Python version (pickled dicts); unpickling executes code, so disttorch
reads the binary version, which holds the same images and labels: each record is the label
byte(s) followed by 3072 pixel bytes, the 32x32 red plane, then green, then blue.
"""
import os

import numpy as np

from ._files import DatasetFile, cannot_download, damaged_file, file_size, missing_file
from .vision import VisionDataset

__all__ = ["CIFAR10", "CIFAR100"]

_PIXELS = 3 * 32 * 32

_CIFAR100_FINE = (
    "apple aquarium_fish baby bear beaver bed bee beetle bicycle bottle bowl boy bridge bus "
    "butterfly camel can castle caterpillar cattle chair chimpanzee clock cloud cockroach couch "
    "crab crocodile cup dinosaur dolphin elephant flatfish forest fox girl hamster house kangaroo "
    "keyboard lamp lawn_mower leopard lion lizard lobster man maple_tree motorcycle mountain "
    "mouse mushroom oak_tree orange orchid otter palm_tree pear pickup_truck pine_tree plain "
    "plate poppy porcupine possum rabbit raccoon ray road rocket rose sea seal shark shrew skunk "
    "skyscraper snail snake spider squirrel streetcar sunflower sweet_pepper table tank "
    "telephone television tiger tractor train trout tulip turtle wardrobe whale willow_tree wolf "
    "woman worm").split()
_CIFAR100_COARSE = (
    "aquatic_mammals fish flowers food_containers fruit_and_vegetables "
    "household_electrical_devices household_furniture insects large_carnivores "
    "large_man-made_outdoor_things large_natural_outdoor_scenes large_omnivores_and_herbivores "
    "medium_mammals non-insect_invertebrates people reptiles small_mammals trees vehicles_1 "
    "vehicles_2").split()


class CIFAR10(VisionDataset):
    r"""CIFAR-10: 50,000 training and 10,000 test 32x32 colour images in 10 classes.

    Reads ``root/cifar-10-batches-bin/`` as extracted from
    https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz: ``data_batch_1.bin`` to
    ``data_batch_5.bin`` (training), ``test_batch.bin`` (test), ``batches.meta.txt`` (class
    names; optional). Each file of the official archive holds 10,000 records of 3073 bytes
    (30,730,000 bytes); a file that is not a whole number of records is reported as damaged.

    Samples are ``(image, target)``: the image is a 32x32x3 uint8 numpy array (HWC, the
    stand-in for torchvision's PIL image), the target an ``int``. ``data`` (Nx32x32x3 uint8
    numpy array) and ``targets`` (list of int) hold the split, as in torchvision.

    Args:
        root (str or os.PathLike): the directory holding ``cifar-10-batches-bin``.
        train (bool): the training split if ``True``, else the test split. Default: ``True``.
        transform (callable, optional): applied to the image.
        target_transform (callable, optional): applied to the target.
        download (bool): disttorch does not download: with missing files this raises an error
            saying what to fetch and where to put it.

    Raises:
        RuntimeError: a file is missing or damaged (the message names it and its size).
    """

    base_folder = "cifar-10-batches-bin"
    url = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
    train_list = [f"data_batch_{i}.bin" for i in range(1, 6)]
    test_list = ["test_batch.bin"]
    records_per_file = {name: 10_000 for name in train_list + test_list}
    label_bytes = 1
    meta_file = "batches.meta.txt"
    default_classes = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                       "ship", "truck"]
    python_folder = "cifar-10-batches-py"

    def __init__(self, root, train=True, transform=None, target_transform=None,
                 download=False):
        super().__init__(root, transform=transform, target_transform=target_transform)
        self.train = train
        folder = os.path.join(self.root, self.base_folder)
        names = self.train_list if train else self.test_list
        if download and not all(os.path.isfile(os.path.join(folder, n))
                                for n in self.train_list + self.test_list):
            record = self.label_bytes + _PIXELS
            files = [DatasetFile(n, self.records_per_file[n] * record, self.url)
                     for n in self.train_list + self.test_list]
            raise cannot_download(type(self).__name__, folder, files,
                                  f" (extract the archive in {self.root})")
        records = np.concatenate([self._read_records(os.path.join(folder, n), n)
                                  for n in names])
        labels = records[:, :self.label_bytes].astype(np.int64)
        self.data = np.ascontiguousarray(
            records[:, self.label_bytes:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
        self._set_targets(labels, folder)

    def _set_targets(self, labels, folder):
        self.classes = self._read_names(os.path.join(folder, self.meta_file),
                                        self.default_classes)
        self.targets = labels[:, 0].tolist()
        self._check_labels(labels[:, 0], len(self.classes), folder)

    def _check_labels(self, labels, count, folder):
        if len(labels) and labels.max() >= count:
            raise RuntimeError(f"{type(self).__name__}: a record in {folder} has label "
                               f"{labels.max()}, but there are {count} classes: the files are "
                               f"damaged or not the binary version of {type(self).__name__}")

    @property
    def class_to_idx(self):
        return {name: i for i, name in enumerate(self.classes)}

    def _read_records(self, path, name):
        record = self.label_bytes + _PIXELS
        official = self.records_per_file[name] * record
        if not os.path.isfile(path):
            hint = f"Get {self.url} and extract it in {self.root}."
            python_version = os.path.join(self.root, self.python_folder)
            if os.path.isdir(python_version):
                hint += (f" ({python_version} is torchvision's pickled version, which disttorch "
                         f"does not unpickle.)")
            raise missing_file(type(self).__name__, path, f"{official:,} bytes", hint)
        size = file_size(path)
        if size == 0 or size % record:
            raise damaged_file(type(self).__name__, path, size,
                               f"{official:,} bytes ({self.records_per_file[name]:,} records "
                               f"of {record} bytes; any whole number of records is accepted)")
        return np.fromfile(path, np.uint8).reshape(-1, record)

    @staticmethod
    def _read_names(path, default):
        if not os.path.isfile(path):
            return list(default)
        with open(path) as f:
            return [line.strip() for line in f if line.strip()]

    def __getitem__(self, index):
        img, target = self.data[index].copy(), self.targets[index]
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def __len__(self):
        return len(self.data)

    def extra_repr(self):
        return f"Split: {'Train' if self.train is True else 'Test'}"


class CIFAR100(CIFAR10):
    r"""CIFAR-100: 50,000 training and 10,000 test 32x32 colour images in 100 classes
    (grouped in 20 superclasses).

    Reads ``root/cifar-100-binary/`` as extracted from
    https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz: ``train.bin`` (50,000 records),
    ``test.bin`` (10,000), ``fine_label_names.txt`` and ``coarse_label_names.txt`` (optional).
    Each record is the coarse label byte, the fine label byte and 3072 pixel bytes.

    ``targets`` are the fine labels and ``classes`` their names, as in torchvision;
    ``coarse_targets`` and ``coarse_classes`` give the superclasses. Other arguments and
    attributes as :class:`CIFAR10`.
    """

    base_folder = "cifar-100-binary"
    url = "https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz"
    train_list = ["train.bin"]
    test_list = ["test.bin"]
    records_per_file = {"train.bin": 50_000, "test.bin": 10_000}
    label_bytes = 2
    meta_file = "fine_label_names.txt"
    default_classes = _CIFAR100_FINE
    python_folder = "cifar-100-python"

    def _set_targets(self, labels, folder):
        super()._set_targets(labels[:, 1:], folder)
        self.coarse_classes = self._read_names(os.path.join(folder, "coarse_label_names.txt"),
                                               _CIFAR100_COARSE)
        self.coarse_targets = labels[:, 0].tolist()
        self._check_labels(labels[:, 0], len(self.coarse_classes), folder)
