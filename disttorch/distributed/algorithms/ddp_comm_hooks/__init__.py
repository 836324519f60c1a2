"""DDP communication hooks (``register_comm_hook``): plain, fp16- and bf16-compressed all-reduce."""
from . import default_hooks
from .default_hooks import allreduce_hook, fp16_compress_hook, bf16_compress_hook

__all__ = ["default_hooks", "allreduce_hook", "fp16_compress_hook", "bf16_compress_hook"]
