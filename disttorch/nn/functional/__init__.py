"""``disttorch.nn.functional``: the functional forms of every layer, activation and loss."""
from .._aggregate import collect

__all__ = collect(__name__, ["_activation", "_loss", "_linear", "_dropout", "_sparse", "_misc",
                             "_conv", "_pool", "_upsample", "_norm", "_attention", "_rnn",
                             "_linear_cross_entropy"],
                  globals())
