"""MNIST and Fashion-MNIST, read from their IDX files (raw or gzipped)."""
import gzip
import os
import zlib

import numpy as np

from ... import from_numpy
from ._files import DatasetFile, cannot_download, damaged_file, missing_file
from .vision import VisionDataset

__all__ = ["MNIST", "FashionMNIST", "read_idx"]

# IDX type byte -> big-endian numpy dtype
_IDX_DTYPES = {0x08: np.dtype(np.uint8), 0x09: np.dtype(np.int8), 0x0B: np.dtype(">i2"),
               0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


def _read_bytes(path, dataset):
    if not path.endswith(".gz"):
        with open(path, "rb") as f:
            return f.read()
    try:
        with gzip.open(path, "rb") as f:
            return f.read()
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise RuntimeError(f"{dataset}: {path} is a truncated or corrupt gzip file ({exc}); "
                           "download it again") from exc


def read_idx(path, dataset="read_idx"):
    """Read an IDX file (the format of the MNIST family) into a numpy array.

    The header is two zero bytes, a type byte (0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
    0x0D float32, 0x0E float64), the number of dimensions, then each dimension as a big-endian
    int32; the values follow, big-endian. So the images' magic number is 2051 (uint8, 3 dims)
    and the labels' 2049 (uint8, 1 dim). Files ending in ``.gz`` are decompressed.

    Raises:
        RuntimeError: the header is invalid, or the file is shorter or longer than its header
            says (the message names the file and the expected size).
    """
    data = _read_bytes(path, dataset)
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_DTYPES:
        raise RuntimeError(f"{dataset}: {path} is not an IDX file (magic bytes "
                           f"{data[:4].hex() or 'missing'})")
    dtype, ndim = _IDX_DTYPES[data[2]], data[3]
    header_size = 4 + 4 * ndim
    if len(data) < header_size:
        raise damaged_file(dataset, path, len(data), f"at least {header_size} bytes of header")
    shape = tuple(int(d) for d in np.frombuffer(data, ">i4", ndim, 4))
    expected = header_size + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) != expected:
        what = "uncompressed " if path.endswith(".gz") else ""
        raise damaged_file(dataset, path, len(data),
                           f"{expected:,} {what}bytes ({header_size}-byte header + "
                           f"{'x'.join(map(str, shape))} {dtype.name})")
    return np.frombuffer(data, dtype, offset=header_size).astype(dtype.newbyteorder("="))\
        .reshape(shape)


class MNIST(VisionDataset):
    r"""The MNIST handwritten digits: 60,000 training and 10,000 test images of 28x28.

    The four IDX files (``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
    ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``, each raw or ``.gz``) are read from
    ``root/MNIST/raw``, as torchvision keeps them.

    Samples are ``(image, target)``: the image is a 28x28 uint8 numpy array, which stands in
    for torchvision's PIL image (``transforms.ToTensor()`` turns it into a 1x28x28 float
    tensor in [0, 1]); the target is an ``int``. ``data`` (uint8, Nx28x28) and ``targets``
    (int64, N) hold the whole split as tensors.

    Args:
        root (str or os.PathLike): the directory holding ``MNIST/raw``.
        train (bool): the training split if ``True``, else the test split. Default: ``True``.
        transform (callable, optional): applied to the image.
        target_transform (callable, optional): applied to the target.
        download (bool): disttorch does not download: with missing files this raises an error
            listing the files, their sizes, where to get them and where to put them.

    Raises:
        RuntimeError: a file is missing or damaged (the message names it and its size).
    """

    mirrors = ["https://ossci-datasets.s3.amazonaws.com/mnist/",
               "http://yann.lecun.com/exdb/mnist/"]
    # (file, uncompressed size, gzipped size)
    resources = [("train-images-idx3-ubyte", 47_040_016, 9_912_422),
                 ("train-labels-idx1-ubyte", 60_008, 28_881),
                 ("t10k-images-idx3-ubyte", 7_840_016, 1_648_877),
                 ("t10k-labels-idx1-ubyte", 10_008, 4_542)]
    classes = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four", "5 - five",
               "6 - six", "7 - seven", "8 - eight", "9 - nine"]

    def __init__(self, root, train=True, transform=None, target_transform=None,
                 download=False):
        super().__init__(root, transform=transform, target_transform=target_transform)
        self.train = train
        if download and not all(self._find(name) for name, _, _ in self.resources):
            files = [DatasetFile(name + ".gz", gz_size, self.mirrors[0] + name + ".gz")
                     for name, _, gz_size in self.resources]
            raise cannot_download(type(self).__name__, self.raw_folder, files,
                                  " (gzipped or not)")
        prefix = "train" if train else "t10k"
        images = self._load(f"{prefix}-images-idx3-ubyte", 3)
        labels = self._load(f"{prefix}-labels-idx1-ubyte", 1)
        if len(images) != len(labels):
            raise RuntimeError(f"{type(self).__name__}: {len(images)} images but {len(labels)} "
                               f"labels in {self.raw_folder}: the files do not belong together")
        self.data = from_numpy(images)
        self.targets = from_numpy(labels.astype(np.int64))

    @property
    def raw_folder(self):
        return os.path.join(self.root, type(self).__name__, "raw")

    @property
    def class_to_idx(self):
        return {name: i for i, name in enumerate(self.classes)}

    def _find(self, name):
        for candidate in (name, name + ".gz"):
            path = os.path.join(self.raw_folder, candidate)
            if os.path.isfile(path):
                return path
        return None

    def _load(self, name, ndim):
        path = self._find(name)
        size, gz_size = next((s, g) for n, s, g in self.resources if n == name)
        if path is None:
            raise missing_file(type(self).__name__, os.path.join(self.raw_folder, name),
                               f"{size:,} bytes, or {name}.gz of {gz_size:,} bytes",
                               f"Get it from {self.mirrors[0]}{name}.gz.")
        array = read_idx(path, type(self).__name__)
        if array.ndim != ndim or array.dtype != np.uint8:
            raise RuntimeError(f"{type(self).__name__}: {path} holds a {array.ndim}-d "
                               f"{array.dtype} array, expected {ndim}-d uint8")
        return array

    def __getitem__(self, index):
        img, target = self.data.numpy()[index].copy(), int(self.targets.numpy()[index])
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def __len__(self):
        return len(self.data)

    def extra_repr(self):
        return f"Split: {'Train' if self.train is True else 'Test'}"


class FashionMNIST(MNIST):
    """Fashion-MNIST (Zalando): 28x28 grayscale clothing images in 10 classes, in MNIST's
    file format and layout (``root/FashionMNIST/raw``); arguments as :class:`MNIST`."""

    mirrors = ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"]
    resources = [("train-images-idx3-ubyte", 47_040_016, 26_421_880),
                 ("train-labels-idx1-ubyte", 60_008, 29_515),
                 ("t10k-images-idx3-ubyte", 7_840_016, 4_422_102),
                 ("t10k-labels-idx1-ubyte", 10_008, 5_148)]
    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
               "Sneaker", "Bag", "Ankle boot"]
