"""The rest of ``torch.func``: ``rearrange`` (einops' notation for reshapes and permutations),
``functionalize``, ``debug_unwrap`` and ``replace_all_batch_norm_modules_``."""
import functools
import math
import re

from ..tensor import Tensor

__all__ = ["rearrange", "functionalize", "debug_unwrap", "replace_all_batch_norm_modules_"]

_ELLIPSIS = "..."
_TOKEN = re.compile(r"\.\.\.|\(|\)|[A-Za-z_][A-Za-z0-9_]*|\d+|\S")


def _parse_side(text):
    """A side of the pattern as a list of groups, each a list of axis names (``None`` for an
    anonymous axis of length 1, ``"..."`` for an ellipsis inside parentheses), or ``"..."`` for
    a bare ellipsis."""
    groups, current = [], None
    seen = set()
    for token in _TOKEN.findall(text):
        if token == "(":
            if current is not None:
                raise ValueError(f"Nested parentheses are not allowed in '{text.strip()}'")
            current = []
            continue
        if token == ")":
            if current is None:
                raise ValueError(f"Unbalanced parentheses in '{text.strip()}'")
            groups.append(current)
            current = None
            continue
        if token.isdigit():
            if token != "1":
                raise ValueError(f"Non-unitary anonymous axes are not supported in rearrange "
                                 f"(exception is length 1): {token}")
            name = None
        elif token == _ELLIPSIS or token[0].isalpha() or token[0] == "_":
            name = token
            if name in seen:
                raise ValueError(f"Indexing expression contains duplicate dimension '{name}'")
            seen.add(name)
        else:
            raise ValueError(f"Invalid character {token!r} in rearrange pattern "
                             f"'{text.strip()}'")
        if current is None:
            groups.append(_ELLIPSIS if name == _ELLIPSIS else [name])
        else:
            current.append(name)
    if current is not None:
        raise ValueError(f"Unbalanced parentheses in '{text.strip()}'")
    return groups


def _names(groups):
    return {n for g in groups for n in ([g] if g == _ELLIPSIS else g) if n is not None}


def rearrange(tensor, pattern, **axes_lengths):
    r"""Reorder, merge and split dimensions with einops' notation: ``"b h w c -> b c h w"``
    permutes, ``"(b h) w c"`` merges, ``"(h1 h)"`` with ``h1=2`` splits, ``...`` stands for the
    remaining dimensions and ``1`` (or ``()``) for a dimension of length 1.

    Args:
        tensor (Tensor or sequence of Tensor): the tensor; a sequence is stacked along a new
            first dimension first.
        pattern (str): ``"left -> right"``.
        axes_lengths (int): lengths of axes the left side splits.

    Example::

        >>> rearrange(images, "b (h h1) (w w1) c -> b h w (c h1 w1)", h1=2, w1=2)
    """
    if not isinstance(tensor, Tensor):
        import disttorch
        tensor = disttorch.stack(list(tensor))
    if pattern.count("->") != 1:
        raise ValueError("Pattern must contain a single '->' separator")
    left_text, right_text = pattern.split("->")
    left, right = _parse_side(left_text), _parse_side(right_text)
    only = _names(left) ^ _names(right)
    if only:
        raise ValueError(f"Identifiers only on one side of rearrange expression (should be on "
                         f"both): {only}")
    unknown = set(axes_lengths) - _names(left)
    if unknown:
        raise ValueError(f"Identifiers not found in rearrange expression: {unknown}")
    has_ellipsis = _ELLIPSIS in _names(left)
    if any(g != _ELLIPSIS and _ELLIPSIS in g for g in left):
        raise ValueError("Ellipsis inside parenthesis in the left side is not allowed")
    shape = list(tensor.shape)
    fixed = len(left) - (1 if has_ellipsis else 0)
    if (len(shape) < fixed) if has_ellipsis else (len(shape) != fixed):
        raise ValueError(f"Number of dimensions in pattern ({fixed}) must be equal to the number "
                         f"of dimensions in the tensor ({len(shape)})")
    # the ellipsis becomes as many elementary axes as it covers
    ellipsis_names = []
    if has_ellipsis:
        at = left.index(_ELLIPSIS)
        ellipsis_names = [f"...{k}" for k in range(len(shape) - fixed)]
        left = left[:at] + [[n] for n in ellipsis_names] + left[at + 1:]

    def expand(groups):
        out = []
        for g in groups:
            if g == _ELLIPSIS:      # bare: one group per dimension it covers
                out += [[n] for n in ellipsis_names]
            else:                   # in parentheses: merged into one
                out.append([m for n in g for m in (ellipsis_names if n == _ELLIPSIS else [n])])
        return out

    left, right = expand(left), expand(right)
    lengths = dict(axes_lengths)
    elementary = []         # the left's axes in order, anonymous ones as (None, k)
    for k, (group, size) in enumerate(zip(left, shape)):
        known = 1
        missing = []
        for j, name in enumerate(group):
            if name is None:
                continue
            if name in lengths:
                known *= lengths[name]
            else:
                missing.append(name)
        if len(missing) > 1:
            raise ValueError(f"Could not infer sizes for {set(missing)}: only one unknown axis "
                             f"per parenthesized group")
        if missing:
            if known == 0 or size % known:
                raise ValueError(f"Shape mismatch, can't divide axis of length {size} in chunks "
                                 f"of {known}")
            lengths[missing[0]] = size // known
        elif known != size:
            raise ValueError(f"Shape mismatch, {size} != {known} for the group "
                             f"({' '.join('1' if n is None else n for n in group)})")
        elementary += [n if n is not None else (None, k, j) for j, n in enumerate(group)]
    split = tensor.reshape([1 if isinstance(n, tuple) else lengths[n] for n in elementary])
    order = [n for g in right for n in g if n is not None]
    permuted = split.permute([elementary.index(n) for n in order] +
                             [i for i, n in enumerate(elementary) if isinstance(n, tuple)])
    out_shape = [math.prod(lengths[n] for n in g if n is not None) for g in right]
    return permuted.reshape(out_shape)


def functionalize(func, *, remove="mutations"):
    """``func`` made free of in-place mutations, for program capture.

    PyTorch rewrites the in-place ops of ``func`` into out-of-place ones and copies mutated
    inputs back at the end, which leaves the results and the inputs' final values unchanged.
    disttorch captures no programs, so the function is returned with that same behaviour:
    calling it is calling ``func``.

    Args:
        remove (str): ``"mutations"`` or ``"mutations_and_views"``.
    """
    if remove not in ("mutations", "mutations_and_views"):
        raise RuntimeError(f"functionalize(f, remove='mutations'): received invalid argument for "
                           f"remove={remove}. Valid options are:\n     remove='mutations': all "
                           f"inplace and out= operators will be removed from the program, and "
                           f"replaced with their out-of-place equivalents.\n     "
                           f"remove='mutations_and_views': In addition to the above, all aliasing "
                           f"operators {{view}} will be replaced with their non-aliasing "
                           f"counterparts, {{view}}_copy.\n")

    @functools.wraps(func)
    def run(*args, **kwargs):
        return func(*args, **kwargs)
    return run


def debug_unwrap(tensor, *, recurse=True):
    """The plain tensor inside a transform's wrapper. disttorch's transforms do not wrap
    tensors, so this is ``tensor`` itself."""
    return tensor


def replace_all_batch_norm_modules_(root):
    """Make every batch norm module of ``root`` use batch statistics only (no running stats),
    in place, so that ``vmap`` over it needs no in-place updates; returns ``root``."""
    from ..nn.modules.batchnorm import _BatchNorm
    for module in root.modules():
        if isinstance(module, _BatchNorm):
            module.running_mean = None
            module.running_var = None
            module.num_batches_tracked = None
            module.track_running_stats = False
    return root
