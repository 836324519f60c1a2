"""Device objects: ``disttorch.device("cpu")``, ``device("cuda")``, ``device("cuda:1")``."""

__all__ = ["device", "set_default_device", "get_default_device"]

# the device factory functions use when given none (set_default_device, ``with device(...)``)
_default = [None]


class device:
    """Where a tensor's memory lives: ``"cpu"`` or ``"cuda[:index]"``."""

    __slots__ = ("type", "index")

    def __new__(cls, type, index=None):
        if isinstance(type, device):
            return type
        if isinstance(type, int) and not isinstance(type, bool):
            type, index = "cuda", type
        if not isinstance(type, str):
            raise TypeError(f"device() received an invalid combination of arguments - got ({type!r})")
        name, sep, idx = type.partition(":")
        if name not in ("cpu", "cuda", "meta"):
            raise RuntimeError(
                "Expected one of cpu, cuda, meta device type at start of device string: " + type)
        if sep:
            if index is not None:
                raise RuntimeError(f"type (string) must not include an index because index was passed "
                                   f"explicitly: {type}")
            if not idx.isdigit():
                raise RuntimeError(f"Invalid device string: '{type}'")
            index = int(idx)
        if index is not None and index < 0:
            raise RuntimeError(f"Device index must not be negative, got {index}")
        self = object.__new__(cls)
        self.type = name
        self.index = index
        return self

    def __eq__(self, other):
        if isinstance(other, str):
            other = device(other)
        return isinstance(other, device) and self.type == other.type and self.index == other.index

    def __hash__(self):
        return hash((self.type, self.index))

    def __repr__(self):
        if self.index is None:
            return f"device(type='{self.type}')"
        return f"device(type='{self.type}', index={self.index})"

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __reduce__(self):
        return (device, (self.type, self.index))

    def __enter__(self):
        """``with device("cuda"):`` makes this the default device of the block."""
        _entered.append(_default[0])
        _default[0] = self
        return self

    def __exit__(self, *exc):
        _default[0] = _entered.pop()
        return False


_entered = []  # the default devices that ``with device(...)`` blocks replaced


def set_default_device(device_):
    """Make ``device_`` (a device, string or index; None: the CPU) where factory functions
    (``zeros``, ``randn``, ``tensor``..., and so new modules' parameters) create tensors when
    given no ``device``. ``from_numpy`` and the ``*_like`` functions are not affected."""
    _default[0] = None if device_ is None else device(device_)


def get_default_device():
    """The device factory functions use when given none (``cpu`` unless set)."""
    return _default[0] if _default[0] is not None else CPU


def default_or(device_):
    """``device_``, or the default device when it is None (None when that is the CPU)."""
    return _default[0] if device_ is None else device_


CPU = device("cpu")
