"""Eq. (4): the cost term of the search loss (Eq. 3), for FLOPs or latency."""
import math

import torch

FLOPS_LOSS_MODES = ('eq4_signed', 'abs', 'hinge')


def flops_loss(flops_pred: torch.Tensor, flops_target: float,
               mode: str = 'abs') -> torch.Tensor:
    """``(FLOPs_pred - FLOPs_target) / FLOPs_target`` (Eq. 4) and its variants.

    Args:
        flops_pred: FLOPs_pred(alpha, beta), a differentiable scalar (or the
            predicted latency; the unit only has to match the target's).
        flops_target: The target (same unit), finite and > 0.
        mode: 'eq4_signed' is Eq. (4) as printed: its gradient has the same
            sign whatever FLOPs_pred is, so it always pushes the cost down and
            a target is never honoured (``docs/design.md``); 'abs' pulls
            toward the target from both sides (``|Eq. 4|``); 'hinge'
            penalises only exceeding it (``max(Eq. 4, 0)``).
    """
    if not math.isfinite(flops_target) or flops_target <= 0:
        raise ValueError(f'flops_target must be finite and > 0, got '
                         f'{flops_target}')
    if mode not in FLOPS_LOSS_MODES:
        raise ValueError(f'mode must be one of {FLOPS_LOSS_MODES}, got '
                         f'{mode!r}')
    ratio = (flops_pred - flops_target) / flops_target
    if mode == 'abs':
        return ratio.abs()
    if mode == 'hinge':
        return ratio.clamp(min=0)
    return ratio
