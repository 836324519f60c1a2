"""vision.datasets on small files written here in the real formats: IDX (raw and gzipped),
CIFAR's binary records, class folders of PNG/PPM/NPY images; missing and damaged files."""
import gzip
import os
import struct

import numpy as np
import pytest

import disttorch
from disttorch.utils.data import DataLoader
from disttorch.vision import datasets, transforms
from disttorch.vision.io import save_image_array


def write_idx(path, array, compress=False):
    array = np.asarray(array, np.uint8)
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim)
    header += b"".join(struct.pack(">i", d) for d in array.shape)
    data = header + array.tobytes()
    if compress:
        with gzip.open(str(path) + ".gz", "wb") as f:
            f.write(data)
    else:
        path.write_bytes(data)


def make_mnist(root, name="MNIST", n_train=6, n_test=4, compress=False):
    raw = root / name / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    splits = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, n, dtype=np.uint8)
        write_idx(raw / f"{prefix}-images-idx3-ubyte", images, compress)
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", labels, compress)
        splits[prefix] = images, labels
    return splits


@pytest.mark.parametrize("compress", [False, True])
def test_mnist_reads_idx_files(tmp_path, compress):
    splits = make_mnist(tmp_path, compress=compress)
    train = datasets.MNIST(tmp_path)
    test = datasets.MNIST(str(tmp_path), train=False)
    for dataset, (images, labels) in ((train, splits["train"]), (test, splits["t10k"])):
        assert len(dataset) == len(labels)
        assert dataset.data.dtype == disttorch.uint8 and tuple(dataset.data.shape[1:]) == (28, 28)
        assert dataset.targets.dtype == disttorch.int64
        np.testing.assert_array_equal(dataset.data.numpy(), images)
        img, target = dataset[1]
        np.testing.assert_array_equal(img, images[1])
        assert type(target) is int and target == labels[1]
    assert train.class_to_idx["3 - three"] == 3
    assert "Split: Train" in repr(train) and "Split: Test" in repr(test)


def test_mnist_transforms_and_fashion_layout(tmp_path):
    images, labels = make_mnist(tmp_path, name="FashionMNIST")["train"]
    dataset = datasets.FashionMNIST(tmp_path, transform=transforms.ToTensor(),
                                    target_transform=lambda t: t + 100)
    img, target = dataset[0]
    assert tuple(img.shape) == (1, 28, 28) and img.dtype == disttorch.float32
    np.testing.assert_allclose(img.numpy()[0], images[0] / 255, rtol=1e-6)
    assert target == labels[0] + 100
    assert dataset.classes[9] == "Ankle boot"
    assert "Transform: ToTensor()" in repr(dataset)


def test_mnist_missing_file_names_it_and_its_size(tmp_path):
    with pytest.raises(RuntimeError, match=r"train-images-idx3-ubyte \(expected 47,040,016 "
                                           r"bytes, or train-images-idx3-ubyte.gz of 9,912,422"):
        datasets.MNIST(tmp_path)
    with pytest.raises(RuntimeError, match="(?s)download=True cannot work.*MNIST/raw.*"
                                           "t10k-labels-idx1-ubyte.gz \\(4,542 bytes\\)"):
        datasets.MNIST(tmp_path, download=True)


def test_download_true_with_the_files_present_just_loads(tmp_path):
    make_mnist(tmp_path)
    assert len(datasets.MNIST(tmp_path, download=True)) == 6


def test_truncated_idx_file_names_the_expected_size(tmp_path):
    make_mnist(tmp_path)
    path = tmp_path / "MNIST" / "raw" / "train-images-idx3-ubyte"
    data = path.read_bytes()
    path.write_bytes(data[:-100])
    expected = f"{16 + 6 * 28 * 28:,}"
    with pytest.raises(RuntimeError, match=f"train-images-idx3-ubyte is truncated or damaged: "
                                           f"{len(data) - 100:,} bytes, expected {expected} "
                                           f"bytes \\(16-byte header \\+ 6x28x28 uint8\\)"):
        datasets.MNIST(tmp_path)


def test_truncated_gzip_is_reported(tmp_path):
    make_mnist(tmp_path, compress=True)
    path = tmp_path / "MNIST" / "raw" / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-12])
    with pytest.raises(RuntimeError, match="t10k-labels-idx1-ubyte.gz is a truncated or "
                                           "corrupt gzip file"):
        datasets.MNIST(tmp_path, train=False)


def test_idx_header_mismatch_and_bad_magic(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    make_mnist(tmp_path)
    write_idx(raw / "train-labels-idx1-ubyte", np.zeros(5))
    with pytest.raises(RuntimeError, match="6 images but 5 labels"):
        datasets.MNIST(tmp_path)
    (raw / "train-labels-idx1-ubyte").write_bytes(b"\x01\x02\x03\x04" + bytes(8))
    with pytest.raises(RuntimeError, match="not an IDX file"):
        datasets.MNIST(tmp_path)
    int_path = tmp_path / "ints.idx"
    values = np.arange(6, dtype=">i4").reshape(2, 3)
    int_path.write_bytes(bytes([0, 0, 0x0C, 2]) + struct.pack(">ii", 2, 3) + values.tobytes())
    np.testing.assert_array_equal(datasets.read_idx(str(int_path)), values)


def write_cifar(folder, name, labels, rng):
    """Records of label byte(s) + 3072 pixel bytes; returns the images in HWC layout."""
    labels = np.asarray(labels, np.uint8).reshape(len(labels), -1)
    planes = rng.integers(0, 256, (len(labels), 3, 32, 32), dtype=np.uint8)
    records = np.concatenate([labels, planes.reshape(len(labels), -1)], axis=1)
    (folder / name).write_bytes(records.tobytes())
    return planes.transpose(0, 2, 3, 1)


def make_cifar10(root, per_batch=3):
    folder = root / "cifar-10-batches-bin"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    train_images, train_labels = [], []
    for i in range(1, 6):
        labels = rng.integers(0, 10, per_batch)
        train_images.append(write_cifar(folder, f"data_batch_{i}.bin", labels, rng))
        train_labels += labels.tolist()
    test_labels = rng.integers(0, 10, 2)
    test_images = write_cifar(folder, "test_batch.bin", test_labels, rng)
    return (np.concatenate(train_images), train_labels), (test_images, test_labels.tolist())


def test_cifar10_binary_records(tmp_path):
    (train_images, train_labels), (test_images, test_labels) = make_cifar10(tmp_path)
    train = datasets.CIFAR10(tmp_path)
    assert len(train) == 15 and train.data.shape == (15, 32, 32, 3)
    np.testing.assert_array_equal(train.data, train_images)
    assert train.targets == train_labels
    img, target = train[4]
    np.testing.assert_array_equal(img, train_images[4])
    assert target == train_labels[4]
    assert train.classes[0] == "airplane" and train.class_to_idx["truck"] == 9
    test = datasets.CIFAR10(tmp_path, train=False, transform=transforms.ToTensor())
    img, _ = test[1]
    np.testing.assert_allclose(img.numpy(), test_images[1].transpose(2, 0, 1) / 255, rtol=1e-6)
    assert test.targets == test_labels


def test_cifar10_meta_file_gives_the_class_names(tmp_path):
    make_cifar10(tmp_path)
    names = [f"class{i}" for i in range(10)]
    (tmp_path / "cifar-10-batches-bin" / "batches.meta.txt").write_text("\n".join(names) + "\n\n")
    assert datasets.CIFAR10(tmp_path).classes == names


def test_cifar_damaged_and_missing_files(tmp_path):
    make_cifar10(tmp_path)
    path = tmp_path / "cifar-10-batches-bin" / "data_batch_3.bin"
    path.write_bytes(path.read_bytes()[:-1])
    with pytest.raises(RuntimeError, match="data_batch_3.bin is truncated or damaged: 9,218 "
                                           "bytes, expected 30,730,000 bytes"):
        datasets.CIFAR10(tmp_path)
    path.unlink()
    with pytest.raises(RuntimeError, match="data_batch_3.bin \\(expected 30,730,000 bytes\\)"
                                           ".*cifar-10-binary.tar.gz"):
        datasets.CIFAR10(tmp_path)
    with pytest.raises(RuntimeError, match="(?s)download=True cannot work.*"
                                           "test_batch.bin \\(30,730,000 bytes"):
        datasets.CIFAR10(tmp_path, download=True)
    assert len(datasets.CIFAR10(tmp_path, train=False)) == 2
    (tmp_path / "cifar-100-python").mkdir()
    with pytest.raises(RuntimeError, match="pickled version"):
        datasets.CIFAR100(tmp_path)


def test_cifar_label_out_of_range_is_reported(tmp_path):
    folder = tmp_path / "cifar-10-batches-bin"
    folder.mkdir()
    write_cifar(folder, "test_batch.bin", [3, 12], np.random.default_rng(0))
    with pytest.raises(RuntimeError, match="label 12, but there are 10 classes"):
        datasets.CIFAR10(tmp_path, train=False)


def test_cifar100_fine_and_coarse_labels(tmp_path):
    folder = tmp_path / "cifar-100-binary"
    folder.mkdir()
    rng = np.random.default_rng(1)
    train_labels = np.array([[4, 30], [1, 1], [19, 99]])
    images = write_cifar(folder, "train.bin", train_labels, rng)
    write_cifar(folder, "test.bin", np.array([[0, 0]]), rng)
    train = datasets.CIFAR100(tmp_path)
    np.testing.assert_array_equal(train.data, images)
    assert train.targets == [30, 1, 99] and train.coarse_targets == [4, 1, 19]
    assert len(train.classes) == 100 and train.classes[99] == "worm"
    assert train.coarse_classes[4] == "fruit_and_vegetables"
    assert len(datasets.CIFAR100(tmp_path, train=False)) == 1


def make_image_folder(root):
    rng = np.random.default_rng(2)
    images = {
        "cat/a.png": rng.integers(0, 256, (5, 6, 3), dtype=np.uint8),
        "cat/sub/b.ppm": rng.integers(0, 256, (5, 6, 3), dtype=np.uint8),
        "dog/c.png": rng.integers(0, 256, (5, 6), dtype=np.uint8),
        "dog/d.npy": rng.standard_normal((2, 3)).astype(np.float32),
    }
    for name, array in images.items():
        os.makedirs(root / os.path.dirname(name), exist_ok=True)
        save_image_array(array, root / name)
    (root / "dog" / "notes.txt").write_text("not an image")
    return images


def test_image_folder(tmp_path):
    images = make_image_folder(tmp_path)
    dataset = datasets.ImageFolder(tmp_path)
    assert dataset.classes == ["cat", "dog"] and dataset.class_to_idx == {"cat": 0, "dog": 1}
    assert [os.path.relpath(p, tmp_path) for p, _ in dataset.samples] == \
           ["cat/a.png", "cat/sub/b.ppm", "dog/c.png", "dog/d.npy"]
    assert dataset.targets == [0, 0, 1, 1] and dataset.imgs is dataset.samples
    np.testing.assert_array_equal(dataset[0][0], images["cat/a.png"])
    np.testing.assert_array_equal(dataset[1][0], images["cat/sub/b.ppm"])
    gray_as_rgb, target = dataset[2]
    assert gray_as_rgb.shape == (5, 6, 3) and target == 1
    np.testing.assert_array_equal(gray_as_rgb, np.repeat(images["dog/c.png"][..., None], 3, 2))
    np.testing.assert_array_equal(dataset[3][0], images["dog/d.npy"])


def test_dataset_folder_with_loader_and_filters(tmp_path):
    make_image_folder(tmp_path)
    dataset = datasets.DatasetFolder(tmp_path, loader=lambda p: os.path.basename(p),
                                     extensions=(".txt",), allow_empty=True)
    assert [s for s, _ in dataset] == ["notes.txt"]
    with pytest.raises(FileNotFoundError, match="Found no valid file for the classes cat"):
        datasets.DatasetFolder(tmp_path, loader=str, extensions=".txt")
    only_png = datasets.ImageFolder(tmp_path, is_valid_file=lambda p: p.endswith(".png"))
    assert len(only_png) == 2
    with pytest.raises(ValueError, match="Both extensions and is_valid_file"):
        datasets.DatasetFolder(tmp_path, loader=str)
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="Couldn't find any class folder"):
        datasets.ImageFolder(tmp_path / "empty")


def test_fake_data_is_a_function_of_the_index():
    disttorch.manual_seed(0)
    state = disttorch.get_rng_state()
    dataset = datasets.FakeData(size=5, image_size=(3, 8, 6), num_classes=4)
    img, target = dataset[2]
    assert img.shape == (8, 6, 3) and img.dtype == np.uint8 and 0 <= target < 4
    np.testing.assert_array_equal(dataset[2][0], img)
    assert not np.array_equal(dataset[3][0], img)
    assert not np.array_equal(datasets.FakeData(5, (3, 8, 6), random_offset=1)[2][0], img)
    assert datasets.FakeData(2, (1, 4, 4))[0][0].shape == (4, 4)
    assert disttorch.equal(disttorch.get_rng_state(), state)
    with pytest.raises(IndexError):
        dataset[5]


def test_dataloader_workers_give_reproducible_augmentations(tmp_path):
    make_cifar10(tmp_path, per_batch=4)
    augment = transforms.Compose([transforms.RandomCrop(32, padding=4),
                                  transforms.RandomHorizontalFlip(), transforms.ToTensor(),
                                  transforms.Normalize((0.5, 0.5, 0.5), (0.25, 0.25, 0.25))])
    dataset = datasets.CIFAR10(tmp_path, transform=augment)

    def epoch(workers, seed=7):
        disttorch.manual_seed(seed)
        loader = DataLoader(dataset, batch_size=5, shuffle=True, num_workers=workers)
        return [(x.numpy(), y.numpy()) for x, y in loader]

    first, second = epoch(2), epoch(2)
    assert len(first) == 4 and first[0][0].shape == (5, 3, 32, 32)
    for (x1, y1), (x2, y2) in zip(first, second):
        np.testing.assert_array_equal(x1, x2)
        np.testing.assert_array_equal(y1, y2)
    assert not np.array_equal(epoch(2, seed=8)[0][0], first[0][0])
