"""disttorch.save / disttorch.load: both formats, storage sharing, torch interoperability in
both directions, the restricted unpickler, atomic writes (a save killed by SIGKILL leaves the
previous file intact), corrupted files and map_location."""
import collections
import io
import os
import pathlib
import pickle
import signal
import subprocess
import sys
import textwrap
import time
import zipfile

import msgpack
import numpy as np
import pytest

import disttorch
from disttorch import nn
from disttorch._dtype import to_numpy_dtype
from disttorch.serialization import CheckpointError

torch = pytest.importorskip("torch")

FORMATS = ["disttorch", "torch"]
DTYPES = ["float32", "float64", "float16", "int64", "int32", "int16", "int8", "uint8", "bool",
          "complex64", "complex128"]


def _array(dtype_name, shape=(3, 4), seed=0):
    rng = np.random.default_rng(seed)
    values = rng.standard_normal(shape) * 10
    if dtype_name == "bool":
        return values > 0
    if dtype_name.startswith("complex"):
        return (values + 1j * rng.standard_normal(shape)).astype(dtype_name)
    if dtype_name == "bfloat16":
        return values.astype(to_numpy_dtype(disttorch.bfloat16))
    return values.astype(dtype_name)


def _round_trip(obj, fmt, **load_kwargs):
    buffer = io.BytesIO()
    disttorch.save(obj, buffer, format=fmt)
    buffer.seek(0)
    return disttorch.load(buffer, **load_kwargs)


def _assert_tensor_equal(loaded, expected):
    assert isinstance(loaded, disttorch.Tensor)
    assert loaded.dtype == expected.dtype and loaded.shape == expected.shape
    np.testing.assert_array_equal(loaded.detach().numpy(), expected.detach().numpy())


# ---------------------------------------------------------------------------- round trips
@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("dtype_name", DTYPES + ["bfloat16"])
def test_dtypes_and_layouts(fmt, dtype_name):
    base = disttorch.tensor(_array(dtype_name, (4, 6)))
    obj = {"plain": base, "transposed": base.t() if hasattr(base, "t") else base,
           "scalar": disttorch.tensor(_array(dtype_name, ())),
           "empty": disttorch.tensor(_array(dtype_name, (0, 3)))}
    loaded = _round_trip(obj, fmt)
    for key, value in obj.items():
        _assert_tensor_equal(loaded[key], value)


@pytest.mark.parametrize("fmt", FORMATS)
def test_nested_containers_and_python_values(fmt):
    obj = collections.OrderedDict([
        ("weights", [disttorch.ones(2), (disttorch.zeros(3, dtype=disttorch.int64), None)]),
        ("meta", {"epoch": 3, "loss": 0.25, "name": "run-1", "blob": b"\x00\xffbytes",
                  "flags": (True, False), "big": 2 ** 80, "neg": -(2 ** 40), "z": 1 - 2j,
                  1: "int key", (2, "x"): "tuple key", "set": {1, 2, 3}}),
        ("dtype", disttorch.float16), ("device", disttorch.device("cpu")),
        ("size", disttorch.Size([2, 3])),
    ])
    loaded = _round_trip(obj, fmt)
    assert type(loaded) is collections.OrderedDict and list(loaded) == list(obj)
    _assert_tensor_equal(loaded["weights"][0], obj["weights"][0])
    _assert_tensor_equal(loaded["weights"][1][0], obj["weights"][1][0])
    assert loaded["weights"][1][1] is None and isinstance(loaded["weights"][1], tuple)
    assert loaded["meta"] == obj["meta"]
    assert loaded["dtype"] is disttorch.float16
    assert loaded["device"] == disttorch.device("cpu")
    assert loaded["size"] == (2, 3) and isinstance(loaded["size"], disttorch.Size)


def test_numpy_values_in_disttorch_format():
    obj = {"array": np.arange(6, dtype=np.uint16).reshape(2, 3)[:, ::2], "scalar": np.float32(1.5),
           "rng": np.random.default_rng(0).bit_generator.state["state"]["state"]}
    loaded = _round_trip(obj, "disttorch")
    np.testing.assert_array_equal(loaded["array"], obj["array"])
    assert loaded["array"].dtype == np.uint16
    assert loaded["scalar"] == np.float32(1.5) and loaded["scalar"].dtype == np.float32
    assert loaded["rng"] == obj["rng"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_storage_sharing(fmt):
    base = disttorch.tensor(np.arange(12, dtype=np.float32).reshape(3, 4))
    obj = {"base": base, "row": base[1], "again": base, "list": [base]}
    loaded = _round_trip(obj, fmt)
    assert loaded["again"] is loaded["base"] and loaded["list"][0] is loaded["base"]
    loaded["base"]._data[1, 2] = -1.0
    assert loaded["row"]._data[2] == -1.0


@pytest.mark.parametrize("fmt", FORMATS)
def test_requires_grad_and_parameters(fmt):
    obj = {"leaf": disttorch.ones(2, requires_grad=True), "plain": disttorch.ones(2),
           "param": nn.Parameter(disttorch.ones(3)),
           "frozen": nn.Parameter(disttorch.ones(3), requires_grad=False)}
    loaded = _round_trip(obj, fmt)
    assert loaded["leaf"].requires_grad and not loaded["plain"].requires_grad
    assert isinstance(loaded["param"], nn.Parameter) and loaded["param"].requires_grad
    assert isinstance(loaded["frozen"], nn.Parameter) and not loaded["frozen"].requires_grad


def test_module_state_dict_round_trip(tmp_path):
    model = nn.Linear(4, 3)
    path = tmp_path / "model.pt"
    disttorch.save(model.state_dict(), path)
    other = nn.Linear(4, 3)
    other.load_state_dict(disttorch.load(path))
    for key, value in model.state_dict().items():
        _assert_tensor_equal(other.state_dict()[key], value)


@pytest.mark.parametrize("fmt", FORMATS)
def test_optimizer_state_dict_round_trip(fmt, tmp_path):
    params = [disttorch.tensor(_array("float32", (3,), seed), requires_grad=True)
              for seed in range(2)]
    opt = disttorch.optim.Adam(params, lr=0.01, amsgrad=True)
    for _ in range(3):
        opt.zero_grad()
        loss = (params[0] * params[1]) ** 2
        loss.backward(disttorch.ones_like(loss))
        opt.step()
    path = tmp_path / "optim.pt"
    disttorch.save(opt.state_dict(), path, format=fmt)
    loaded = disttorch.load(path)
    assert loaded["param_groups"] == opt.state_dict()["param_groups"]
    for index, entry in opt.state_dict()["state"].items():
        for key, value in entry.items():
            _assert_tensor_equal(loaded["state"][index][key], value)
    copies = [disttorch.tensor(p.detach().numpy().copy(), requires_grad=True) for p in params]
    resumed = disttorch.optim.Adam(copies, lr=0.01, amsgrad=True)
    resumed.load_state_dict(loaded)
    for o, ps in ((opt, params), (resumed, copies)):
        o.zero_grad()
        loss = (ps[0] * ps[1]) ** 2
        loss.backward(disttorch.ones_like(loss))
        o.step()
    for a, b in zip(params, copies):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())


# ----------------------------------------------------------------- torch interoperability
def _torch_state():
    optimizer_params = [torch.randn(3, requires_grad=True) for _ in range(2)]
    opt = torch.optim.SGD(optimizer_params, lr=0.1, momentum=0.9)
    for _ in range(2):
        opt.zero_grad()
        (optimizer_params[0] * optimizer_params[1]).sum().backward()
        opt.step()
    adam = torch.optim.Adam(optimizer_params)
    adam.zero_grad()
    (optimizer_params[0] ** 2).sum().backward()
    adam.step()
    tensors = {name: torch.from_numpy(_array(name, (2, 3))) for name in DTYPES}
    base = torch.arange(12.0).reshape(3, 4)
    return {"model": collections.OrderedDict(tensors),
            "views": {"base": base, "col": base[:, 1], "t": base.t()},
            "param": torch.nn.Parameter(torch.ones(2)),
            "nested": [1, 2.5, "s", b"raw", None, (True, torch.tensor(7))],
            "sgd": opt.state_dict(), "adam": adam.state_dict(), "epoch": 5}


def _assert_matches_torch(ours, theirs, where="obj"):
    if isinstance(theirs, torch.Tensor):
        assert isinstance(ours, disttorch.Tensor), where
        assert ours.dtype.name == str(theirs.dtype).split(".")[-1], where
        assert tuple(ours.shape) == tuple(theirs.shape), where
        assert ours.requires_grad == theirs.requires_grad, where
        assert isinstance(ours, nn.Parameter) == isinstance(theirs, torch.nn.Parameter), where
        np.testing.assert_array_equal(ours.detach().numpy(), theirs.detach().numpy(), err_msg=where)
    elif isinstance(theirs, dict):
        assert type(ours) is type(theirs) and list(ours) == list(theirs), where
        for key in theirs:
            _assert_matches_torch(ours[key], theirs[key], f"{where}[{key!r}]")
    elif isinstance(theirs, (list, tuple)):
        assert type(ours) is type(theirs) and len(ours) == len(theirs), where
        for i, (a, b) in enumerate(zip(ours, theirs)):
            _assert_matches_torch(a, b, f"{where}[{i}]")
    else:
        assert ours == theirs and type(ours) is type(theirs), where


def test_load_file_written_by_torch(tmp_path):
    state = _torch_state()
    path = tmp_path / "from_torch.pt"
    torch.save(state, path)
    loaded = disttorch.load(path)
    _assert_matches_torch(loaded, state)
    loaded["views"]["base"]._data[0, 1] = 100.0
    assert loaded["views"]["col"]._data[0] == 100.0 and loaded["views"]["t"]._data[1, 0] == 100.0


def test_load_torch_file_in_a_subprocess_without_torch(tmp_path):
    path = tmp_path / "from_torch.pt"
    torch.save({"w": torch.ones(2, 3), "step": torch.tensor(3.0)}, path)
    script = textwrap.dedent(f"""
        import sys
        sys.modules["torch"] = None  # importing torch now fails
        import disttorch
        state = disttorch.load({str(path)!r})
        assert state["w"].shape == (2, 3) and float(state["step"]) == 3.0
        assert "torch" not in [m.split(".")[0] for m in sys.modules if sys.modules[m]]
        print("ok")
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            cwd=str(pathlib.Path(disttorch.__file__).parents[1]), timeout=120)
    assert result.stdout.strip() == "ok", result.stderr


def _to_disttorch(obj):
    if isinstance(obj, torch.Tensor):
        out = disttorch.tensor(obj.detach().numpy(), requires_grad=obj.requires_grad)
        return nn.Parameter(out) if isinstance(obj, torch.nn.Parameter) else out
    if isinstance(obj, dict):
        return type(obj)((k, _to_disttorch(v)) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_disttorch(v) for v in obj)
    return obj


def test_torch_loads_file_written_in_torch_format(tmp_path):
    state = _torch_state()
    ours = _to_disttorch(state)
    path = tmp_path / "for_torch.pt"
    disttorch.save(ours, path, format="torch")
    loaded = torch.load(path, weights_only=True)
    _assert_matches_torch(ours, loaded)
    assert loaded["model"]["float32"].is_contiguous()


def test_torch_loads_bfloat16_we_wrote(tmp_path):
    # ml_dtypes' bfloat16 has no buffer-protocol format: its bytes are written through a view
    values = disttorch.linspace(-3, 3, 7).to(disttorch.bfloat16)
    path = tmp_path / "bf16.pt"
    disttorch.save({"w": values}, path, format="torch")
    loaded = torch.load(path, weights_only=True)["w"]
    assert loaded.dtype == torch.bfloat16
    assert loaded.float().tolist() == values.float().tolist()


def test_torch_loads_our_views_sharing_storage(tmp_path):
    base = disttorch.tensor(np.arange(12, dtype=np.float32).reshape(3, 4))
    path = tmp_path / "views.pt"
    disttorch.save({"base": base, "t": base.t(), "col": base[:, 1], "row": base[2]}, path,
                   format="torch")
    loaded = torch.load(path, weights_only=True)
    for key, expected in (("t", base.t()), ("col", base[:, 1]), ("row", base[2])):
        np.testing.assert_array_equal(loaded[key].numpy(), expected.numpy())
    assert not loaded["t"].is_contiguous()
    loaded["base"][2, 1] = -5.0
    assert loaded["col"][2] == -5.0 and loaded["row"][1] == -5.0 and loaded["t"][1, 2] == -5.0


def test_torch_optimizer_resumes_from_our_optimizer_state(tmp_path):
    init = [_array("float32", (3,), seed) for seed in range(2)]
    d_params = [disttorch.tensor(a, requires_grad=True) for a in init]
    t_params = [torch.tensor(a, requires_grad=True) for a in init]
    d_opt = disttorch.optim.Adam(d_params, lr=0.01)
    t_opt = torch.optim.Adam(t_params, lr=0.01)
    for lib, params, opt in ((disttorch, d_params, d_opt), (torch, t_params, t_opt)):
        for _ in range(3):
            opt.zero_grad()
            loss = (params[0] * params[1]) ** 2
            loss.backward(lib.ones_like(loss))
            opt.step()
    path = tmp_path / "adam.pt"
    disttorch.save(d_opt.state_dict(), path, format="torch")
    fresh = torch.optim.Adam(t_params, lr=0.01)
    fresh.load_state_dict(torch.load(path, weights_only=True))
    expected = t_opt.state_dict()
    for index, entry in fresh.state_dict()["state"].items():
        for key, value in entry.items():
            np.testing.assert_allclose(value.numpy(), expected["state"][index][key].numpy(),
                                       rtol=1e-5)


# ------------------------------------------------------------------- restricted unpickler
class _Exploit:
    def __reduce__(self):
        return (os.system, ("touch EXPLOITED",))


class _Custom:
    pass


def test_torch_file_with_arbitrary_globals_is_refused(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"w": torch.ones(2), "payload": _Exploit()}, path)
    with pytest.raises(pickle.UnpicklingError, match=r"GLOBAL (posix|os|nt)\.system"):
        disttorch.load(path, weights_only=False)
    assert not (tmp_path / "EXPLOITED").exists() and not os.path.exists("EXPLOITED")
    torch.save({"obj": _Custom()}, path)
    with pytest.raises(pickle.UnpicklingError, match=r"_Custom is not allowed"):
        disttorch.load(path)


def test_torch_file_with_unknown_persistent_id_is_refused(tmp_path):
    path = tmp_path / "odd.pt"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", b"\x80\x02X\x03\x00\x00\x00abcQ.")
        archive.writestr("archive/version", b"3\n")
    with pytest.raises(pickle.UnpicklingError, match="unsupported persistent id"):
        disttorch.load(path)


# ---------------------------------------------------------------------- files and errors
def test_path_like_and_file_objects(tmp_path):
    tensor = disttorch.ones(3)
    disttorch.save(tensor, str(tmp_path / "a.pt"))
    disttorch.save(tensor, tmp_path / "b.pt")
    with open(tmp_path / "c.pt", "wb") as stream:
        disttorch.save(tensor, stream)
    for name in ("a.pt", "b.pt", "c.pt"):
        _assert_tensor_equal(disttorch.load(tmp_path / name), tensor)
    with open(tmp_path / "c.pt", "rb") as stream:
        _assert_tensor_equal(disttorch.load(stream), tensor)

    class NonSeekable(io.RawIOBase):
        def __init__(self, data):
            self._inner = io.BytesIO(data)

        def readable(self):
            return True

        def readinto(self, buffer):
            return self._inner.readinto(buffer)

    data = (tmp_path / "a.pt").read_bytes()
    _assert_tensor_equal(disttorch.load(io.BufferedReader(NonSeekable(data))), tensor)


def test_saved_file_permissions_follow_umask(tmp_path):
    umask = os.umask(0o022)
    os.umask(umask)
    disttorch.save(disttorch.ones(1), tmp_path / "perm.pt")
    assert (tmp_path / "perm.pt").stat().st_mode & 0o777 == 0o666 & ~umask
    assert os.listdir(tmp_path) == ["perm.pt"]


def test_unsupported_objects_leave_previous_file_intact(tmp_path):
    path = tmp_path / "ckpt.pt"
    disttorch.save({"w": disttorch.ones(2)}, path)
    with pytest.raises(TypeError, match=r"_Custom at obj\['bad'\]\[1\]"):
        disttorch.save({"w": disttorch.zeros(2), "bad": [1, _Custom()]}, path)
    cyclic = []
    cyclic.append(cyclic)
    with pytest.raises(ValueError, match="cyclic"):
        disttorch.save(cyclic, path)
    with pytest.raises(TypeError, match="Linear"):
        disttorch.save(nn.Linear(2, 2), path)
    with pytest.raises(ValueError, match="unknown format"):
        disttorch.save({}, path, format="pickle")
    np.testing.assert_array_equal(disttorch.load(path)["w"].numpy(), [1.0, 1.0])
    assert os.listdir(tmp_path) == ["ckpt.pt"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_truncated_and_corrupted_files_name_the_file(tmp_path, fmt):
    path = tmp_path / "ckpt.pt"
    disttorch.save({"w": disttorch.tensor(_array("float32", (64, 64)))}, path, format=fmt)
    data = path.read_bytes()
    for cut in (0, 10, len(data) // 2, len(data) - 10):
        path.write_bytes(data[:cut])
        with pytest.raises(CheckpointError, match=str(path).replace("\\", "\\\\")):
            disttorch.load(path)
    corrupted = bytearray(data)
    start = data.index(_array("float32", (64, 64)).tobytes()[:64])
    corrupted[start + 100] ^= 0xFF
    path.write_bytes(bytes(corrupted))
    with pytest.raises(CheckpointError, match="truncated or corrupted.*CRC"):
        disttorch.load(path)
    path.write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError, match="ckpt.pt is not a readable checkpoint"):
        disttorch.load(path)


def test_zip_that_is_not_a_checkpoint(tmp_path):
    path = tmp_path / "other.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("hello.txt", "hi")
    with pytest.raises(CheckpointError, match="not a checkpoint"):
        disttorch.load(path)


def _rewrite_header(path, edit):
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    header = msgpack.unpackb(members["disttorch-checkpoint/header.msgpack"], raw=False)
    edit(header)
    members["disttorch-checkpoint/header.msgpack"] = msgpack.packb(header, use_bin_type=True)
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def test_header_that_points_outside_its_storage_is_refused(tmp_path):
    path = tmp_path / "ckpt.pt"
    disttorch.save(disttorch.ones(4), path)
    _rewrite_header(path, lambda h: h["tensors"][0].update(shape=[1000]))
    with pytest.raises(CheckpointError, match="does not fit in its storage"):
        disttorch.load(path)


# ----------------------------------------------------------------------------- _metadata
def _bn_model(lib):
    return lib.nn.Sequential(lib.nn.Conv2d(1, 2, 3), lib.nn.BatchNorm2d(2), lib.nn.Linear(2, 2))


def test_state_dict_metadata_matches_torch_and_survives_every_direction(tmp_path):
    expected = _bn_model(torch).state_dict()._metadata
    ours = _bn_model(disttorch).state_dict()
    assert ours._metadata == expected                 # BatchNorm is version 2, as in torch
    torch.save(_bn_model(torch).state_dict(), tmp_path / "t.pt")
    assert disttorch.load(tmp_path / "t.pt")._metadata == expected
    for fmt in ("disttorch", "torch"):
        path = tmp_path / f"ours-{fmt}.pt"
        disttorch.save(ours, path, format=fmt)
        assert disttorch.load(path)._metadata == expected, fmt
    assert torch.load(tmp_path / "ours-torch.pt", weights_only=True)._metadata == expected
    # a plain OrderedDict carries no _metadata and gets none back
    disttorch.save(collections.OrderedDict(w=disttorch.ones(1)), tmp_path / "plain.pt")
    assert not hasattr(disttorch.load(tmp_path / "plain.pt"), "_metadata")


def test_missing_num_batches_tracked_follows_the_saved_version():
    for lib in (torch, disttorch):
        bn = lib.nn.BatchNorm1d(3)
        state = bn.state_dict()
        del state["num_batches_tracked"]
        # saved by version 2: the buffer is reported missing
        assert bn.load_state_dict(state, strict=False).missing_keys == ["num_batches_tracked"]
        # no version (an old checkpoint): the current count is kept, nothing missing
        legacy = collections.OrderedDict(state)
        assert not bn.load_state_dict(legacy, strict=True).missing_keys, lib.__name__


# ----------------------------------------------------------------------------- map_location
def test_map_location_on_a_file_written_by_torch(tmp_path):
    path = tmp_path / "from_torch.pt"
    torch.save({"w": torch.ones(2), "b": torch.zeros(1, dtype=torch.float64)}, path)
    seen = []

    def to_double(tensor, location):
        seen.append(location)
        return tensor.double()

    loaded = disttorch.load(path, map_location=to_double)
    assert loaded["w"].dtype == disttorch.float64 and sorted(seen) == ["cpu", "cpu"]
    assert disttorch.load(path, map_location="cpu")["w"].device.type == "cpu"


def test_map_location(tmp_path):
    path = tmp_path / "ckpt.pt"
    disttorch.save({"w": disttorch.ones(2), "b": disttorch.zeros(1)}, path)
    for location in ("cpu", disttorch.device("cpu"), {"cpu": "cpu"}):
        assert disttorch.load(path, map_location=location)["w"].device.type == "cpu"
    seen = []

    def to_double(tensor, location):
        seen.append(location)
        return tensor.double()

    assert disttorch.load(path, map_location=to_double)["w"].dtype == disttorch.float64
    assert seen == ["cpu", "cpu"]
    assert disttorch.load(path, map_location=lambda t, loc: None)["w"].device.type == "cpu"


@pytest.mark.skipif(disttorch.cuda.is_available(), reason="checks the CPU-only error")
def test_cuda_checkpoint_on_a_cpu_machine(tmp_path):
    path = tmp_path / "ckpt.pt"
    disttorch.save({"w": disttorch.ones(2)}, path)
    _rewrite_header(path, lambda h: h["storages"][0].update(location="cuda:0"))
    with pytest.raises(RuntimeError, match="map_location=disttorch.device\\('cpu'\\)"):
        disttorch.load(path)
    assert disttorch.load(path, map_location="cpu")["w"].device.type == "cpu"
    assert disttorch.load(path, map_location={"cuda:0": "cpu"})["w"].device.type == "cpu"
    locations = []
    disttorch.load(path, map_location=lambda t, loc: locations.append(loc) or t)
    assert locations == ["cuda:0"]


# -------------------------------------------------------------------------- atomic writes
_SAVER = """
import sys
import time
import numpy as np
import disttorch
from disttorch import serialization

# The real save path, with storage bytes written in 1 MB pieces and a pause between them,
# so that the parent's SIGKILL lands mid-write however fast the disk is.
def slow_write_array(archive, name, array):
    info = serialization.zipfile.ZipInfo(name)
    info.file_size = array.nbytes
    data = memoryview(array.reshape(-1)).cast("B")
    with archive.open(info, "w") as member:
        for start in range(0, len(data), 1 << 20):
            member.write(data[start:start + (1 << 20)])
            time.sleep(0.01)

serialization._write_array = slow_write_array
path, size = sys.argv[1], int(sys.argv[2])
big = disttorch.tensor(np.ones(size, dtype=np.float32))
print("saving", flush=True)
disttorch.save({"w": big, "marker": "new"}, path)
print("done", flush=True)
"""


def test_save_killed_mid_write_leaves_previous_file(tmp_path):
    path = tmp_path / "ckpt.pt"
    disttorch.save({"w": disttorch.zeros(3), "marker": "old"}, path)
    size = 16 * 1024 * 1024  # 64 MB of float32, written in about a second
    process = subprocess.Popen([sys.executable, "-c", _SAVER, str(path), str(size)],
                               stdout=subprocess.PIPE, text=True,
                               cwd=str(pathlib.Path(disttorch.__file__).parents[1]))
    try:
        assert process.stdout.readline().strip() == "saving"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            partial = [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
            if partial and partial[0].stat().st_size > 4 * 1024 * 1024:
                break
            time.sleep(0.001)
        else:
            pytest.fail("the temporary file never appeared")
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == -signal.SIGKILL
    assert process.stdout.read() == ""  # killed before "done"
    loaded = disttorch.load(path)
    assert loaded["marker"] == "old"
    np.testing.assert_array_equal(loaded["w"].numpy(), np.zeros(3))
