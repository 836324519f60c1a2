"""Finding a dataset's files and explaining what to do when they are missing or damaged."""
import os


class DatasetFile:
    """One file of a dataset: its name, official size in bytes and download address."""

    def __init__(self, name, size, url):
        self.name, self.size, self.url = name, size, url

    def describe(self):
        return f"{self.name} ({self.size:,} bytes) from {self.url}"


def cannot_download(dataset, folder, files, note=""):
    """The error for ``download=True`` when the files are not there yet."""
    listing = "\n".join(f"  - {f.describe()}" for f in files)
    return RuntimeError(
        f"{dataset}: download=True cannot work: disttorch does not download datasets and this "
        f"machine cannot reach the internet. Download these files elsewhere and put them in "
        f"{folder}{note}:\n{listing}")


def missing_file(dataset, path, expected, hint):
    """The error for a dataset file that is not there."""
    return RuntimeError(
        f"{dataset}: dataset file not found: {path} (expected {expected}). {hint} "
        f"(download=True explains where to get the files)")


def damaged_file(dataset, path, actual, expected):
    """The error for a dataset file whose size or content is wrong."""
    return RuntimeError(
        f"{dataset}: {path} is truncated or damaged: {actual:,} bytes, expected {expected}. "
        f"Download it again.")


def file_size(path):
    return os.stat(path).st_size
