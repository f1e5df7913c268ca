"""A per-candidate cost table and the differentiable cost of §3.3.2 (Eq. 3-4).

One table holds the cost of every candidate op of every backbone block and of
every attention candidate on the head's feature, plus the cost of what is not
searched, in one unit: paper-convention FLOPs (``flops.py`` builds it)
or measured latency in ms (``latency_table.py`` builds it from a lookup
table). :meth:`CostTable.predict` is ``FLOPs_pred(alpha, beta)`` of §3.3.2
for either unit, in one of two pricings:

* ``'expected'`` (the paper): the softmax(alpha)-weighted sum of each block's
  op costs (Eq. 1's weights) plus ``attention_scale`` times the
  Eq. (2)-weighted sum of attention costs. Since Eq. (2)'s weights sum to one
  over *all* layers, this prices the attention part as one averaged candidate
  while the derived head holds ``topk`` of them (4 in the paper).
* ``'derived'``: the value is the exact cost of the network §3.3.3 would
  derive now (argmax op per block, the top-k attentions), so the loss sees the
  network the user will get; the gradient is the straight-through gradient of
  the expected cost with the attention term scaled by ``topk`` (the derived
  head holds k candidates, so k * softmax(beta) is the expected number of times
  each cell is chosen, to first order). This is what makes a target honoured
  (``docs/design.md``, "Pricing the derived network").
"""
from dataclasses import dataclass
from typing import Optional, Tuple

import torch

from ..space.arch_spec import ArchSpec
from ..space.attention_space import attention_weights

PRICINGS = ('expected', 'derived')


def _hard_topk(weights: torch.Tensor, k: int) -> torch.Tensor:
    """A 0/1 mask of the ``k`` largest entries of ``weights`` (any shape)."""
    flat = weights.flatten()
    mask = torch.zeros_like(flat)
    mask[flat.topk(k).indices] = 1.0
    return mask.view_as(weights)


def _hold_unsettled_cut(beta: torch.Tensor, table: torch.Tensor, k: int,
                        derived: float, target: float) -> torch.Tensor:
    """Eq. (2)'s weights, with the k-th and (k+1)-th cells' logits detached
    when ``target`` lies strictly between ``derived`` (the cost with the
    current top-k) and the cost with those two swapped."""
    flat = beta.flatten()
    costs = table.expand_as(beta).flatten()
    order = flat.detach().argsort(descending=True)
    kth, nxt = int(order[k - 1]), int(order[k])
    swapped = derived - float(costs[kth]) + float(costs[nxt])
    if not min(derived, swapped) < target < max(derived, swapped):
        return attention_weights(beta)
    held = torch.zeros_like(flat, dtype=torch.bool)
    held[[kth, nxt]] = True
    return torch.where(held, flat.detach(), flat).softmax(0).view_as(beta)


@dataclass
class CostTable:
    """Cost of every candidate at one input size, in one unit.

    Attributes:
        input_size: (H, W) the table was built for.
        fixed: Cost of everything that is not searched.
        backbone: (17, ops) cost of op j at block i, or None if not
            searched (ops: 6, and the user ops of the space).
        attention: (C,) cost of Att1-AttC on the head's feature, or None
            (C: 13, and the user attentions of the space).
        num_layers: Attention layers in the searched head.
        attention_scale: Multiplies the attention term of the 'expected'
            pricing; 1 is the paper's weighted sum.
        unit: 'FLOPs' (multiply-adds, paper convention) or 'ms'.
    """
    input_size: Tuple[int, int]
    fixed: float
    backbone: Optional[torch.Tensor] = None
    attention: Optional[torch.Tensor] = None
    num_layers: int = 0
    attention_scale: float = 1.0
    unit: str = 'FLOPs'

    def predict(self,
                alpha: Optional[torch.Tensor],
                beta: Optional[torch.Tensor],
                pricing: str = 'expected',
                topk: int = 4,
                target: Optional[float] = None) -> torch.Tensor:
        """Cost_pred(alpha, beta) (§3.3.2), differentiable in both.

        Args:
            alpha: (17, ops) backbone logits, or None (backbone fixed).
            beta: (L, C) attention logits, or None (head fixed).
            pricing: 'expected' (the paper) or 'derived' (see module doc).
            topk: Attentions the derived head keeps ('derived' only).
            target: The cost target ('derived' only; same unit). When the
                target lies between the derived network and the one with
                the k-th and (k+1)-th attentions swapped, no swap of that
                cut can meet it, and a loss pulling toward the target would
                flip the two back and forth until their logits tie (issue
                20): the two cells' logits then get no cost gradient
                (``docs/design.md``, "A cut the target cannot settle").
        """
        if pricing not in PRICINGS:
            raise ValueError(f'pricing must be one of {PRICINGS}, got '
                             f'{pricing!r}')
        ref = alpha if alpha is not None else beta
        total = torch.tensor(self.fixed, dtype=torch.float32,
                             device=None if ref is None else ref.device)
        if self.backbone is not None:
            if alpha is None:
                raise ValueError('alpha: the table prices a searched backbone'
                                 ' but alpha is None')
            table = self.backbone.to(alpha.device)
            probs = alpha.softmax(-1)
            soft = (probs * table).sum()
            if pricing == 'derived':
                hard = table.gather(-1, probs.argmax(-1, keepdim=True)).sum()
                soft = soft + (hard - soft).detach()
            total = total + soft
        if self.attention is not None:
            if beta is None:
                raise ValueError('beta: the table prices a searched head but '
                                 'beta is None')
            table = self.attention.to(beta.device)
            weights = attention_weights(beta)
            if pricing == 'derived':
                if not isinstance(topk, int) or isinstance(topk, bool) or \
                        not 1 <= topk <= weights.numel():
                    raise ValueError(f'topk must be an int in 1..'
                                     f'{weights.numel()}, got {topk!r}')
                hard = (_hard_topk(weights.detach(), topk) * table).sum()
                if target is not None and topk < weights.numel():
                    weights = _hold_unsettled_cut(
                        beta, table, topk, float(total.detach() + hard),
                        target)
                soft = topk * (weights * table).sum()
                total = total + soft + (hard - soft).detach()
            else:
                total = total + self.attention_scale * (weights * table).sum()
        return total

    def network_cost(self, spec: ArchSpec) -> float:
        """Cost of the fixed network ``spec`` describes (the sum rule)."""
        total = float(self.fixed)
        if self.backbone is not None:
            if spec.backbone is None:
                raise ValueError('spec: has no backbone code but the backbone'
                                 ' is searched')
            total += sum(float(self.backbone[i, op - 1])
                         for i, op in enumerate(spec.backbone))
        if self.attention is not None:
            total += sum(float(self.attention[a - 1])
                         for layer in spec.attention for a in layer)
        return total
