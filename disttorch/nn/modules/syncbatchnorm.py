"""``SyncBatchNorm``: batch normalization with statistics over the whole distributed batch."""
import numpy as np

from ..._backend import get_array_module
from ...autograd import grad_mode
from ...autograd.function import Node
from ...tensor import Tensor, _new
from .batchnorm import _BatchNorm

__all__ = ["SyncBatchNorm"]


def _allreduce_array(array, group):
    from ...distributed import ReduceOp
    t = _new(get_array_module(array).ascontiguousarray(array))
    group.allreduce(t, ReduceOp.SUM, False)
    return t._data


class _SyncNormalize(Node):
    """Batch norm whose per-channel sums are all-reduced in forward and backward."""

    def forward(self, x, weight, bias, eps, group):
        xp = get_array_module(x)
        n, c = x.shape[0], x.shape[1]
        xs = x.reshape(n, c, -1)
        local_count = xs.shape[0] * xs.shape[2]
        packed = xp.concatenate([xs.sum(axis=(0, 2), dtype=np.float64),
                                 (xs.astype(np.float64) ** 2).sum(axis=(0, 2)),
                                 xp.array([local_count], np.float64)])
        total = _allreduce_array(packed, group)
        count = total[-1]
        mean = total[:c] / count
        var = np.maximum(total[c:2 * c] / count - mean * mean, 0.0)
        invstd = (1.0 / np.sqrt(var + eps)).astype(x.dtype)
        mean = mean.astype(x.dtype)
        xhat = (xs - mean[None, :, None]) * invstd[None, :, None]
        y = xhat if weight is None else xhat * weight[None, :, None]
        if bias is not None:
            y = y + bias[None, :, None]
        self.group = group
        self.count = count
        self.save_for_backward(weight, xhat, invstd)
        self.mark_non_differentiable(1, 2, 3)
        return y.reshape(x.shape), mean, var.astype(x.dtype), total[-1:].copy()

    def backward(self, g, _mean, _var, _count):
        if isinstance(g, Tensor):
            raise RuntimeError("double backward through SyncBatchNorm is not supported")
        weight, xhat, invstd = self.saved_tensors
        n, c = g.shape[0], g.shape[1]
        gs = g.reshape(n, c, -1)
        e = self.next_edges
        sum_g = gs.sum(axis=(0, 2))
        sum_g_xhat = (gs * xhat).sum(axis=(0, 2))
        gx = gw = gb = None
        if e[0] is not None:
            xp = get_array_module(g)
            totals = _allreduce_array(xp.concatenate([sum_g, sum_g_xhat]).astype(np.float64),
                                      self.group)
            mean_g = (totals[:c] / self.count).astype(g.dtype)
            mean_g_xhat = (totals[c:] / self.count).astype(g.dtype)
            scale = invstd if weight is None else invstd * weight
            gx = ((gs - mean_g[None, :, None] - xhat * mean_g_xhat[None, :, None]) *
                  scale[None, :, None]).reshape(g.shape)
        if e[1] is not None:
            gw = sum_g_xhat.astype(g.dtype)
        if e[2] is not None:
            gb = sum_g.astype(g.dtype)
        return gx, gw, gb, None, None


class SyncBatchNorm(_BatchNorm):
    """Batch normalization over an N-D input whose mean and variance are computed over the
    batch of every rank in ``process_group`` (one all-reduce of per-channel sums in forward,
    one in backward). In eval mode, or with a single rank, it is ordinary batch norm.

    Args:
        num_features, eps, momentum, affine, track_running_stats: as for ``BatchNorm2d``.
        process_group: the ranks to synchronise over (default: the world).

    Example::

        >>> model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        >>> ddp = DistributedDataParallel(model)
    """

    _expected_dims = (2, 3, 4, 5)

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True, process_group=None, device=None, dtype=None):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype)
        self.process_group = process_group

    def _check_input_dim(self, input):
        if input.ndim < 2:
            raise ValueError(f"expected at least 2D input (got {input.ndim}D input)")

    def forward(self, input):
        from ... import distributed as dist
        self._check_input_dim(input)
        group = self.process_group
        if group is None and dist.is_initialized():
            group = dist.get_default_group()
        if not self.training or group is None or group.size() == 1:
            return super().forward(input)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked.add_(1)
            if self.momentum is None:
                factor = 1.0 / float(self.num_batches_tracked.item())
        out, mean, var, count = _SyncNormalize.apply(input, self.weight, self.bias, self.eps, group)
        if self.track_running_stats and self.running_mean is not None:
            # the unbiased variance's n / (n - 1) stays on the device (no host read per step)
            n = count._data
            xp = get_array_module(n)
            with grad_mode.no_grad():
                for running, value in ((self.running_mean, mean._data),
                                       (self.running_var, var._data * (n / xp.maximum(n - 1.0, 1.0)))):
                    running._data *= 1.0 - factor
                    running._data += factor * value.astype(running._data.dtype)
                    running._vc[0] += 1
        return out

    @classmethod
    def convert_sync_batchnorm(cls, module, process_group=None):
        """Return ``module`` with every ``BatchNorm*D`` layer replaced by ``SyncBatchNorm``
        (weights, buffers and mode carried over)."""
        converted = module
        if isinstance(module, _BatchNorm) and not isinstance(module, SyncBatchNorm):
            converted = cls(module.num_features, module.eps, module.momentum, module.affine,
                            module.track_running_stats, process_group)
            if module.affine:
                with grad_mode.no_grad():
                    converted.weight = module.weight
                    converted.bias = module.bias
            converted.running_mean = module.running_mean
            converted.running_var = module.running_var
            converted.num_batches_tracked = module.num_batches_tracked
            converted.training = module.training
        for name, child in module.named_children():
            converted.add_module(name, cls.convert_sync_batchnorm(child, process_group))
        return converted
