"""Shape and view ops with the arguments where libraries part ways (negative and repeated
dims, -1 sizes, empty and non-contiguous inputs, out-of-range sizes) against torch."""
import pytest

import disttorch
from tests.ops.harness import (SWEEP_ERRORS, assert_same_outcomes, outcome, requires_torch,
                               torch)


def torch_or(x):
    return torch if isinstance(x, torch.Tensor) else disttorch


CASES = {
    "view_neg": lambda x: x.view(-1, 4),
    "view_bad2neg": lambda x: x.view(-1, -1),
    "view_zero": lambda x: x[:0].view(0, -1),
    "reshape_noncontig": lambda x: x.transpose(0, 1).reshape(-1),
    "view_noncontig": lambda x: x.transpose(0, 1).view(-1),
    "permute_neg": lambda x: x.permute(-1, 0, 1),
    "permute_dup": lambda x: x.permute(0, 0, 1),
    "permute_short": lambda x: x.permute(0, 1),
    "expand_neg1": lambda x: x[:, :1].expand(-1, 5, -1),
    "expand_new_lead": lambda x: x.expand(2, 3, 4, 2),
    "expand_bad": lambda x: x.expand(3, 5, 2),
    "expand_neg_lead": lambda x: x.expand(-1, 3, 4, 2),
    "squeeze_multi": lambda x: x[:1].squeeze((0, 2)),
    "squeeze_oob": lambda x: x.squeeze(5),
    "unsqueeze_neg": lambda x: x.unsqueeze(-1),
    "unsqueeze_oob": lambda x: x.unsqueeze(5),
    "flatten_mid": lambda x: x.flatten(1),
    "flatten_rev": lambda x: x.flatten(2, 1),
    "unflatten_neg": lambda x: x.unflatten(1, (2, -1)),
    "unflatten_bad": lambda x: x.unflatten(1, (3, -1)),
    "movedim": lambda x: x.movedim((0, 1), (2, 0)),
    "movedim_dup": lambda x: x.movedim((0, 0), (1, 2)),
    "split_int": lambda x: x.split(2, 1)[-1],
    "split_list": lambda x: x.split([1, 3], 1)[1],
    "split_bad": lambda x: x.split([1, 2], 1)[0],
    "chunk_uneven": lambda x: x.chunk(3, 1)[-1],
    "chunk_more": lambda x: x[:, :2].chunk(5, 1)[-1],
    "narrow_neg": lambda x: x.narrow(1, -2, 2),
    "narrow_oob": lambda x: x.narrow(1, 3, 2),
    "unbind": lambda x: x.unbind(2)[1],
    "tile": lambda x: x.tile((2,)),
    "tile_more": lambda x: x.tile((2, 1, 1, 1)),
    "repeat": lambda x: x.repeat(1, 2, 1),
    "repeat_few": lambda x: x.repeat(2),
    "roll_multi": lambda x: x.roll((1, -1), (0, 2)),
    "roll_flat": lambda x: x.roll(3),
    "flip_neg": lambda x: x.flip(-1, 0),
    "flip_dup": lambda x: x.flip(0, 0),
    "transpose_same": lambda x: x.transpose(1, 1),
    "swapdims": lambda x: x.swapdims(0, -1),
    "t_3d": lambda x: x.t(),
    "mT": lambda x: x.mT,
    "diagonal": lambda x: x.diagonal(0, 1, 2),
    "diagonal_off": lambda x: x.diagonal(-1, 0, 1),
    "diag_embed": lambda x: x[0].diag_embed(),
    "tril_3d": lambda x: x.tril(),
    "triu_neg": lambda x: x.triu(-1),
    "rot90": lambda x: x.rot90(1, (0, 1)),
    "rot90_neg": lambda x: x.rot90(-3, (1, 2)),
    "stack_dim": lambda x: torch_or(x).stack([x, x], -1),
    "cat_neg": lambda x: torch_or(x).cat([x, x], -2),
    "cat_empty": lambda x: torch_or(x).cat([x, x[:0]]),
    "cat_1d_empty": lambda x: torch_or(x).cat([x, torch_or(x).tensor([])]),
    "hstack": lambda x: torch_or(x).hstack([x, x]),
    "dstack": lambda x: torch_or(x).dstack([x[0], x[0]]),
    "column_stack": lambda x: torch_or(x).column_stack([x[0, 0], x[1, 0]]),
    "atleast_3d": lambda x: torch_or(x).atleast_3d(x[0, 0]),
    "gather_neg": lambda x: x.gather(-1, torch_or(x).zeros(3, 4, 1, dtype=torch_or(x).int64)),
    "take_along":
        lambda x: torch_or(x).take_along_dim(
            x, torch_or(x).zeros(1, 1, 1, dtype=torch_or(x).int64), 2),
    "index_select_neg": lambda x: x.index_select(-1, torch_or(x).tensor([1])),
    "masked_select": lambda x: x.masked_select(x > 10),
    "where_1arg": lambda x: torch_or(x).where(x > 20)[0],
    "nonzero_tuple": lambda x: (x > 20).nonzero(as_tuple=True)[1],
    "unfold": lambda x: x.unfold(1, 2, 1),
    "as_strided": lambda x: x.as_strided((2, 2), (1, 2)),
    "view_as_dtype": lambda x: x.float().view(torch_or(x).int32),
    "contiguous_T": lambda x: x.mT.contiguous(),
    "expand_as": lambda x: x[:, :1].expand_as(x),
    "broadcast_to": lambda x: torch_or(x).broadcast_to(x[0], (2, 4, 2)),
    "reshape_as": lambda x: x.reshape_as(x.transpose(0, 1)),
    "ravel": lambda x: x.mT.ravel(),
    "squeeze_all": lambda x: x[:1, :1].squeeze(),
    "select_neg": lambda x: x.select(-1, -1),
    "select_oob": lambda x: x.select(0, 3),
    "resize_": lambda x: x.clone().resize_(2, 3),
    "split_with_sizes": lambda x: x.split_with_sizes([2, 2], 1)[0],
    "tensor_split": lambda x: x.tensor_split(3, 1)[1],
    "tensor_split_idx": lambda x: x.tensor_split([1, 3], 1)[2],
    "hsplit": lambda x: x.hsplit(2)[1],
    "vsplit_bad": lambda x: x.vsplit(2)[1],
    "dsplit": lambda x: x.dsplit(2)[0],
    "swapaxes": lambda x: x.swapaxes(0, 1),
}


def _outcome(lib, name):
    x = lib.arange(24).reshape(3, 4, 2)
    return outcome(lib, lambda: CASES[name](x), SWEEP_ERRORS + (IndexError, ValueError),
                   shape=True)


@requires_torch
@pytest.mark.parametrize("name", sorted(CASES))
def test_shape_op_matches_torch(name):
    assert_same_outcomes([(name, lambda lib: _outcome(lib, name))])
