"""Datasets over a directory tree with one sub-directory per class: ``DatasetFolder`` with any
loader, ``ImageFolder`` for image files."""
import os

import numpy as np

from ..io.image import ImageReadMode, load_image_array
from .vision import VisionDataset

__all__ = ["DatasetFolder", "ImageFolder", "IMG_EXTENSIONS", "default_loader", "find_classes",
           "make_dataset", "has_file_allowed_extension"]

# torchvision's list plus the formats read without Pillow (PNM, NPY).
IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp",
                  ".pnm", ".npy")


def has_file_allowed_extension(filename, extensions):
    """Whether ``filename`` ends (case-insensitively) with one of ``extensions``."""
    return filename.lower().endswith(extensions if isinstance(extensions, str)
                                     else tuple(extensions))


def default_loader(path):
    """Load an image file as an HWC uint8 RGB numpy array (as ``PIL.Image.convert("RGB")``).

    PNG and PPM/PGM are decoded natively, other image formats through Pillow; ``.npy`` files
    are returned as stored (any dtype and shape).
    """
    if os.fspath(path).lower().endswith(".npy"):
        return np.load(path, allow_pickle=False)
    return load_image_array(path, ImageReadMode.RGB)


def find_classes(directory):
    """The sorted names of the class folders in ``directory`` and their indices."""
    classes = sorted(entry.name for entry in os.scandir(directory) if entry.is_dir())
    if not classes:
        raise FileNotFoundError(f"Couldn't find any class folder in {directory}.")
    return classes, {name: i for i, name in enumerate(classes)}


def make_dataset(directory, class_to_idx=None, extensions=None, is_valid_file=None,
                 allow_empty=False):
    """The ``(path, class_index)`` samples under ``directory/<class>/**``, sorted.

    Exactly one of ``extensions`` and ``is_valid_file`` selects the files. A class without
    files is an error unless ``allow_empty``.
    """
    directory = os.path.expanduser(os.fspath(directory))
    if class_to_idx is None:
        _, class_to_idx = find_classes(directory)
    elif not class_to_idx:
        raise ValueError("'class_to_index' must have at least one entry to collect any samples.")
    if (extensions is None) == (is_valid_file is None):
        raise ValueError("Both extensions and is_valid_file cannot be None or not None at the "
                         "same time")
    if extensions is not None:
        def is_valid_file(path):
            return has_file_allowed_extension(path, extensions)
    instances = []
    available = set()
    for target_class in sorted(class_to_idx):
        target_dir = os.path.join(directory, target_class)
        if not os.path.isdir(target_dir):
            continue
        for root, _, fnames in sorted(os.walk(target_dir, followlinks=True)):
            for fname in sorted(fnames):
                path = os.path.join(root, fname)
                if is_valid_file(path):
                    instances.append((path, class_to_idx[target_class]))
                    available.add(target_class)
    empty = set(class_to_idx) - available
    if empty and not allow_empty:
        msg = f"Found no valid file for the classes {', '.join(sorted(empty))}. "
        if extensions is not None:
            msg += ("Supported extensions are: "
                    f"{extensions if isinstance(extensions, str) else ', '.join(extensions)}")
        raise FileNotFoundError(msg)
    return instances


class DatasetFolder(VisionDataset):
    r"""A dataset of files arranged as ``root/<class>/.../<file>``.

    Args:
        root (str or os.PathLike): the root directory.
        loader (callable): loads a sample from its path.
        extensions (tuple of str, optional): the file extensions to take.
        transform (callable, optional): applied to the loaded sample.
        target_transform (callable, optional): applied to the class index.
        is_valid_file (callable, optional): takes a path and says whether to take it (instead
            of ``extensions``).
        allow_empty (bool): allow classes without files. Default: ``False``.

    Attributes:
        classes (list): the class names, sorted. class_to_idx (dict): name to index.
        samples (list): ``(path, class_index)`` pairs. targets (list): the class indices.
    """

    def __init__(self, root, loader, extensions=None, transform=None, target_transform=None,
                 is_valid_file=None, allow_empty=False):
        super().__init__(root, transform=transform, target_transform=target_transform)
        classes, class_to_idx = self.find_classes(self.root)
        self.samples = self.make_dataset(self.root, class_to_idx, extensions, is_valid_file,
                                         allow_empty=allow_empty)
        self.loader = loader
        self.extensions = extensions
        self.classes = classes
        self.class_to_idx = class_to_idx
        self.targets = [target for _, target in self.samples]

    @staticmethod
    def make_dataset(directory, class_to_idx, extensions=None, is_valid_file=None,
                     allow_empty=False):
        """Override to change how samples are collected (see :func:`make_dataset`)."""
        if class_to_idx is None:
            raise ValueError("The class_to_idx parameter cannot be None.")
        return make_dataset(directory, class_to_idx, extensions, is_valid_file, allow_empty)

    def find_classes(self, directory):
        """Override to change how classes are found (see :func:`find_classes`)."""
        return find_classes(directory)

    def __getitem__(self, index):
        path, target = self.samples[index]
        sample = self.loader(path)
        if self.transform is not None:
            sample = self.transform(sample)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return sample, target

    def __len__(self):
        return len(self.samples)


class ImageFolder(DatasetFolder):
    r"""A dataset of images arranged as ``root/<class>/.../<image>``.

    Images load as HWC uint8 RGB numpy arrays (the stand-in for torchvision's PIL images):
    PNG and PPM/PGM without any dependency, JPEG/BMP/TIFF/WebP through Pillow when it is
    installed, ``.npy`` arrays as stored. Arguments and attributes as :class:`DatasetFolder`,
    with ``loader`` defaulting to :func:`default_loader`; ``imgs`` is ``samples``.
    """

    def __init__(self, root, transform=None, target_transform=None, loader=default_loader,
                 is_valid_file=None, allow_empty=False):
        super().__init__(root, loader, IMG_EXTENSIONS if is_valid_file is None else None,
                         transform=transform, target_transform=target_transform,
                         is_valid_file=is_valid_file, allow_empty=allow_empty)
        self.imgs = self.samples
