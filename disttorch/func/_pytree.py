"""Pytrees for the function transforms: nested tuples, lists, dicts and namedtuples whose
leaves are anything else (tensors, numbers, None).

``TreeSpec`` prints as ``torch.utils._pytree.TreeSpec`` does, so the transforms' structure
errors read as PyTorch's.
"""
import collections

from ..tensor import Tensor

__all__ = ["TreeSpec", "tree_flatten", "tree_unflatten", "broadcast_prefix", "LEAF"]


def _is_namedtuple(x):
    return isinstance(x, tuple) and hasattr(type(x), "_fields")


def _node_kind(x):
    """The node type of ``x`` (None for a leaf)."""
    if isinstance(x, Tensor):
        return None
    if _is_namedtuple(x):
        return "namedtuple"
    if type(x) in (tuple, list, dict, collections.OrderedDict):
        return type(x)
    return None


class TreeSpec:
    """The structure of a pytree: a node type, its context (dict keys, namedtuple class) and
    the specs of its children; a leaf has ``type`` None."""
    __slots__ = ("type", "context", "children", "num_leaves")

    def __init__(self, type_, context, children):
        self.type, self.context, self.children = type_, context, children
        self.num_leaves = 1 if type_ is None else sum(c.num_leaves for c in children)

    def is_leaf(self):
        return self.type is None

    def __eq__(self, other):
        return (isinstance(other, TreeSpec) and self.type == other.type
                and self.context == other.context and self.children == other.children)

    def __hash__(self):
        return hash((self.type, len(self.children)))

    def __repr__(self, indent=0):
        if self.type is None:
            return "*"
        name = self.type if isinstance(self.type, str) else self.type.__name__
        parts = []
        if self.children:
            indent += 2
            parts.append(self.children[0].__repr__(indent))
            parts.extend("\n" + " " * indent + c.__repr__(indent) for c in self.children[1:])
        return f"TreeSpec({name}, {self.context}, [{','.join(parts)}])"


LEAF = TreeSpec(None, None, [])


def _children(x, kind):
    if kind in (dict, collections.OrderedDict):
        keys = list(x)
        return [x[k] for k in keys], keys
    if kind == "namedtuple":
        return list(x), type(x)
    return list(x), None


def tree_flatten(tree):
    """``(leaves, spec)`` of ``tree``."""
    leaves = []

    def walk(x):
        kind = _node_kind(x)
        if kind is None:
            leaves.append(x)
            return LEAF
        values, context = _children(x, kind)
        return TreeSpec(kind, context, [walk(v) for v in values])
    spec = walk(tree)
    return leaves, spec


def tree_unflatten(leaves, spec):
    """The pytree of structure ``spec`` holding ``leaves`` (in flattening order)."""
    it = iter(leaves)

    def build(s):
        if s.type is None:
            return next(it)
        values = [build(c) for c in s.children]
        if s.type == "namedtuple":
            return s.context(*values)
        if s.type in (dict, collections.OrderedDict):
            return s.type(zip(s.context, values))
        return s.type(values)
    return build(spec)


def broadcast_prefix(prefix, spec):
    """``prefix`` (a pytree whose leaves stand for whole subtrees of ``spec``) spread to one
    value per leaf of ``spec``; None when it is not a prefix of ``spec``."""
    out = []

    def walk(p, s):
        kind = _node_kind(p)
        if kind is None:
            out.extend([p] * s.num_leaves)
            return True
        if kind != s.type:
            return False
        values, context = _children(p, kind)
        if len(values) != len(s.children):
            return False
        if kind in (dict, collections.OrderedDict):
            if set(context) != set(s.context):
                return False
            by_key = dict(zip(context, values))
            values = [by_key[k] for k in s.context]
        elif kind == "namedtuple" and context is not s.context:
            return False
        return all(walk(v, c) for v, c in zip(values, s.children))
    return out if walk(prefix, spec) else None
