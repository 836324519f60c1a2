"""``replicate``: copies of a module on several devices whose parameters are differentiable
copies of the original's, so that the replicas' gradients flow back to it."""
from ...autograd import grad_mode
from .scatter_gather import _device_index, _place

__all__ = ["replicate"]


def _copy_to(tensor, index, detach):
    if tensor is None:
        return None
    if detach:
        with grad_mode.no_grad():
            return tensor.to(_place(index))
    return tensor.to(_place(index))


def _shallow_copy(module):
    """A new instance sharing everything but the parameter, buffer and child tables."""
    replica = module.__new__(type(module))
    replica.__dict__ = module.__dict__.copy()
    replica.__dict__["_parameters"] = {}
    replica.__dict__["_buffers"] = dict(module._buffers)
    replica.__dict__["_modules"] = dict(module._modules)
    replica.__dict__["_is_replica"] = True
    return replica


def replicate(network, devices, detach=False):
    """Copies of ``network``, one per device in ``devices``.

    The copy on ``devices[0]`` uses the original parameters and buffers themselves (when they
    live there), so in-place buffer updates (BatchNorm's running statistics) land in the
    original, as with PyTorch's broadcast. On the other devices, parameters (and buffers that
    require grad) are differentiable copies: ``backward`` through a replica accumulates into
    the original parameters. ``detach=True`` (used when grad mode is off) copies without
    history.

    Args:
        network (Module): the module to copy.
        devices (list): CUDA device indices or devices.
        detach (bool): make the copies non-differentiable. Default: ``False``

    Returns:
        list of Module
    """
    indices = [_device_index(d, True) for d in devices]
    modules = list(network.modules())
    position = {id(m): i for i, m in enumerate(modules)}
    copies = []
    for index in indices:
        replicas = [_shallow_copy(m) for m in modules]
        for module, replica in zip(modules, replicas):
            for name, child in module._modules.items():
                replica._modules[name] = None if child is None else replicas[position[id(child)]]
            for name, param in module._parameters.items():
                replica._parameters[name] = _copy_to(param, index, detach)
            for name, buf in module._buffers.items():
                replica._buffers[name] = _copy_to(buf, index, detach or
                                                  buf is None or not buf.requires_grad)
        copies.append(replicas[0])
    return copies


