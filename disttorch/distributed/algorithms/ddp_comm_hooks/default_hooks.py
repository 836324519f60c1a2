"""The built-in DDP communication hooks, with PyTorch's names and signatures.

A hook is ``hook(state, bucket) -> Future`` whose value is the bucket's reduced flat gradient.
"""
from ... import ReduceOp, get_world_size
from ...._dtype import float16, bfloat16

__all__ = ["allreduce_hook", "fp16_compress_hook", "bf16_compress_hook"]


def _group_size(process_group):
    return process_group.size() if process_group is not None else get_world_size()


def allreduce_hook(process_group, bucket):
    """All-reduce the bucket and average by the group size (DDP's default behaviour)."""
    from ... import all_reduce
    buffer = bucket.buffer()
    work = all_reduce(buffer, op=ReduceOp.AVG, group=process_group, async_op=True)
    return work.get_future().then(lambda fut: buffer)


def _compress_hook(dtype, process_group, bucket):
    from ... import all_reduce
    if dtype is None:
        raise RuntimeError("bf16_compress_hook needs the ml_dtypes package for bfloat16 on CPU: "
                           "pip install ml_dtypes")
    buffer = bucket.buffer()
    compressed = buffer.to(dtype)
    compressed.div_(_group_size(process_group))
    work = all_reduce(compressed, group=process_group, async_op=True)

    def decompress(fut):
        buffer.copy_(fut.value()[0])
        return buffer
    return work.get_future().then(decompress)


def fp16_compress_hook(process_group, bucket):
    """Cast the bucket to float16, divide by the group size, all-reduce, cast back.

    Halves the bytes on the wire at the cost of float16 rounding of the gradients.
    """
    return _compress_hook(float16, process_group, bucket)


def bf16_compress_hook(process_group, bucket):
    """Like :func:`fp16_compress_hook` with bfloat16 (wider range, fewer mantissa bits)."""
    return _compress_hook(bfloat16, process_group, bucket)
