"""Eq. (1): a backbone block as a softmax(alpha)-weighted mixture of its ops."""
from typing import Iterable, Optional, Sequence

import torch
import torch.nn as nn


class MixedOp(nn.ModuleList):
    """The candidate ops of one block, run in parallel and mixed.

    ``x_i = sum_j w_j * Op_j(x_{i-1})`` with ``w = softmax(alpha_i)`` (Eq. 1).
    The weights are computed once per forward by the owner of ``alpha`` (in
    the search mode it chose, :mod:`.search_modes`) and passed in; a
    sampled-path mode also passes the ops it drew, and only those run.
    """

    def __init__(self, ops: Iterable[nn.Module]) -> None:
        super().__init__(ops)

    def forward(self, x: torch.Tensor, weights: torch.Tensor,
                active: Optional[Sequence[int]] = None) -> torch.Tensor:
        """x: (B, C_in, H, W); weights: (num_ops,); active: the ops to run
        (a sampled mode's draw), or None to run all."""
        if active is not None:
            return sum(weights[j] * self[j](x) for j in active)
        return sum(w * op(x) for w, op in zip(weights, self))
