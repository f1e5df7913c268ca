"""Eq. (1): a backbone block as a softmax(alpha)-weighted mixture of its ops."""
from typing import Iterable

import torch
import torch.nn as nn


class MixedOp(nn.ModuleList):
    """The candidate ops of one block, run in parallel and mixed.

    ``x_i = sum_j softmax(alpha_i)_j * Op_j(x_{i-1})`` (Eq. 1). The weights
    are computed once per forward by the owner of ``alpha`` and passed in.
    """

    def __init__(self, ops: Iterable[nn.Module]) -> None:
        super().__init__(ops)

    def forward(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        """x: (B, C_in, H, W); weights: (num_ops,) summing to one."""
        return sum(w * op(x) for w, op in zip(weights, self))
