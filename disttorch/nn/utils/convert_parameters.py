"""``parameters_to_vector`` and ``vector_to_parameters``."""
from ...tensor import Tensor

__all__ = ["parameters_to_vector", "vector_to_parameters"]


def _check_same_device(param, device):
    if device is not None and param.device != device:
        raise TypeError("Found two parameters on different devices, this is currently not "
                        "supported.")
    return param.device


def parameters_to_vector(parameters):
    r"""Flatten an iterable of parameters into one (differentiable) vector.

    Args:
        parameters (Iterable[Tensor]): an iterable of Tensors that are the parameters of a model.

    Returns:
        The parameters represented by a single vector.
    """
    from ...ops.joining import cat
    device = None
    flat = []
    for p in parameters:
        device = _check_same_device(p, device)
        flat.append(p.reshape(-1))
    return cat(flat)


def vector_to_parameters(vec, parameters):
    r"""Copy the slices of a vector into the parameters (their ``.data``), in order.

    Args:
        vec (Tensor): a single vector representing the parameters of a model.
        parameters (Iterable[Tensor]): an iterable of Tensors that are the parameters of a model.
    """
    if not isinstance(vec, Tensor):
        raise TypeError(f"expected torch.Tensor, but got: {type(vec).__name__}")
    device = None
    pointer = 0
    for p in parameters:
        device = _check_same_device(p, device)
        n = p.numel()
        p._data = vec._data[pointer:pointer + n].reshape(p._data.shape).astype(p._data.dtype,
                                                                              copy=False)
        pointer += n
