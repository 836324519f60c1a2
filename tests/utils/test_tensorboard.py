"""SummaryWriter: event files read back with TensorBoard's own reader, histograms vs torch's."""
import numpy as np
import pytest

pytest.importorskip("tensorboard", reason="tensorboard is not installed (pip install tensorboard)")

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402

import disttorch  # noqa: E402
from disttorch.utils.tensorboard import SummaryWriter  # noqa: E402


def _load(path):
    acc = EventAccumulator(str(path), size_guidance={"scalars": 0, "histograms": 0})
    acc.Reload()
    return acc


def test_add_scalar_reads_back(tmp_path):
    with SummaryWriter(tmp_path) as writer:
        for step in range(5):
            writer.add_scalar("loss/train", disttorch.tensor(1.0 / (step + 1)), step)
        writer.add_scalar("lr", 0.5, 7, new_style=True)
    events = _load(tmp_path).Scalars("loss/train")
    assert [e.step for e in events] == list(range(5))
    np.testing.assert_allclose([e.value for e in events], [1.0 / (s + 1) for s in range(5)],
                               rtol=1e-6)
    assert _load(tmp_path).Tags()["tensors"] == ["lr"]


def test_add_scalars_one_directory_per_curve(tmp_path):
    writer = SummaryWriter(tmp_path)
    for step in range(3):
        writer.add_scalars("loss", {"train": 1.0 - 0.1 * step, "test": 2.0 - 0.1 * step}, step)
    writer.flush()
    writer.close()
    for tag, start in (("train", 1.0), ("test", 2.0)):
        events = _load(tmp_path / f"loss_{tag}").Scalars("loss")
        np.testing.assert_allclose([e.value for e in events], [start, start - 0.1, start - 0.2],
                                   rtol=1e-6)


def test_add_histogram_matches_torch(tmp_path):
    torch_tb = pytest.importorskip("torch.utils.tensorboard")
    values = np.random.default_rng(0).standard_normal(1000).astype(np.float32)
    with SummaryWriter(tmp_path / "ours") as writer:
        writer.add_histogram("weights", disttorch.from_numpy(values), 3)
        writer.add_histogram("weights20", values, 3, bins=20)
    theirs = torch_tb.SummaryWriter(str(tmp_path / "torch"))
    import torch
    theirs.add_histogram("weights", torch.from_numpy(values), 3)
    theirs.add_histogram("weights20", torch.from_numpy(values), 3, bins=20)
    theirs.close()
    for tag in ("weights", "weights20"):
        ours = _load(tmp_path / "ours").Histograms(tag)[0]
        ref = _load(tmp_path / "torch").Histograms(tag)[0]
        assert ours.step == ref.step == 3
        assert ours.histogram_value.num == ref.histogram_value.num == 1000
        np.testing.assert_allclose(ours.histogram_value.sum, ref.histogram_value.sum, rtol=1e-5)
        assert list(ours.histogram_value.bucket) == list(ref.histogram_value.bucket)
        np.testing.assert_allclose(ours.histogram_value.bucket_limit,
                                   ref.histogram_value.bucket_limit, rtol=1e-12)
        np.testing.assert_allclose(ours.histogram_value.min, values.min(), rtol=1e-6)


def test_errors_say_what_was_wrong(tmp_path):
    writer = SummaryWriter(tmp_path)
    with pytest.raises(ValueError, match="one element"):
        writer.add_scalar("x", disttorch.ones(3))
    with pytest.raises(ValueError, match="NaN"):
        writer.add_histogram("h", np.array([1.0, np.nan]))
    writer.close()
