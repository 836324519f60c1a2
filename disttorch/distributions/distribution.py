"""``Distribution``: the base class, with PyTorch's shapes, argument validation and errors."""
from .. import ops
from ..autograd import grad_mode
from ..tensor import Size, Tensor
from . import constraints
from .utils import lazy_property

__all__ = ["Distribution"]


class Distribution:
    r"""A probability distribution with batch shape ``batch_shape`` (independent, not identical
    distributions) over events of shape ``event_shape``.

    Parameters are checked against ``arg_constraints`` on construction, and values against
    ``support`` in :meth:`log_prob`, unless validation is off (``validate_args=False``, or
    :meth:`set_default_validate_args`). A check reads a flag back from the device.
    """

    has_rsample = False
    has_enumerate_support = False
    _validate_args = True
    arg_constraints = {}
    support = None

    @staticmethod
    def set_default_validate_args(value):
        """Turn argument validation on or off for distributions made from now on."""
        if value not in (True, False):
            raise ValueError
        Distribution._validate_args = value

    def __init__(self, batch_shape=Size(), event_shape=Size(), validate_args=None):
        self._batch_shape = Size(batch_shape)
        self._event_shape = Size(event_shape)
        if validate_args is not None:
            self._validate_args = validate_args
        if self._validate_args:
            for name, constraint in self.arg_constraints.items():
                if isinstance(constraint, constraints._Dependent):
                    continue
                if name not in self.__dict__ and isinstance(getattr(type(self), name, None),
                                                            lazy_property):
                    continue  # a parameter given in its other form (probs for logits)
                value = getattr(self, name)
                valid = constraint.check(value)
                if not bool(valid.all()):
                    raise ValueError(
                        f"Expected parameter {name} ({type(value).__name__} of shape "
                        f"{tuple(value.shape)}) of distribution {self!r} to satisfy the "
                        f"constraint {constraint!r}, but found invalid values:\n{value}")
        super().__init__()

    @property
    def batch_shape(self):
        """The shape over which parameters are batched."""
        return self._batch_shape

    @property
    def event_shape(self):
        """The shape of a single sample (without batching)."""
        return self._event_shape

    @property
    def mean(self):
        raise NotImplementedError(f"{type(self).__name__} has no mean")

    @property
    def mode(self):
        raise NotImplementedError(f"{type(self).__name__} does not implement mode")

    @property
    def variance(self):
        raise NotImplementedError(f"{type(self).__name__} has no variance")

    @property
    def stddev(self):
        """The standard deviation."""
        return self.variance.sqrt()

    def sample(self, sample_shape=Size()):
        """A sample (or ``sample_shape`` of them), without gradient."""
        with grad_mode.no_grad():
            return self.rsample(sample_shape)

    def rsample(self, sample_shape=Size()):
        """A reparameterized sample: differentiable in the parameters."""
        raise NotImplementedError(f"{type(self).__name__} has no reparameterized sampling "
                                  f"(has_rsample is False)")

    def sample_n(self, n):
        return self.sample(Size((n,)))

    def log_prob(self, value):
        raise NotImplementedError(f"{type(self).__name__} does not implement log_prob")

    def cdf(self, value):
        raise NotImplementedError(f"{type(self).__name__} does not implement cdf")

    def icdf(self, value):
        raise NotImplementedError(f"{type(self).__name__} does not implement icdf")

    def entropy(self):
        raise NotImplementedError(f"{type(self).__name__} does not implement entropy")

    def enumerate_support(self, expand=True):
        raise NotImplementedError(f"{type(self).__name__} does not implement "
                                  f"enumerate_support")

    def perplexity(self):
        """``exp(entropy)``."""
        return ops.exp(self.entropy())

    def expand(self, batch_shape, _instance=None):
        """This distribution with its parameters broadcast (as views) to ``batch_shape``;
        the event shape is unchanged."""
        batch_shape = Size(batch_shape)
        new = object.__new__(type(self))
        event = tuple(self._param_event_shape())
        for name in self.arg_constraints:
            if name in self.__dict__:
                setattr(new, name, self.__dict__[name].expand(tuple(batch_shape) + event))
        for key, value in self.__dict__.items():
            if key not in self.arg_constraints and key not in new.__dict__:
                setattr(new, key, value)
        new._batch_shape = batch_shape
        return new

    def _param_event_shape(self):
        """The trailing dims of the parameters beyond the batch shape (a Categorical's K)."""
        return ()

    def _extended_shape(self, sample_shape=Size()):
        if not isinstance(sample_shape, Size):
            sample_shape = Size(sample_shape)
        return Size(tuple(sample_shape) + tuple(self._batch_shape) + tuple(self._event_shape))

    def _validate_sample(self, value):
        """PyTorch's checks of a value given to log_prob/cdf: a tensor whose shape broadcasts
        with the batch and event shapes, inside the support."""
        if not isinstance(value, Tensor):
            raise ValueError("The value argument to log_prob must be a Tensor")
        event_dim_start = len(value.shape) - len(self._event_shape)
        if tuple(value.shape[event_dim_start:]) != tuple(self._event_shape):
            raise ValueError(f"The right-most size of value must match event_shape: "
                             f"{Size(value.shape)!r} vs {self._event_shape!r}.")
        actual = value.shape[:event_dim_start]
        expected = self._batch_shape
        for i, j in zip(reversed(actual), reversed(expected)):
            if i != 1 and j != 1 and i != j:
                raise ValueError(f"Value is not broadcastable with batch_shape+event_shape: "
                                 f"{Size(actual)!r} vs {Size(expected)!r}.")
        support = self.support
        if isinstance(support, constraints._Dependent):
            return
        if not bool(support.check(value).all()):
            raise ValueError(f"Expected value argument ({type(value).__name__} of shape "
                             f"{tuple(value.shape)}) to be within the support ({support!r}) of "
                             f"the distribution {self!r}, but found invalid values:\n{value}")

    def __repr__(self):
        names = [k for k in self.arg_constraints if k in self.__dict__]
        args = ", ".join(f"{name}: " + (f"{self.__dict__[name]}" if
                                        self.__dict__[name].numel() == 1 else
                                        f"{self.__dict__[name].shape}") for name in names)
        return f"{type(self).__name__}({args})"
