"""``nn.utils.stateless.functional_call``: the deprecated name of ``func.functional_call``."""
import warnings

__all__ = ["functional_call"]

_DEPRECATED = ("`torch.nn.utils.stateless.functional_call` is deprecated as of PyTorch 2.0 and "
               "will be removed in a future version of PyTorch. Please use "
               "`torch.func.functional_call` instead which is a drop-in replacement.")


def functional_call(module, parameters_and_buffers, args=None, kwargs=None, *, tie_weights=True,
                    strict=False):
    r"""Call ``module`` with its parameters and buffers replaced by ``parameters_and_buffers``.

    .. warning::
        Deprecated as of PyTorch 2.0: use :func:`disttorch.func.functional_call`, a drop-in
        replacement (which also takes a sequence of dicts).

    Args:
        module (Module): the module to call.
        parameters_and_buffers (dict of str and Tensor): tensors by full name, used in the
            call instead of the module's own.
        args (Any or tuple): positional arguments (a non-tuple is one argument).
        kwargs (dict): keyword arguments.
        tie_weights (bool): a tensor given for one of several tied names serves them all.
            Default: ``True``
        strict (bool): every parameter and buffer must be given, and nothing else.
            Default: ``False``

    Returns:
        Any: the result of calling ``module``.
    """
    warnings.warn(_DEPRECATED, FutureWarning, stacklevel=2)
    from ...func import functional_call as _functional_call
    given = {name: parameters_and_buffers[name] for name in parameters_and_buffers.keys()}
    return _functional_call(module, given, args, kwargs, tie_weights=tie_weights, strict=strict)
