"""Eq. (4): the cost term of the search loss (Eq. 3), for FLOPs or latency."""
import math

import torch

COST_LOSS_MODES = ('eq4_signed', 'abs', 'hinge')


def cost_loss(pred: torch.Tensor, target: float,
              mode: str = 'abs') -> torch.Tensor:
    """``(Cost_pred - Cost_target) / Cost_target`` (Eq. 4) and its variants.

    Args:
        pred: The predicted cost, a differentiable scalar (FLOPs_pred(alpha,
            beta) or the predicted latency; the unit only has to match the
            target's).
        target: The target (same unit), finite and > 0.
        mode: 'eq4_signed' is Eq. (4) as printed: its gradient has the same
            sign whatever the prediction is, so it always pushes the cost down
            and a target is never honoured (``docs/design.md``); 'abs' pulls
            toward the target from both sides (``|Eq. 4|``); 'hinge'
            penalises only exceeding it (``max(Eq. 4, 0)``).
    """
    if not math.isfinite(target) or target <= 0:
        raise ValueError(f'target must be finite and > 0, got {target}')
    if mode not in COST_LOSS_MODES:
        raise ValueError(f'mode must be one of {COST_LOSS_MODES}, got '
                         f'{mode!r}')
    ratio = (pred - target) / target
    if mode == 'abs':
        return ratio.abs()
    if mode == 'hinge':
        return ratio.clamp(min=0)
    return ratio
